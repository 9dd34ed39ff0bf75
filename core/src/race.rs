//! The one race of a body against its scope's cancellation and a deadline:
//! what [`Run`](crate::Run), a call waiting for its key, the tower layer's
//! handler and its response body all do between two polls of their body.
//!
//! The body is polled first (biased), so finished work is never thrown
//! away. Then, unless a [`shield`](crate::shield) inside the body is still
//! running (it marks the scope being polled around it, and each race
//! passes the mark on to the one around it), the scope: a recorded cause ends the race; otherwise the task's
//! waker is parked in the node, which the cancel wakes. Then the deadline:
//! its timer is made only when the body first waits (a body that is ready
//! at once pays for none), and when it fires the scope is cancelled with
//! [`Cause::Deadline`]. A cooperative race never ends its body: it only
//! cancels the scope at the deadline, for the body to notice.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use crate::cause::{Cancelled, Cause};
use crate::link::Link;
use crate::node::Node;

/// What a race watches besides its body.
pub(crate) struct Watch {
    /// A deadline no timer waits for yet.
    at: Option<Instant>,
    /// Boxed: tokio's `Sleep` is large, and every call's future would carry
    /// it even without a deadline.
    sleep: Option<Pin<Box<Sleep>>>,
    /// The task's waker is parked in the node (`Node::park`).
    parked: bool,
}

/// How a race ended its body (the error is [`cancelled`]'s, made by the
/// caller: the hot path carries one byte, not the error).
#[derive(Clone, Copy)]
pub(crate) struct Ended {
    /// This race cancelled the scope itself (its deadline): the cancel is
    /// complete, and the scope's guard has nothing left to record.
    pub(crate) by_deadline: bool,
}

impl Watch {
    pub(crate) const fn new() -> Watch {
        Watch {
            at: None,
            sleep: None,
            parked: false,
        }
    }

    /// Sets the deadline (armed, not yet waited for).
    pub(crate) fn set_deadline(&mut self, at: Option<Instant>) {
        self.at = at;
    }

    /// The deadline, if any and not yet passed.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.at
            .or_else(|| self.sleep.as_ref().map(|sleep| sleep.deadline()))
    }

    /// Polls `body`, then watches `node` and the deadline; `link` names
    /// the scope's key in a deadline's event. See the module docs.
    #[inline(always)]
    pub(crate) fn race<T>(
        &mut self,
        node: &Node,
        link: Option<&Link>,
        cooperative: bool,
        cx: &mut Context<'_>,
        body: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<Result<T, Ended>> {
        node.clear_shielded();
        let polled = body(cx);
        if let Poll::Ready(out) = polled {
            return Poll::Ready(Ok(out));
        }
        let shielded = node.is_shielded();
        if shielded {
            // The enclosing race must not end its body either.
            crate::ambient::mark_current_shielded();
        }
        let ends = !cooperative && !shielded;
        if ends {
            // Already cancelled: return without parking (a lock and a
            // waker clone, and the same to unpark).
            if node.recorded_cause().is_some() {
                return Poll::Ready(Err(Ended { by_deadline: false }));
            }
            self.parked = true;
            if node.park(cx.waker()).is_some() {
                return Poll::Ready(Err(Ended { by_deadline: false }));
            }
        }
        if let Some(at) = self.at.take() {
            // The body waits: now the deadline needs a timer.
            self.sleep = Some(timer(at));
        }
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                self.sleep = None;
                expire(node, link);
                if ends {
                    return Poll::Ready(Err(Ended { by_deadline: true }));
                }
            }
        }
        Poll::Pending
    }

    /// For a body that may be ready again and again (a response body's
    /// frames): `Some` if the scope is cancelled or its deadline has
    /// passed, checked before each poll, so an endless ready stream still
    /// ends.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn check(&mut self, node: &Node, link: Option<&Link>) -> Option<Cancelled> {
        if node.recorded_cause().is_some() {
            return Some(cancelled(node));
        }
        let at = self.deadline()?;
        if Instant::now() < at {
            return None;
        }
        self.at = None;
        self.sleep = None;
        expire(node, link);
        Some(cancelled(node))
    }

    /// Forgets the waker parked in `node`, so that the node does not keep
    /// the task alive: call when the race is over or dropped.
    #[inline]
    pub(crate) fn unpark(&mut self, node: &Node) {
        if self.parked {
            self.parked = false;
            node.unpark();
        }
    }
}

/// The timer of a deadline, made when the body first waits (a body ready
/// at once needs no runtime for its deadline).
#[cold]
fn timer(at: Instant) -> Pin<Box<Sleep>> {
    crate::needs_tokio::runtime(
        "a deadline (`Scope::run_timeout`, `Scope::run_deadline`, `#[scoped_cancel(timeout = ..)]`, `shield`)",
        "with time enabled, for its timer",
    );
    Box::pin(tokio::time::sleep_until(at))
}

/// The deadline passed: cancels the scope with [`Cause::Deadline`].
#[cold]
fn expire(node: &Node, link: Option<&Link>) {
    if node.cancel_with(Cause::Deadline) {
        crate::observe::cancelled(node, Cause::Deadline, || {
            link.and_then(|link| link.key_text(node))
        });
    }
}

/// The error for a cancelled scope: why it was cancelled, looking through
/// [`Cause::Parent`] to the ancestor whose cancel reached it.
#[cold]
pub(crate) fn cancelled(node: &Node) -> Cancelled {
    let (cause, reason) = node.root_cause().unwrap_or((Cause::Parent, None));
    Cancelled::with_reason(cause, reason)
}
