//! Where a scope was created and when: the data leak reports print.
//!
//! Creation time uses a coarse monotonic clock (`CLOCK_MONOTONIC_COARSE` on
//! Linux, a few ms of resolution) read without touching shared state: a full
//! `Instant::now()` per scope is a large share of a keyed call's cost
//! (BENCHMARKS.md), and ages in leak reports are seconds, not nanoseconds.

#[cfg(feature = "metrics")]
pub(crate) mod handles;

use std::panic::Location;
use std::time::Duration;

/// A static record of one annotated fn: its name, file and line.
///
/// `#[scoped_cancel]` emits one per fn, the way `tracing` emits callsites;
/// every scope of that fn points at it, so scopes carry no strings of their own.
#[derive(Debug)]
pub struct Site {
    name: &'static str,
    file: &'static str,
    line: u32,
    /// The site's metric handles, registered on first use (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: std::sync::OnceLock<handles::Handles>,
}

impl Site {
    /// A site record (used by the macro's generated `static`).
    pub const fn new(name: &'static str, file: &'static str, line: u32) -> Self {
        Site {
            name,
            file,
            line,
            #[cfg(feature = "metrics")]
            metrics: std::sync::OnceLock::new(),
        }
    }
}

/// Who created a scope: an annotated fn's site, or a caller location.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin {
    Site(&'static Site),
    Caller {
        name: &'static str,
        location: &'static Location<'static>,
    },
}

impl Origin {
    #[track_caller]
    pub(crate) fn caller(name: &'static str) -> Origin {
        Origin::Caller {
            name,
            location: Location::caller(),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Origin::Site(site) => site.name,
            Origin::Caller { name, .. } => name,
        }
    }

    pub(crate) fn file(&self) -> &'static str {
        match self {
            Origin::Site(site) => site.file,
            Origin::Caller { location, .. } => location.file(),
        }
    }

    pub(crate) fn line(&self) -> u32 {
        match self {
            Origin::Site(site) => site.line,
            Origin::Caller { location, .. } => location.line(),
        }
    }
}

/// A creation time on the coarse clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp(coarsetime::Instant);

impl Stamp {
    pub(crate) fn now() -> Stamp {
        // `now()` would also store into coarsetime's global cache: a shared
        // cache line written by every thread. This variant only reads the clock.
        Stamp(coarsetime::Instant::now_without_cache_update())
    }

    pub(crate) fn age(&self) -> Duration {
        let now = coarsetime::Instant::now_without_cache_update();
        if now < self.0 {
            return Duration::ZERO;
        }
        now.duration_since(self.0).into()
    }
}
