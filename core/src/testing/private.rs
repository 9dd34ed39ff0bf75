//! What `#[scoped_cancel::test]` expands to call: re-exported as
//! `__private::testing`. No semver promise.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::Builder;

use super::check::{Background, LeakCheck, DEFAULT_GRACE};
use crate::dump::ScopeDump;

/// One test's runtime settings, from the attribute's arguments.
#[derive(Debug)]
pub struct Test {
    builder: Builder,
    grace: Duration,
    timeout: Option<Duration>,
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
            timeout: None,
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

    /// `timeout = "..."`, converted by the macro.
    pub fn timeout_nanos(mut self, nanos: u64) -> Test {
        self.timeout = Some(Duration::from_nanos(nanos));
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
        let out = match self.timeout {
            None => check.block_on(rt.get(), body),
            Some(timeout) => match check.block_on(rt.get(), within(timeout, &check, body)) {
                Ok(out) => out,
                Err(tree) => {
                    drop(rt);
                    panic!(
                        "test timed out: still running after its timeout of {timeout:?} \
                         (`timeout = ..`; `grace = ..` is the wait for scopes after the body \
                         returns). Its scopes, as they stood:\n{tree}"
                    );
                }
            },
        };
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

/// Runs `body` for at most `timeout` on the runtime's clock; at the
/// timeout, the dump of the test's scopes, taken while the body still
/// holds them (it is dropped afterwards, with the runtime).
async fn within<F: Future>(
    timeout: Duration,
    check: &LeakCheck,
    body: F,
) -> Result<F::Output, ScopeDump> {
    let mut body = pin!(body);
    let mut sleep = pin!(tokio::time::sleep(timeout));
    poll_fn(|cx| {
        if let Poll::Ready(out) = body.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(ScopeDump::collector(check.collector()))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
