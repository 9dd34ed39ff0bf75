//! The shared node behind every token handle: tokio-util's token plus our
//! cause, origin, age and deadline. The bottom layer of the crate: it
//! imports none of the public handles (`Token`, `Scope`, `Registry`), which
//! are built on it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, PoisonError};
use std::task::Waker;

use tokio_util::sync::CancellationToken;

use crate::cause::{Cause, CauseCell};
use crate::deadline::DeadlineCell;
use crate::site::{Origin, Stamp};
use crate::sync::{AtomicBool, AtomicU8, Mutex};

/// The shared part of one token: tokio-util's node plus our cause and origin.
///
/// # A root's tokio-util token is made on first use
///
/// A child or adopted node has its tokio-util token from the start (its
/// parent cancels it through tokio-util's tree). A root's is made only when
/// something needs one: a waiter through [`Token::cancelled`](crate::Token::cancelled), a child, a
/// `CancellationToken` handed out. A root is cancelled only through
/// [`Node::cancel_with`], so until then its cause cell alone says whether
/// it is cancelled, and a [`Run`](crate::Run) waits on it through `waker`
/// (one waker, its own task's). A call whose scope is a root (keyed calls,
/// `#[scoped_cancel]` outside any scope, `Scope::root`) then allocates,
/// cancels and frees no tokio-util node at all (BENCHMARKS.md has the
/// instructions this saves).
///
/// Lost wake-ups are excluded by a store-then-load on both sides, all
/// `SeqCst`: `cancel_with` records the cause and then reads `flags`; the
/// maker of the token (or a registering `Run`) sets its flag and then reads
/// the cause. Of two such pairs at least one side sees the other's store:
/// either the canceller cancels the new token (wakes the waker), or the
/// maker (the `Run`) sees the cause and acts on it itself.
pub(crate) struct Node {
    ct: Ct,
    cause: CauseCell,
    /// This crate created the node with no parent and hands out no handle
    /// that can cancel its tokio-util token except through
    /// [`Node::cancel_with`] (children, `cancelled_owned` and `__private`'s
    /// parent handle cannot). Then "cancelled" is "a cause is recorded":
    /// no lock to ask tokio-util, and the token can be made lazily.
    root: bool,
    /// `CT_MADE` and `WAITING`, for a root (see above).
    flags: AtomicU8,
    /// Set when the scope that owns this node drops, if a collector recorded
    /// it: the record stays (weak) until the node is gone, and reports skip
    /// it from now on. Fits in the padding after `cause` and `root`.
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
    /// A root's waiting [`Run`](crate::Run)'s waker (`WAITING` set).
    waker: Mutex<Option<Waker>>,
}

/// A node's tokio-util token: given at creation (a child, an adopted
/// token), or made on first use (a root). Two variants rather than an
/// initialised `OnceLock` for both: filling a `OnceLock` goes through its
/// `Once`, which every child scope would pay.
enum Ct {
    Given(CancellationToken),
    Lazy(OnceLock<CancellationToken>),
}

/// `flags`: a root's tokio-util token exists.
const CT_MADE: u8 = 1;
/// `flags`: a `Run` has put its waker in `waker`.
const WAITING: u8 = 2;

impl Node {
    /// A node for a foreign token (adopted): no deadline of ours above it.
    pub(crate) fn adopted(ct: CancellationToken, origin: Origin) -> Arc<Node> {
        Node::build(Some(ct), origin, DeadlineCell::none())
    }

    /// A node with no parent; its tokio-util token is made on first use.
    pub(crate) fn root(origin: Origin) -> Arc<Node> {
        Node::build(None, origin, DeadlineCell::none())
    }

    /// A child of `parent`: cancelled with it, and inheriting its deadline.
    pub(crate) fn child_of(parent: &Node, origin: Origin) -> Arc<Node> {
        let deadline = parent.deadline.inherit();
        Node::build(Some(parent.ct().child_token()), origin, deadline)
    }

    /// A child of `parent`, or a root without one.
    pub(crate) fn under(parent: Option<&Node>, origin: Origin) -> Arc<Node> {
        match parent {
            Some(parent) => Node::child_of(parent, origin),
            None => Node::root(origin),
        }
    }

    /// `ct`: the node's token if it has a parent, `None` for a root.
    fn build(ct: Option<CancellationToken>, origin: Origin, deadline: DeadlineCell) -> Arc<Node> {
        let root = ct.is_none();
        Arc::new(Node {
            ct: ct.map_or_else(|| Ct::Lazy(OnceLock::new()), Ct::Given),
            cause: CauseCell::default(),
            root,
            flags: AtomicU8::new(0),
            ended: AtomicBool::new(false),
            origin,
            born: Stamp::now(),
            deadline,
            observe: Default::default(),
            waker: Mutex::new(None),
        })
    }

    /// The tokio-util token, made now if this is a root that had none. A
    /// root already cancelled gets a cancelled one.
    pub(crate) fn ct(&self) -> &CancellationToken {
        let cell = match &self.ct {
            Ct::Given(ct) => return ct,
            Ct::Lazy(cell) => cell,
        };
        if let Some(ct) = cell.get() {
            return ct;
        }
        let ct = cell.get_or_init(CancellationToken::new);
        // Store, then load (see the type's docs): a canceller that missed
        // `CT_MADE` recorded its cause before, and it is seen here.
        self.flags.fetch_or(CT_MADE, Ordering::SeqCst);
        if self.cause.get().is_some() {
            ct.cancel();
        }
        ct
    }

    /// `true` once cancelled (for a root: once a cause is recorded, which
    /// precedes the cancel by a few instructions).
    pub(crate) fn is_cancelled(&self) -> bool {
        if self.root {
            self.cause.get().is_some()
        } else {
            self.ct().is_cancelled()
        }
    }

    /// `true` for a child or adopted node: something outside its scope can
    /// cancel it, and waiting needs the tokio-util token (cancelled through
    /// tokio-util's tree); a root is waited on with [`Node::park`] instead.
    pub(crate) fn has_parent(&self) -> bool {
        !self.root
    }

    /// For a root: keeps `waker` to be woken by the cancel, and returns the
    /// cause if one is already recorded (then nothing will wake it).
    pub(crate) fn park(&self, waker: &Waker) -> Option<Cause> {
        {
            let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
            match &*slot {
                Some(kept) if kept.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
        // Store, then load (see the type's docs).
        self.flags.fetch_or(WAITING, Ordering::SeqCst);
        self.cause.get()
    }

    /// For a root: forgets the waker [`Node::park`] kept (the waiting
    /// future finished or was dropped), so the node does not keep its task
    /// alive and the scope's end has no one to wake.
    pub(crate) fn unpark(&self) {
        self.flags.fetch_and(!WAITING, Ordering::SeqCst);
        let kept = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
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
        if self.root || !self.ct().is_cancelled() {
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
        if self.root {
            // Cancelled only here, after a cause is recorded: if it is
            // already cancelled, `record` fails. Store, then load (see the
            // type's docs); whoever made the token or parked after this
            // load sees the cause.
            let won = self.cause.record(cause.clone());
            let flags = self.flags.load(Ordering::SeqCst);
            if flags & CT_MADE != 0 {
                if let Ct::Lazy(cell) = &self.ct {
                    if let Some(ct) = cell.get() {
                        ct.cancel();
                    }
                }
            }
            if flags & WAITING != 0 {
                let kept = self
                    .waker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                // Woken outside the lock.
                if let Some(waker) = kept {
                    waker.wake();
                }
            }
            crate::observe::cancelled(self, &cause, won);
            return won;
        }
        let ct = self.ct();
        let cause = if ct.is_cancelled() {
            Cause::Parent
        } else {
            cause
        };
        let won = self.cause.record(cause.clone()) && cause != Cause::Parent;
        ct.cancel();
        crate::observe::cancelled(self, &cause, won);
        won
    }
}
