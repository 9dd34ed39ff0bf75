//! The builder's durations, checked once at `connect`: nonsense is refused
//! with a message, the rest saturates at [`FAR`], so that no lease
//! arithmetic can overflow or truncate without saying so.

use std::time::Duration;

/// The longest span anything here is counted in: 100 years. Longer
/// leases and command timeouts mean the same as this one (a shutdown's
/// grace is passed on as it is: the local registry takes any).
pub(crate) const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What the builder was given (`None`: the default).
pub(crate) struct Asked {
    pub(crate) namespace: String,
    pub(crate) lease: Duration,
    pub(crate) margin: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
}

/// Checked settings: every duration at most [`FAR`], `margin < lease`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) namespace: String,
    /// Rounded up to whole milliseconds: Redis counts leases in ms, and
    /// the local clock must count the same lease Redis does.
    pub(crate) lease: Duration,
    pub(crate) lease_ms: u64,
    pub(crate) margin: Duration,
    pub(crate) timeout: Duration,
    /// `min(lease / 3, (lease − margin) / 2)`: at least two renewal rounds
    /// before a scope's local lease ends.
    pub(crate) renew_every: Duration,
    /// A cancel marker lives two leases.
    pub(crate) marker_ms: u64,
}

const MS: Duration = Duration::from_millis(1);

impl Settings {
    pub(crate) fn check(asked: Asked) -> Result<Settings, String> {
        if asked.namespace.chars().all(|c| c == '}') {
            return Err("the namespace must not be empty: it is the hash tag that keeps a namespace in one Redis Cluster slot".into());
        }
        if asked.lease < MS {
            return Err(format!(
                "lease {:?} is shorter than 1 ms, the unit Redis counts leases in",
                asked.lease
            ));
        }
        let lease_ms = asked
            .lease
            .min(FAR)
            .as_nanos()
            .div_ceil(1_000_000)
            .try_into()
            .unwrap_or(u64::MAX);
        let lease = Duration::from_millis(lease_ms);
        let margin = asked.margin.unwrap_or(lease / 5);
        if margin >= lease {
            return Err(format!(
                "margin {margin:?} must be shorter than the lease ({lease:?}): the local clock cancels at lease − margin"
            ));
        }
        if lease - margin < MS {
            return Err(format!(
                "lease {lease:?} minus margin {margin:?} leaves less than 1 ms to renew in"
            ));
        }
        let timeout = asked
            .timeout
            .unwrap_or((lease / 2).min(Duration::from_secs(5)))
            .min(FAR);
        if timeout.is_zero() {
            return Err("command_timeout must be longer than zero".into());
        }
        Ok(Settings {
            namespace: asked.namespace,
            lease,
            lease_ms,
            margin,
            timeout,
            renew_every: (lease / 3).min((lease - margin) / 2),
            marker_ms: lease_ms.saturating_mul(2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(lease: Duration, margin: Option<Duration>, timeout: Option<Duration>) -> Asked {
        Asked {
            namespace: "ns".into(),
            lease,
            margin,
            timeout,
        }
    }

    #[test]
    fn nonsense_is_refused_with_a_message() {
        let s = Duration::from_secs;
        for (bad, says) in [
            (asked(Duration::ZERO, None, None), "shorter than 1 ms"),
            (
                asked(Duration::from_micros(999), None, None),
                "shorter than 1 ms",
            ),
            (asked(s(10), Some(s(10)), None), "margin"),
            (asked(s(10), Some(Duration::MAX), None), "margin"),
            (
                asked(MS * 2, Some(Duration::from_micros(1500)), None),
                "less than 1 ms",
            ),
            (asked(s(10), None, Some(Duration::ZERO)), "command_timeout"),
            (
                Asked {
                    namespace: "}}".into(),
                    ..asked(s(10), None, None)
                },
                "namespace",
            ),
        ] {
            let err = Settings::check(bad).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn huge_durations_saturate_and_the_arithmetic_stays_in_range() {
        let max = Settings::check(asked(Duration::MAX, None, Some(Duration::MAX))).unwrap();
        assert_eq!(max.lease, FAR);
        assert_eq!(max.lease_ms, FAR.as_millis() as u64);
        assert_eq!(max.margin, FAR / 5);
        assert_eq!(max.timeout, FAR);
        assert_eq!(max.marker_ms, 2 * max.lease_ms);
        assert_eq!(max.renew_every, FAR / 3);
        // A margin just below a huge lease is valid.
        let tight = Settings::check(asked(Duration::MAX, Some(FAR - MS), None)).unwrap();
        assert_eq!(tight.lease - tight.margin, MS);
        assert_eq!(tight.renew_every, MS / 2);
    }

    #[test]
    fn defaults_and_rounding() {
        let d = Settings::check(asked(Duration::from_secs(9), None, None)).unwrap();
        assert_eq!(d.margin, Duration::from_millis(1800));
        assert_eq!(d.timeout, Duration::from_millis(4500));
        assert_eq!(d.renew_every, Duration::from_secs(3));
        // Whole milliseconds, rounded up: Redis never expires earlier than
        // the lease the local clock counts.
        let r = Settings::check(asked(Duration::from_micros(1500), None, None)).unwrap();
        assert_eq!((r.lease, r.lease_ms), (Duration::from_millis(2), 2));
        // A large margin renews more often than lease / 3.
        let m = Settings::check(asked(
            Duration::from_secs(10),
            Some(Duration::from_secs(8)),
            None,
        ))
        .unwrap();
        assert_eq!(m.renew_every, Duration::from_secs(1));
    }
}
