//! The shared node behind every token handle: tokio-util's token plus our
//! cause, origin, age and deadline. The bottom layer of the crate: it
//! imports none of the public handles (`Token`, `Scope`, `Registry`), which
//! are built on it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, PoisonError};
use std::task::Waker;

use tokio_util::sync::CancellationToken;

use crate::cause::{Cause, CauseCell};
use crate::deadline::DeadlineCell;
use crate::site::{Origin, Stamp};
use crate::sync::{AtomicBool, AtomicU8, Mutex, MutexGuard};

mod children;

use children::Children;

/// The shared part of one token: our cause, origin, age and deadline, and
/// a tokio-util token when something needs one.
///
/// # Our own tree, tokio-util's token on demand
///
/// A root, and a child of a root or of another such child (a *managed*
/// node), is cancelled only through [`Node::cancel_with`]: its own scope's
/// end, a `cancel`, or its parent's `cancel_with`, which reaches it through
/// the parent's list of children. Its cause cell alone then says whether it
/// is cancelled, and its tokio-util token is made only when something needs
/// one: a waiter through [`Token::cancelled`](crate::Token::cancelled), a
/// `CancellationToken` handed out. A [`Run`](crate::Run) waits on it through
/// `shared.waker` (one waker, its own task's). A call whose scope is managed
/// (keyed calls, nested calls, `#[scoped_cancel]` outside any scope,
/// `Scope::root`, children of those) allocates, cancels and frees no
/// tokio-util node at all (BENCHMARKS.md has the instructions this saves).
///
/// An adopted node, and any descendant of one (a *foreign* node), has a
/// tokio-util token from the start: the adopted source can be cancelled by
/// code that never calls ours, and only tokio-util's tree tells its
/// descendants.
///
/// Lost wake-ups and lost children are excluded by a store-then-load on
/// both sides, all `SeqCst`: `cancel_with` records the cause and then reads
/// `flags`; the maker of the token, a registering `Run` or a new child sets
/// its flag and then reads the cause. Of two such pairs at least one side
/// sees the other's store: either the canceller cancels the new token
/// (wakes the waker, cancels the child), or the maker (the `Run`, the new
/// child) sees the cause and acts on it itself. A new child reads the cause
/// under the parent's lock, which the canceller takes to take the list, so
/// a child is either in the list it takes or born cancelled.
pub(crate) struct Node {
    /// The tokio-util token: given at creation (a foreign node, through
    /// `OnceLock::from`), or made on first use (a managed one).
    ct: OnceLock<CancellationToken>,
    cause: CauseCell,
    /// Who can cancel it (see above). A managed node hands out no handle
    /// that can cancel its tokio-util token except through
    /// [`Node::cancel_with`] (children, `cancelled_owned` and `__private`'s
    /// parent handle cannot). Then "cancelled" is "a cause is recorded":
    /// no lock to ask tokio-util, and the token can be made lazily.
    kind: Kind,
    /// `CT_MADE`, `WAITING` and `HAS_CHILDREN`, for a managed node.
    flags: AtomicU8,
    /// Set when the scope that owns this node drops, if a collector recorded
    /// it: the record stays (weak) until the node is gone, and reports skip
    /// it from now on. Fits in the padding after `cause` and `kind`.
    ended: AtomicBool,
    pub(crate) origin: Origin,
    pub(crate) born: Stamp,
    /// The earliest deadline of this scope and its ancestors: copied from
    /// the parent when the node is made, lowered by a [`Run`](crate::Run)
    /// that arms a deadline of its own. One word, so reading it is O(1) at
    /// any depth and a child costs one load.
    pub(crate) deadline: DeadlineCell,
    /// What the `tracing`/`metrics` hooks keep (zero-sized without them).
    pub(crate) observe: crate::observe::NodeState,
    /// A managed node's waiting [`Run`](crate::Run)'s waker and its children.
    shared: Mutex<Shared>,
    /// A managed child's parent, whose list holds it at `slot` until this
    /// node drops (or the parent's cancel takes the list).
    parent: Option<Arc<Node>>,
    /// This node's index in its parent's list (written and read under the
    /// parent's lock). Fits in the padding after the flags.
    slot: AtomicU32,
}

/// Who can cancel a node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No parent: only [`Node::cancel_with`].
    Root,
    /// A child of a root or of another such child: only
    /// [`Node::cancel_with`], its own or its parent's.
    Child,
    /// An adopted token or a descendant of one: also tokio-util's tree.
    Foreign,
}

/// What a managed node keeps under its lock.
#[derive(Default)]
struct Shared {
    /// The waker of the `Run` parked on this node (`WAITING` set).
    waker: Option<Waker>,
    /// The children to cancel with this node (`HAS_CHILDREN` set); boxed,
    /// so a node that never has any pays one word for them.
    children: Option<Box<Children>>,
}

impl Drop for Shared {
    #[inline]
    fn drop(&mut self) {
        // The list's drop out of line: the drop of every node that never
        // had children (most) is then a test, not a loop's prologue.
        if let Some(children) = self.children.take() {
            drop_children(children);
        }
    }
}

#[cold]
#[inline(never)]
fn drop_children(children: Box<Children>) {
    drop(children);
}

/// `flags`: a managed node's tokio-util token exists.
const CT_MADE: u8 = 1;
/// `flags`: a `Run` has put its waker in `shared`.
const WAITING: u8 = 2;
/// `flags`: a child was added to `shared` (or born cancelled).
const HAS_CHILDREN: u8 = 4;

impl Node {
    /// A node for a foreign token (adopted): no deadline of ours above it.
    pub(crate) fn adopted(ct: CancellationToken, origin: Origin) -> Arc<Node> {
        Node::build(Some(ct), Kind::Foreign, origin, DeadlineCell::none(), None)
    }

    /// A node with no parent; its tokio-util token is made on first use.
    pub(crate) fn root(origin: Origin) -> Arc<Node> {
        Node::build(None, Kind::Root, origin, DeadlineCell::none(), None)
    }

    /// A child of `parent`: cancelled with it, and inheriting its deadline.
    pub(crate) fn child_of(parent: &Arc<Node>, origin: Origin) -> Arc<Node> {
        let deadline = parent.deadline.inherit();
        if parent.kind == Kind::Foreign {
            let ct = parent.ct().child_token();
            return Node::build(Some(ct), Kind::Foreign, origin, deadline, None);
        }
        let child = Node::build(None, Kind::Child, origin, deadline, Some(parent.clone()));
        parent.add_child(&child);
        child
    }

    /// A child of `parent`, or a root without one.
    pub(crate) fn under(parent: Option<&Arc<Node>>, origin: Origin) -> Arc<Node> {
        match parent {
            Some(parent) => Node::child_of(parent, origin),
            None => Node::root(origin),
        }
    }

    /// `ct`: the node's token if it is foreign, `None` for a managed one.
    fn build(
        ct: Option<CancellationToken>,
        kind: Kind,
        origin: Origin,
        deadline: DeadlineCell,
        parent: Option<Arc<Node>>,
    ) -> Arc<Node> {
        Arc::new(Node {
            ct: ct.map_or_else(OnceLock::new, OnceLock::from),
            cause: CauseCell::default(),
            kind,
            flags: AtomicU8::new(0),
            ended: AtomicBool::new(false),
            origin,
            born: Stamp::now(),
            deadline,
            observe: Default::default(),
            shared: Mutex::new(Shared::default()),
            parent,
            slot: AtomicU32::new(0),
        })
    }

    fn lock_shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a new managed `child` in this managed node's list, or, if this
    /// node is already cancelled, records `Parent` on the child (born
    /// cancelled: it has no token, waiter or child yet to tell).
    fn add_child(&self, child: &Arc<Node>) {
        let weak = Arc::downgrade(child);
        // Store, then load (see the type's docs), the load under the lock.
        self.flags.fetch_or(HAS_CHILDREN, Ordering::SeqCst);
        let mut shared = self.lock_shared();
        if self.cause.get().is_some() {
            drop(shared);
            child.cause.record(Cause::Parent);
            return;
        }
        let slot = match &mut shared.children {
            Some(children) => children.add(weak),
            None => {
                shared.children = Some(Box::new(Children::new(weak)));
                0
            }
        };
        child.slot.store(slot, Ordering::Relaxed);
    }

    /// Frees the place of the child at `slot`, which is dropping; nothing
    /// if a cancel has taken the list.
    fn remove_child(&self, slot: u32) {
        if let Some(children) = &mut self.lock_shared().children {
            children.remove(slot);
        }
    }

    /// The tokio-util token, made now if this is a managed node that had
    /// none. One already cancelled gets a cancelled token.
    pub(crate) fn ct(&self) -> &CancellationToken {
        if let Some(ct) = self.ct.get() {
            return ct;
        }
        let ct = self.ct.get_or_init(CancellationToken::new);
        // Store, then load (see the type's docs): a canceller that missed
        // `CT_MADE` recorded its cause before, and it is seen here.
        self.flags.fetch_or(CT_MADE, Ordering::SeqCst);
        if self.cause.get().is_some() {
            ct.cancel();
        }
        ct
    }

    /// `true` once cancelled (for a managed node: once a cause is recorded,
    /// which precedes the cancel by a few instructions).
    pub(crate) fn is_cancelled(&self) -> bool {
        if self.kind != Kind::Foreign {
            self.cause.get().is_some()
        } else {
            self.ct().is_cancelled()
        }
    }

    /// `true` for a child or adopted node: something outside its scope can
    /// cancel it (its parent, an adopted source).
    pub(crate) fn has_parent(&self) -> bool {
        self.kind != Kind::Root
    }

    /// `true` for a root and a managed child: only [`Node::cancel_with`]
    /// cancels it, and it is waited on with [`Node::park`]; a foreign node
    /// is waited on through its tokio-util token.
    pub(crate) fn is_managed(&self) -> bool {
        self.kind != Kind::Foreign
    }

    /// For a managed node: keeps `waker` to be woken by the cancel, and
    /// returns the cause if one is already recorded (then nothing will wake
    /// it).
    pub(crate) fn park(&self, waker: &Waker) -> Option<Cause> {
        {
            let mut shared = self.lock_shared();
            match &shared.waker {
                Some(kept) if kept.will_wake(waker) => {}
                _ => shared.waker = Some(waker.clone()),
            }
        }
        // Store, then load (see the type's docs).
        self.flags.fetch_or(WAITING, Ordering::SeqCst);
        self.cause.get()
    }

    /// For a managed node: forgets the waker [`Node::park`] kept (the
    /// waiting future finished or was dropped), so the node does not keep
    /// its task alive and the scope's end has no one to wake.
    pub(crate) fn unpark(&self) {
        self.flags.fetch_and(!WAITING, Ordering::SeqCst);
        let kept = self.lock_shared().waker.take();
        drop(kept);
    }

    /// Lowers the deadline to `at` if that is earlier (never raises it).
    pub(crate) fn lower_deadline(&self, at: tokio::time::Instant) {
        self.deadline.lower(at);
    }

    /// The recorded cause; a token cancelled from outside (ancestor or adopted
    /// source) has none recorded yet, and `Parent` is recorded on first look so
    /// that later causes cannot overwrite what a reader already saw.
    pub(crate) fn cause(&self) -> Option<Cause> {
        if let Some(cause) = self.cause.get() {
            return Some(cause);
        }
        if self.kind != Kind::Foreign || !self.ct().is_cancelled() {
            return None;
        }
        self.cause.record(Cause::Parent);
        self.cause.get()
    }

    /// Marks the owning scope as ended, for leak reports.
    pub(crate) fn end_tracked(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// `true` once the owning (tracked) scope has dropped.
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// The cause if one is recorded, without looking at the token (no lock).
    /// A recorded cause means the token is cancelled or about to be.
    pub(crate) fn recorded_cause(&self) -> Option<Cause> {
        self.cause.get()
    }

    /// `true` once a replace displaced this node from its registry slot
    /// (the cause is recorded only after the swap).
    #[inline]
    pub(crate) fn is_superseded(&self) -> bool {
        self.cause.holds(&Cause::Superseded)
    }

    /// Records `cause` (unless one is recorded, or an ancestor already
    /// cancelled this token) and then cancels. Always leaves the token
    /// cancelled on return. `true` if this call is the one that cancelled it.
    pub(crate) fn cancel_with(&self, cause: Cause) -> bool {
        if self.kind == Kind::Foreign {
            let ct = self.ct();
            let cause = if ct.is_cancelled() {
                Cause::Parent
            } else {
                cause
            };
            let won = self.cause.record(cause.clone()) && cause != Cause::Parent;
            ct.cancel();
            crate::observe::cancelled(self, &cause, won);
            return won;
        }
        let (won, children) = self.cancel_managed(cause);
        if let Some(children) = children {
            // Out of line: most nodes have no children.
            cancel_children(*children);
        }
        won
    }

    /// Cancels a managed node, and returns its children for the caller to
    /// cancel. Cancelled only here, after a cause is recorded: if it is
    /// already cancelled, `record` fails. Store, then load (see the type's
    /// docs); whoever made the token, parked or added a child after this
    /// load sees the cause.
    #[inline(always)]
    fn cancel_managed(&self, cause: Cause) -> (bool, Option<Box<Children>>) {
        // A parent's cancel reaching a child is the parent's event, not the
        // child's: `Parent` never counts as this node's own cancel.
        let won = self.cause.record(cause.clone()) && cause != Cause::Parent;
        let flags = self.flags.load(Ordering::SeqCst);
        if flags & CT_MADE != 0 {
            if let Some(ct) = self.ct.get() {
                ct.cancel();
            }
        }
        let mut children = None;
        if flags & (WAITING | HAS_CHILDREN) != 0 {
            let kept = {
                let mut shared = self.lock_shared();
                children = shared.children.take();
                if flags & WAITING != 0 {
                    shared.waker.take()
                } else {
                    None
                }
            };
            // Woken outside the lock.
            if let Some(waker) = kept {
                waker.wake();
            }
        }
        crate::observe::cancelled(self, &cause, won);
        (won, children)
    }
}

impl Drop for Node {
    #[inline]
    fn drop(&mut self) {
        if self.parent.is_some() {
            self.leave_parent();
        }
    }
}

impl Node {
    /// A dropping child leaves its parent's list. If it held the last
    /// handle to its parent, the parent drops here too, and so on up:
    /// unwound in a loop, so a deep chain cannot overflow the stack.
    #[inline(never)]
    fn leave_parent(&mut self) {
        let mut next = self
            .parent
            .take()
            .map(|parent| (parent, *self.slot.get_mut()));
        while let Some((parent, slot)) = next {
            parent.remove_child(slot);
            next = Arc::into_inner(parent).and_then(|mut parent| {
                let slot = *parent.slot.get_mut();
                parent.parent.take().map(|grandparent| (grandparent, slot))
            });
        }
    }
}

/// Cancels `children` and all their descendants with [`Cause::Parent`],
/// depth first in the order they were made, without recursion (a deep
/// tree cannot overflow the stack).
#[inline(never)]
fn cancel_children(children: Children) {
    let list = children.into_list();
    if list.is_empty() {
        return;
    }
    let mut stack = vec![list.into_iter()];
    while let Some(level) = stack.last_mut() {
        let Some(child) = level.next() else {
            stack.pop();
            continue;
        };
        if let Some(child) = child.upgrade() {
            if let (_, Some(grandchildren)) = child.cancel_managed(Cause::Parent) {
                stack.push(grandchildren.into_list().into_iter());
            }
        }
    }
}

#[cfg(test)]
mod tests;
