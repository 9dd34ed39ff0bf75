//! Adopted nodes: a child of a foreign tokio-util token, which code that
//! never calls ours can cancel.
//!
//! The node's own tokio-util token is a child of the foreign one, so
//! waiters on it follow the foreign token directly, and a bridge carries
//! the foreign cancel into our tree: a wait on the node's token, polled
//! once with a waker that, when woken (on the cancelling thread, after
//! tokio-util has released its locks), cancels the node with
//! [`Cause::Parent`]. No task and no timer. The bridge is dropped with the
//! node's listeners when the node is cancelled, whoever cancels it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::{Node, ADOPTED, CT_MADE};
use crate::cause::Cause;
use crate::deadline::DeadlineCell;
use crate::site::Origin;

/// The registration an adopted node keeps on its token until it is cancelled.
pub(super) struct Bridge {
    _wait: Pin<Box<WaitForCancellationFutureOwned>>,
}

/// What the bridge's waker holds: a weak way back (the node owns the wait,
/// which owns the waker).
struct Wakeup(Weak<Node>);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(node) = self.0.upgrade() {
            // `cause` cancels the node (`Parent`) if its token is cancelled.
            node.cause();
        }
    }
}

impl Node {
    /// A child of the foreign token `source`, with the bridge that cancels
    /// it (and so its descendants) when `source` is cancelled.
    pub(crate) fn adopted(source: &CancellationToken, origin: Origin) -> Arc<Node> {
        let ct = source.child_token();
        let node = Node::build(origin, DeadlineCell::none(), None, ADOPTED | CT_MADE);
        let mut wait = Box::pin(ct.clone().cancelled_owned());
        let _ = node.ct.set(ct);
        let waker = Waker::from(Arc::new(Wakeup(Arc::downgrade(&node))));
        if wait
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
        {
            node.cancel_with(Cause::Parent);
            return node;
        }
        let mut shared = node.lock_shared();
        if node.cause.get().is_none() {
            let more = shared.more.get_or_insert_with(Default::default);
            more.rare().bridge = Some(Bridge { _wait: wait });
        }
        drop(shared);
        node
    }
}
