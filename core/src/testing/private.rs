//! What `#[scoped_cancel::test]` expands to call: re-exported as
//! `__private::testing`. No semver promise.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Builder;

use super::check::{Background, LeakCheck, DEFAULT_GRACE};

/// One test's runtime settings, from the attribute's arguments.
#[derive(Debug)]
pub struct Test {
    builder: Builder,
    grace: Duration,
}

impl Test {
    /// A test on the runtime `builder` makes. The macro writes
    /// `Builder::new_multi_thread()` in the user's crate for
    /// `flavor = "multi_thread"`, so that flavor needs tokio's
    /// `rt-multi-thread` feature there (as `#[tokio::test]` does) instead
    /// of this library forcing it on every user.
    pub fn new(builder: Builder) -> Test {
        Test {
            builder,
            grace: DEFAULT_GRACE,
        }
    }

    /// `flavor = "current_thread"` (the default).
    pub fn current_thread() -> Test {
        Test::new(Builder::new_current_thread())
    }

    /// `worker_threads = N` (validated by the macro: multi-thread only, N > 0).
    pub fn worker_threads(mut self, n: usize) -> Test {
        self.builder.worker_threads(n);
        self
    }

    /// `grace = "..."`, converted by the macro.
    pub fn grace_nanos(mut self, nanos: u64) -> Test {
        self.grace = Duration::from_nanos(nanos);
        self
    }

    /// Builds the test's runtime, runs the body on it with a fresh
    /// collector attached, and — if the body succeeded — waits for every
    /// scope and task to end, panicking with the report otherwise.
    ///
    /// A panicking body unwinds through here unchanged (the runtime is shut
    /// down in the background on the way), and a failed `Result` is
    /// returned without a leak check: the test fails on its own error.
    #[track_caller]
    pub fn run<F>(self, body: F) -> F::Output
    where
        F: Future,
        F::Output: Outcome,
    {
        let mut builder = self.builder;
        builder.enable_all();
        let check = LeakCheck::new().grace(self.grace);
        let rt =
            Background(Some(check.instrument(&mut builder).build().expect(
                "#[scoped_cancel::test]: failed to build the tokio runtime",
            )));
        let out = check.block_on(rt.get(), body);
        if out.failed() {
            return out;
        }
        if let Err(report) = check.wait(rt.get()) {
            drop(rt);
            panic!("{report}");
        }
        out
    }
}

/// A test fn's return type: `()` or a `Result`.
#[diagnostic::on_unimplemented(
    message = "`#[scoped_cancel::test]` fns return `()` or a `Result`, not `{Self}`",
    label = "not `()` or `Result<T, E>`"
)]
pub trait Outcome {
    /// `true` for an `Err`: the test fails on it, and no leak check runs.
    fn failed(&self) -> bool;
}

impl Outcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}
