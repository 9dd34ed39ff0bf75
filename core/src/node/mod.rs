//! The shared node behind every token handle: our cause, origin, age and
//! deadline, the node's listeners (children and callbacks), and a tokio-util
//! token when something needs one. The bottom of the crate's handles: it
//! imports only `cause`, `deadline`, `site` and `sync`.

mod adopt;
mod hooks;
mod listeners;
mod tasks;

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::Waker;

use tokio_util::sync::CancellationToken;

use crate::cause::{Cause, CauseCell};
use crate::deadline::DeadlineCell;
use crate::site::{Origin, Stamp};
use crate::sync::{AtomicBool, AtomicU16, AtomicU32, Mutex, MutexGuard};

pub(crate) use hooks::Deferred;
pub(crate) use listeners::Call;
use listeners::Listener;
pub(crate) use listeners::Listeners;
pub(crate) use tasks::{TaskCount, TaskCounter};

/// The shared part of one token.
///
/// # One tree, cancelled only through [`Node::cancel_with`]
///
/// A node is cancelled only through `cancel_with` (or its variants): its own
/// scope's end, a `cancel`, its parent's cancel (which reaches it through
/// the parent's list of listeners), a callback. Its cause cell alone then
/// says whether it is cancelled, and its tokio-util token is made only when
/// something needs one: a waiter through [`Token::cancelled`](crate::Token::cancelled),
/// a `CancellationToken` handed out. A [`Run`](crate::Run) waits on it
/// through `shared.waker` (one waker, its own task's). An adopted node (a
/// child of a foreign tokio-util token) is no exception: a bridge
/// registered on the foreign token calls `cancel_with` when it is cancelled
/// (`adopt.rs`), and its descendants are ordinary children.
///
/// # Listeners
///
/// Children and callbacks ([`Node::listen`]) share one list, taken whole by
/// the cancel and acted on outside the lock, in the order they were added:
/// each child is cancelled with [`Cause::Parent`] (and its own listeners in
/// turn, depth first, without recursion), each callback called once with
/// its node, on the cancelling thread, after the cause is recorded. The end
/// hooks of [`Scope::on_end`](crate::Scope::on_end) are kept apart: the
/// scope's guard runs them when it drops.
///
/// # No lost wake-up, child or callback
///
/// Excluded by a store-then-load on both sides, all `SeqCst`: `cancel_with`
/// records the cause and then reads `flags`; the maker of the token, a
/// registering `Run`, a new child or a new callback sets its flag and then
/// reads the cause. Of two such pairs at least one side sees the other's
/// store: either the canceller acts on it (cancels the token, wakes the
/// waker, takes the listener), or the maker sees the cause and acts on it
/// itself. A new listener reads the cause under the lock the canceller
/// takes to take the list, so a listener is either in the list it takes,
/// or sees the cause (a child is born cancelled, a callback runs at once).
pub(crate) struct Node {
    /// The tokio-util token: made on first use, or, for an adopted node, a
    /// child of the foreign token from the start.
    ct: OnceLock<CancellationToken>,
    cause: CauseCell,
    /// A [`shield`](crate::shield) below this scope's body was pending at
    /// the end of the body's last poll (`race.rs`). Only the task polling
    /// the scope's body reads and writes it. Fits in the padding.
    shielded: AtomicBool,
    /// `CT_MADE`, `WAITING`, `LISTENING`, `HAS_ENDS`, `ADOPTED`, `ENDED`,
    /// `SHIELD`, `KEYED`, `TASKS_PENDING`, `HAS_REASON`.
    flags: AtomicU16,
    /// This node's index in its parent's list (written and read under the
    /// parent's lock). Fits in the padding after the flags.
    slot: AtomicU32,
    pub(crate) origin: Origin,
    pub(crate) born: Stamp,
    /// The earliest deadline of this scope and its ancestors: copied from
    /// the parent when the node is made, lowered by a [`Run`](crate::Run)
    /// that arms a deadline of its own. One word, so reading it is O(1) at
    /// any depth and a child costs one load.
    pub(crate) deadline: DeadlineCell,
    /// The waiting `Run`'s waker, and the rest that only some nodes need.
    shared: Mutex<Shared>,
    /// A child's parent, whose list holds it at `slot` until this node
    /// drops (or the parent's cancel takes the list); read to find the
    /// cause and reason that reached it.
    parent: Option<Arc<Node>>,
}

/// What a node keeps under its lock.
#[derive(Default)]
struct Shared {
    /// The waker of the `Run` parked on this node (`WAITING` set).
    waker: Option<Waker>,
    /// Listeners, end hooks, a reason; boxed, so a node that never has any
    /// pays one word for them.
    more: Option<Box<More>>,
}

/// The listeners, which parents of nested calls all have, and a second box
/// for what few nodes need: a parent's allocation stays small.
#[derive(Default)]
struct More {
    /// Children and callbacks (`LISTENING` set); taken by the cancel.
    listeners: Option<Listeners>,
    rare: Option<Box<Rare>>,
}

#[derive(Default)]
struct Rare {
    /// [`Scope::on_end`](crate::Scope::on_end) hooks (`HAS_ENDS` set).
    ends: Vec<Box<dyn FnOnce() + Send>>,
    /// The reason given with the cancel that won, if any.
    reason: Option<Arc<str>>,
    /// An adopted node's registration on its foreign token.
    bridge: Option<adopt::Bridge>,
    /// A keyed node's tasks (`tasks.rs`).
    tasks: tasks::Tasks,
}

impl More {
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }
}

impl Drop for Shared {
    #[inline]
    fn drop(&mut self) {
        // Out of line: the drop of every node that never had listeners
        // (most) is then a test, not a loop's prologue.
        if let Some(more) = self.more.take() {
            drop_more(more);
        }
    }
}

#[cold]
#[inline(never)]
fn drop_more(more: Box<More>) {
    drop(more);
}

/// `flags`: the tokio-util token exists.
const CT_MADE: u16 = 1;
/// `flags`: a `Run` has put its waker in `shared`.
const WAITING: u16 = 2;
/// `flags`: a listener was added to `shared` (or found the node cancelled).
const LISTENING: u16 = 4;
/// `flags`: an end hook was added.
const HAS_ENDS: u16 = 8;
/// `flags`: a child of a foreign token (`adopt.rs`).
const ADOPTED: u16 = 16;
/// `flags`: the scope that owns this node has dropped (for leak reports).
const ENDED: u16 = 32;
/// `flags`: the scope of a [`shield`](crate::shield) (for the dump).
const SHIELD: u16 = 64;
/// `flags`: a keyed scope's node, where tasks below it are counted.
const KEYED: u16 = 128;
/// `flags`: a task was counted here (`tasks.rs`).
const TASKS_PENDING: u16 = 256;
/// `flags`: a reason was recorded with the cause.
const HAS_REASON: u16 = 512;

impl Node {
    /// A node with no parent; its tokio-util token is made on first use.
    pub(crate) fn root(origin: Origin) -> Arc<Node> {
        Node::build(origin, DeadlineCell::none(), None, 0)
    }

    /// A child of `parent`: cancelled with it, and inheriting its deadline.
    pub(crate) fn child_of(parent: &Arc<Node>, origin: Origin) -> Arc<Node> {
        Node::child_with(parent, origin, 0)
    }

    fn child_with(parent: &Arc<Node>, origin: Origin, flags: u16) -> Arc<Node> {
        let child = Node::build(
            origin,
            parent.deadline.inherit(),
            Some(parent.clone()),
            flags,
        );
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

    /// [`Node::under`], for a keyed scope: tasks spawned below it are
    /// counted here, then by its registry (`tasks.rs`).
    pub(crate) fn keyed_under(parent: Option<&Arc<Node>>, origin: Origin) -> Arc<Node> {
        match parent {
            Some(parent) => Node::child_with(parent, origin, KEYED),
            None => Node::build(origin, DeadlineCell::none(), None, KEYED),
        }
    }

    fn build(
        origin: Origin,
        deadline: DeadlineCell,
        parent: Option<Arc<Node>>,
        flags: u16,
    ) -> Arc<Node> {
        Arc::new(Node {
            ct: OnceLock::new(),
            cause: CauseCell::default(),
            shielded: AtomicBool::new(false),
            flags: AtomicU16::new(flags),
            slot: AtomicU32::new(0),
            origin,
            born: Stamp::now(),
            deadline,
            shared: Mutex::new(Shared::default()),
            parent,
        })
    }

    fn lock_shared(&self) -> MutexGuard<'_, Shared> {
        crate::sync::lock(&self.shared)
    }

    #[inline]
    fn has(&self, flag: u16) -> bool {
        self.flags.load(Ordering::SeqCst) & flag != 0
    }

    /// Puts `listener` in this node's list and returns its index, or, if
    /// the node is already cancelled, hands it back (the caller acts on it
    /// as the cancel would have). Store, then load (see the type's docs),
    /// the load under the lock.
    #[inline]
    fn add_listener(&self, listener: Listener) -> Result<u32, Listener> {
        self.flags.fetch_or(LISTENING, Ordering::SeqCst);
        let mut shared = self.lock_shared();
        if self.cause.get().is_some() {
            return Err(listener);
        }
        let more = shared.more.get_or_insert_with(Default::default);
        Ok(more
            .listeners
            .get_or_insert_with(Listeners::new)
            .add(listener))
    }

    /// Frees the place at `index`; what was there, if a cancel has not
    /// taken the list since (dropped by the caller, unlocked).
    fn remove_listener(&self, index: u32) -> Option<Listener> {
        let mut shared = self.lock_shared();
        shared.more.as_mut()?.listeners.as_mut()?.remove(index)
    }

    /// Frees the place of the child at `slot`, which is dropping: its
    /// `Weak` is dropped in place, under the lock (no user code runs).
    #[inline]
    fn remove_child(&self, slot: u32) {
        let mut shared = self.lock_shared();
        if let Some(listeners) = shared.more.as_mut().and_then(|m| m.listeners.as_mut()) {
            listeners.free(slot);
        }
    }

    /// Puts a new `child` in this node's list, or, if this node is already
    /// cancelled, records `Parent` on the child (born cancelled: it has no
    /// token, waiter or listener yet to tell).
    fn add_child(&self, child: &Arc<Node>) {
        match self.add_listener(Listener::Child(Arc::downgrade(child))) {
            Ok(slot) => child.slot.store(slot, Ordering::Relaxed),
            Err(_) => {
                // In no place: its drop must not free one, which another
                // child may hold (place 0 most of all).
                child.slot.store(listeners::NO_PLACE, Ordering::Relaxed);
                child.cause.record(Cause::Parent);
            }
        }
    }

    /// The tokio-util token, made now if there was none. One already
    /// cancelled gets a cancelled token.
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

    /// `true` once cancelled: once a cause is recorded, which precedes the
    /// cancel by a few instructions (or, for an adopted node, once its
    /// foreign token is).
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cause().is_some()
    }

    /// For the `Run` that owns this node: keeps `waker` to be woken by the
    /// cancel, and returns the cause if one is already recorded (then
    /// nothing will wake it).
    pub(crate) fn park(&self, waker: &Waker) -> Option<Cause> {
        {
            let mut shared = self.lock_shared();
            match &shared.waker {
                Some(kept) if kept.will_wake(waker) => {}
                _ => shared.waker = Some(waker.clone()),
            }
        }
        // Store, then load (see the type's docs).
        let flags = self.flags.fetch_or(WAITING, Ordering::SeqCst);
        match self.cause.get() {
            None if flags & ADOPTED != 0 => self.cause(),
            cause => cause,
        }
    }

    /// Forgets the waker [`Node::park`] kept (the waiting future finished
    /// or was dropped), so the node does not keep its task alive and the
    /// scope's end has no one to wake.
    pub(crate) fn unpark(&self) {
        self.flags.fetch_and(!WAITING, Ordering::SeqCst);
        let kept = self.lock_shared().waker.take();
        drop(kept);
    }

    /// Lowers the deadline to `at` if that is earlier (never raises it).
    pub(crate) fn lower_deadline(&self, at: tokio::time::Instant) {
        self.deadline.lower(at);
    }

    /// The recorded cause. An adopted node whose foreign token was
    /// cancelled, and whose bridge has not acted yet, is cancelled here
    /// (`Parent`), so that later causes cannot overwrite what a reader saw.
    #[inline]
    pub(crate) fn cause(&self) -> Option<Cause> {
        match self.cause.get() {
            None if self.has(ADOPTED) => self.adopted_cause(),
            cause => cause,
        }
    }

    #[cold]
    fn adopted_cause(&self) -> Option<Cause> {
        if self.ct().is_cancelled() {
            self.cancel_with(Cause::Parent);
        }
        self.cause.get()
    }

    /// The cause if one is recorded, without looking at a foreign token
    /// (no lock). A recorded cause means the node is cancelled or about to
    /// be.
    #[inline]
    pub(crate) fn recorded_cause(&self) -> Option<Cause> {
        self.cause.get()
    }

    /// Why this node was cancelled, looking through `Parent` to the
    /// ancestor whose own cancel reached it (Go's `context.Cause`), with
    /// that cancel's reason. `Parent` only where the cancel came from
    /// outside the tree (an adopted node's foreign token).
    #[inline]
    pub(crate) fn root_cause(&self) -> Option<(Cause, Option<Arc<str>>)> {
        // Most cancels are a node's own: one load, and one for the reason.
        match self.cause.get() {
            Some(Cause::Parent) | None => self.root_cause_above(),
            Some(cause) => Some((cause, self.own_reason())),
        }
    }

    #[cold]
    fn root_cause_above(&self) -> Option<(Cause, Option<Arc<str>>)> {
        let mut node = self;
        loop {
            match node.cause()? {
                Cause::Parent => match &node.parent {
                    Some(parent) if parent.cause.get().is_some() => node = parent,
                    _ => return Some((Cause::Parent, None)),
                },
                cause => return Some((cause, node.own_reason())),
            }
        }
    }

    /// The reason of the cancel that reached this node: its own, or for a
    /// node cancelled by its parent, the ancestor's.
    pub(crate) fn reason(&self) -> Option<Arc<str>> {
        self.root_cause().and_then(|(_, reason)| reason)
    }

    #[inline]
    fn own_reason(&self) -> Option<Arc<str>> {
        if !self.has(HAS_REASON) {
            return None;
        }
        self.own_reason_locked()
    }

    #[cold]
    fn own_reason_locked(&self) -> Option<Arc<str>> {
        self.lock_shared()
            .more
            .as_ref()?
            .rare
            .as_ref()?
            .reason
            .clone()
    }

    /// Marks the owning scope as ended, for leak reports.
    pub(crate) fn end_tracked(&self) {
        self.flags.fetch_or(ENDED, Ordering::Release);
    }

    /// `true` once the owning (tracked) scope has dropped.
    pub(crate) fn has_ended(&self) -> bool {
        self.flags.load(Ordering::Acquire) & ENDED != 0
    }

    /// Marks this node as a shield's (the dump shows it).
    pub(crate) fn mark_shield(&self) {
        self.flags.fetch_or(SHIELD, Ordering::Relaxed);
    }

    /// `true` for a shield's node.
    pub(crate) fn is_shield(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & SHIELD != 0
    }

    /// Before a poll of this scope's body: no shield below is pending yet.
    #[inline]
    pub(crate) fn clear_shielded(&self) {
        self.shielded.store(false, Ordering::Relaxed);
    }

    /// A shield below this scope's body is pending.
    #[inline]
    pub(crate) fn mark_shielded(&self) {
        self.shielded.store(true, Ordering::Relaxed);
    }

    /// After a poll of this scope's body: was a shield below it pending?
    #[inline]
    pub(crate) fn is_shielded(&self) -> bool {
        self.shielded.load(Ordering::Relaxed)
    }

    /// The parent, for a child.
    pub(crate) fn parent(&self) -> Option<&Arc<Node>> {
        self.parent.as_ref()
    }

    /// `true` once a replace displaced this node from its registry slot
    /// (the cause is recorded only after the swap).
    #[inline]
    pub(crate) fn is_superseded(&self) -> bool {
        self.cause.holds(Cause::Superseded)
    }

    /// Records `cause` (unless one is recorded, or an ancestor already
    /// cancelled this node) and then cancels, reaching the listeners.
    /// Always leaves the node cancelled on return. `true` if this call is
    /// the one that cancelled it. A callback that panicked does so here,
    /// after every listener ran.
    pub(crate) fn cancel_with(&self, cause: Cause) -> bool {
        let (won, deferred) = self.cancel_deferred(cause, None);
        deferred.finish();
        won
    }

    /// [`Node::cancel_with`] with a reason, kept if this cancel wins.
    pub(crate) fn cancel_with_reason(&self, cause: Cause, reason: Arc<str>) -> bool {
        let (won, deferred) = self.cancel_deferred(cause, Some(reason));
        deferred.finish();
        won
    }

    /// The cancel, with the panic of a callback (if any) handed back for
    /// the caller to raise when it is done.
    #[inline]
    pub(crate) fn cancel_deferred(
        &self,
        cause: Cause,
        reason: Option<Arc<str>>,
    ) -> (bool, Deferred) {
        let (won, taken) = self.cancel_node(cause, reason);
        let deferred = match taken {
            // Out of line: most nodes have no listeners.
            Some(taken) => hooks::run_listeners(self, taken),
            None => Deferred::none(),
        };
        (won, deferred)
    }

    /// The cancel, with the listeners it took handed back to act on with
    /// [`Node::run_taken`] (a scope's guard does, in its slow path).
    #[inline(always)]
    pub(crate) fn cancel_taking(&self, cause: Cause) -> (bool, Option<Listeners>) {
        self.cancel_node(cause, None)
    }

    /// Acts on the listeners a [`Node::cancel_taking`] took; a callback's
    /// panic is handed back.
    #[cold]
    pub(crate) fn run_taken(&self, taken: Listeners) -> Deferred {
        hooks::run_listeners(self, taken)
    }

    /// Cancels this node, and returns its listeners for the caller to act
    /// on. Store, then load (see the type's docs): whoever made the token,
    /// parked or added a listener after this load sees the cause.
    #[inline(always)]
    fn cancel_node(&self, cause: Cause, reason: Option<Arc<str>>) -> (bool, Option<Listeners>) {
        let recorded = match reason {
            None => self.cause.record(cause),
            Some(reason) => self.record_with_reason(cause, reason),
        };
        // A parent's cancel reaching a child is the parent's event, not the
        // child's: `Parent` never counts as this node's own cancel.
        let won = recorded && cause != Cause::Parent;
        let flags = self.flags.load(Ordering::SeqCst);
        if flags & CT_MADE != 0 {
            if let Some(ct) = self.ct.get() {
                ct.cancel();
            }
        }
        let mut taken = None;
        if flags & (WAITING | LISTENING) != 0 {
            let (kept, bridge) = {
                let mut shared = self.lock_shared();
                let (listeners, bridge) = match shared.more.as_mut() {
                    Some(more) => (
                        more.listeners.take(),
                        more.rare.as_mut().and_then(|rare| rare.bridge.take()),
                    ),
                    None => (None, None),
                };
                taken = listeners;
                let kept = if flags & WAITING != 0 {
                    shared.waker.take()
                } else {
                    None
                };
                (kept, bridge)
            };
            // Woken, and the bridge's registration dropped, outside the lock.
            drop(bridge);
            // A list whose listeners all left has nothing to run: dropped
            // here (outside the lock), so the caller takes its fast path.
            if taken.as_ref().is_some_and(Listeners::is_empty) {
                taken = None;
            }
            if let Some(waker) = kept {
                waker.wake();
            }
        }
        (won, taken)
    }

    /// Records `cause` and, if it wins, `reason`, both under the lock, so a
    /// reader who sees the cause and then asks for the reason finds it.
    #[cold]
    fn record_with_reason(&self, cause: Cause, reason: Arc<str>) -> bool {
        let mut shared = self.lock_shared();
        // The flag before the cause: a reader who sees the cause sees the
        // flag, and then waits on the lock until the reason is in (a flag
        // left up by a cancel that lost costs that reader a lock, no more).
        self.flags.fetch_or(HAS_REASON, Ordering::SeqCst);
        if !self.cause.record(cause) {
            return false;
        }
        shared
            .more
            .get_or_insert_with(Default::default)
            .rare()
            .reason = Some(reason);
        true
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
            .map(|parent| (parent, self.slot.load(Ordering::Relaxed)));
        while let Some((parent, slot)) = next {
            parent.remove_child(slot);
            next = Arc::into_inner(parent).and_then(|mut parent| {
                let slot = parent.slot.load(Ordering::Relaxed);
                parent.parent.take().map(|grandparent| (grandparent, slot))
            });
        }
    }
}

#[cfg(test)]
mod tests;
