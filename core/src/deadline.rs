//! `DeadlineCell`: a scope's effective deadline in one atomic word.
//!
//! A deadline is stored as nanoseconds since a process-wide epoch, with
//! `u64::MAX` for "none", so that "the earlier of two" is an integer `min`,
//! a child copies its parent's with one load, and a [`Run`](crate::Run)
//! lowers it with one store. The epoch lies well before any instant
//! this process will see (a paused tokio clock starts at the real time its
//! runtime was built), and 2^64 ns is 584 years: later deadlines are kept
//! as the latest representable one.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::AtomicU64;

const NONE: u64 = u64::MAX;

/// The earliest deadline of a scope and its ancestors.
pub(crate) struct DeadlineCell(AtomicU64);

impl DeadlineCell {
    pub(crate) fn none() -> DeadlineCell {
        DeadlineCell(AtomicU64::new(NONE))
    }

    /// A cell for a child: the same deadline as this one has now.
    pub(crate) fn inherit(&self) -> DeadlineCell {
        DeadlineCell(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }

    /// Makes the deadline `at` unless it is already earlier. Only the one
    /// `Run` that owns the scope writes here (a `Scope` runs once), so a
    /// load and a store do: no read-modify-write.
    pub(crate) fn lower(&self, at: Instant) {
        let at = encode(at);
        if at < self.0.load(Ordering::Relaxed) {
            self.0.store(at, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self) -> Option<Instant> {
        match self.0.load(Ordering::Relaxed) {
            NONE => None,
            nanos => Some(decode(nanos)),
        }
    }
}

/// The instant that is 0 in the encoding: a year (or less, where the
/// monotonic clock cannot go back that far) before the first deadline.
fn epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let now = std::time::Instant::now();
        [86_400 * 365, 86_400, 3_600, 60, 1]
            .into_iter()
            .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
            .unwrap_or(now)
    })
}

/// `at` as nanoseconds since the epoch (kept in one word by `Run` too).
pub(crate) fn encode(at: Instant) -> u64 {
    let since = at.into_std().saturating_duration_since(epoch());
    u64::try_from(since.as_nanos()).map_or(NONE - 1, |nanos| nanos.min(NONE - 1))
}

pub(crate) fn decode(nanos: u64) -> Instant {
    let epoch = epoch();
    // Never a panic, even where `Instant` cannot reach 584 years ahead.
    let at = epoch
        .checked_add(Duration::from_nanos(nanos))
        .or_else(|| epoch.checked_add(Duration::from_secs(86_400 * 365 * 30)))
        .unwrap_or(epoch);
    Instant::from_std(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_the_earlier() {
        let now = Instant::now();
        let cell = DeadlineCell::none();
        assert_eq!(cell.get(), None);
        cell.lower(now + Duration::from_secs(5));
        assert_eq!(cell.get(), Some(now + Duration::from_secs(5)));
        cell.lower(now + Duration::from_secs(9));
        assert_eq!(cell.get(), Some(now + Duration::from_secs(5)));
        let child = cell.inherit();
        child.lower(now + Duration::from_millis(1));
        assert_eq!(child.get(), Some(now + Duration::from_millis(1)));
        assert_eq!(cell.get(), Some(now + Duration::from_secs(5)));
    }

    #[test]
    fn far_deadlines_are_kept_as_the_latest_one() {
        let cell = DeadlineCell::none();
        let far = Instant::now() + Duration::from_secs(u64::from(u32::MAX) * 1_000);
        cell.lower(far);
        let kept = cell.get().expect("a deadline");
        assert!(kept > Instant::now() + Duration::from_secs(86_400 * 365 * 500));
    }

    #[test]
    fn passed_deadlines_survive_encoding() {
        let now = Instant::now();
        let cell = DeadlineCell::none();
        let past = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
        cell.lower(past);
        assert_eq!(cell.get(), Some(past));
    }
}
