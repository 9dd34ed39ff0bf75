//! `Token<S>`: a cancellation token whose type says whether a scope owns it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

use crate::cause::{Cause, CauseCell};
use crate::deadline::DeadlineCell;
use crate::scope::Scope;
use crate::site::{Origin, Stamp};
use crate::sync::{AtomicBool, AtomicU8, Mutex};

/// The state of a token that a live [`Scope`] will cancel no later than its end.
///
/// Only a scope hands these out, so a `Token<Scoped>` may go anywhere: into a
/// registry, a spawned task, a `static` collection.
#[derive(Debug, Clone, Copy)]
pub struct Scoped {
    _private: (),
}

/// The state of a token that nobody has promised to cancel.
///
/// It is `!Send` and `!Sync`, so it cannot be moved into a task, held across an
/// `.await` in a `Send` future, or stored anywhere shared between threads. Call
/// [`Token::into_scope`] to give it an owner.
#[derive(Debug, Clone, Copy)]
pub struct Unscoped {
    // The trait object's name is what rustc prints when this token is sent
    // across threads, so it is written to be read in that error.
    _not_send: PhantomData<*const dyn UnscopedTokenCannotCrossThreads_CallIntoScopeFirst>,
}

/// Never implemented: its name explains `Token<Unscoped>`'s missing `Send`.
///
/// Fix: `token.into_scope()`, `scope.child()`, or `parent.child().into_scope()`.
#[allow(non_camel_case_types)]
pub trait UnscopedTokenCannotCrossThreads_CallIntoScopeFirst {}

/// The shared part of one token: tokio-util's node plus our cause and origin.
///
/// # A root's tokio-util token is made on first use
///
/// A child or adopted node has its tokio-util token from the start (its
/// parent cancels it through tokio-util's tree). A root's is made only when
/// something needs one: a waiter through [`Token::cancelled`], a child, a
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
    deadline: DeadlineCell,
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

/// A cancellation token whose type says whether some scope will cancel it.
///
/// `Token` alone means `Token<Scoped>`: obtained from a live [`Scope`],
/// cancelled no later than the end of that scope, and free to go anywhere.
/// `Token<Unscoped>` ([`Token::new`], [`Token::adopt`], [`Token::child`]) has
/// no owner yet; turn it into a scope with [`Token::into_scope`].
///
/// ```
/// use scoped_cancel::{Scope, Token};
///
/// let scope: Scope = Token::new().into_scope();
/// let token: Token = scope.token();
/// assert!(!token.is_cancelled());
/// drop(scope);
/// assert!(token.is_cancelled());
/// assert_eq!(token.cause(), Some(scoped_cancel::Cause::ScopeExited));
/// ```
pub struct Token<S = Scoped> {
    pub(crate) node: Arc<Node>,
    _state: PhantomData<S>,
}

impl<S> Token<S> {
    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        Token {
            node,
            _state: PhantomData,
        }
    }

    /// `true` once the token is cancelled, for whatever cause.
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Waits until the token is cancelled.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.node.ct().cancelled()
    }

    /// Why the token was cancelled; `None` while it is live.
    ///
    /// Never one of the refusals ([`Cause::KeyOccupied`], [`Cause::ShuttingDown`]):
    /// those belong to calls that never got a token.
    pub fn cause(&self) -> Option<Cause> {
        self.node.cause()
    }

    /// Cancels the token now with [`Cause::Requested`]; `false` if it was
    /// already cancelled.
    pub fn cancel(&self) -> bool {
        self.node.cancel_with(Cause::Requested)
    }

    /// A new child token, cancelled with this one (its cause then reads
    /// [`Cause::Parent`]) and inheriting its [`deadline`](Token::deadline).
    /// It is un-scoped: give it an owner with
    /// [`into_scope`](Token::into_scope), or use [`Scope::child`] directly.
    #[track_caller]
    pub fn child(&self) -> Token<Unscoped> {
        Token::from_node(Node::child_of(&self.node, Origin::caller("Token::child")))
    }

    /// The earliest deadline of this scope and its ancestors, if any has one.
    ///
    /// Deadlines come from `timeout = ..` on `#[scoped_cancel]`,
    /// [`Scope::run_timeout`] and [`Scope::run_deadline`]. A relative
    /// timeout starts when its call is first polled, so its deadline
    /// appears then: before that, only the inherited one shows. A child
    /// inherits the deadline its parent had when the child was made; its
    /// own timeout can make it earlier, never later.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use scoped_cancel::{Scope, Token};
    ///
    /// let request = Scope::root();
    /// let outer = request.run_timeout(Duration::from_secs(2), async {
    ///     let token = Token::current().unwrap();
    ///     assert_eq!(token.remaining(), Some(Duration::from_secs(2)));
    ///     // A longer inner timeout does not extend the caller's budget.
    ///     let inner = token.child().into_scope();
    ///     inner
    ///         .run_timeout(Duration::from_secs(60), async {
    ///             let token = Token::current().unwrap();
    ///             assert_eq!(token.remaining(), Some(Duration::from_secs(2)));
    ///         })
    ///         .await
    /// });
    /// outer.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.node.deadline.get()
    }

    /// The time left until [`deadline`](Token::deadline): `Some(ZERO)` once
    /// it has passed, `None` without a deadline. Reads tokio's clock, so a
    /// paused test clock is honoured; never panics, also outside a runtime.
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.deadline()?;
        Some(deadline.saturating_duration_since(tokio::time::Instant::now()))
    }
}

impl Token<Scoped> {
    /// The token of the innermost scope whose future this task is polling,
    /// if any.
    ///
    /// A scope is current while its future is polled, and while a body
    /// that has not finished is dropped (on cancellation, say): the body of
    /// a `#[scoped_cancel]` fn, [`Scope::run`], [`Scope::run_timeout`],
    /// [`Scope::run_deadline`], and a task started with [`Scope::spawn`]
    /// (whose current scope is the child scope `spawn` made). After each
    /// poll the previous current scope is back, also when the body panics,
    /// so it never leaks past an `.await` into other work, and each
    /// `select!`/`join!` branch sees only the scopes it runs in itself.
    ///
    /// A plain `tokio::spawn` (or `spawn_blocking`, or a thread) starts
    /// with no current scope: task-locals are not inherited. Use
    /// [`Scope::spawn`], or pass the token.
    ///
    /// Costs a thread-local access and a reference-count increment.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use scoped_cancel::{Scope, Token};
    ///
    /// assert!(Token::current().is_none());
    /// let scope = Scope::root();
    /// let token = scope.token();
    /// let inside = scope.run(async { Token::current() }).await.unwrap();
    /// assert_eq!(inside, Some(token));
    /// assert!(Token::current().is_none()); // restored after the call
    /// # }
    /// ```
    pub fn current() -> Option<Token> {
        crate::ambient::current().map(Token::from_node)
    }

    /// A `'static` future that completes when the token is cancelled, for
    /// APIs such as a server's graceful-shutdown hook.
    pub fn cancelled_owned(self) -> WaitForCancellationFutureOwned {
        self.node.ct().clone().cancelled_owned()
    }

    /// A tokio-util `CancellationToken` for APIs that take one.
    ///
    /// It is a *child* of this token: it is cancelled with this scope, and
    /// code you hand it to can observe but not cancel the scope itself.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.node.ct().child_token()
    }
}

impl Token<Unscoped> {
    /// A new root token. Un-scoped: call [`into_scope`](Token::into_scope).
    #[track_caller]
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Token<Unscoped> {
        Token::from_node(Node::root(Origin::caller("Token::new")))
    }

    /// Adopts a foreign tokio-util token by making a child of it.
    ///
    /// The scope it becomes cancels only that child, never `source`: adopting
    /// a server's shutdown token into a request must not shut the server down.
    /// When `source` is cancelled, this token's cause reads [`Cause::Parent`].
    #[track_caller]
    pub fn adopt(source: &CancellationToken) -> Token<Unscoped> {
        Token::from_node(Node::adopted(
            source.child_token(),
            Origin::caller("Token::adopt"),
        ))
    }

    /// Gives the token an owner: a [`Scope`] that cancels it when dropped.
    #[track_caller]
    pub fn into_scope(self) -> Scope {
        Scope::from_node(self.node)
    }
}

impl Default for Token<Unscoped> {
    #[track_caller]
    fn default() -> Self {
        Token::new()
    }
}

impl<S> Clone for Token<S> {
    fn clone(&self) -> Self {
        Token::from_node(self.node.clone())
    }
}

/// Identity: two tokens are equal when they are handles to the same token.
impl<S> PartialEq for Token<S> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl<S> Eq for Token<S> {}

impl<S> std::hash::Hash for Token<S> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.node).hash(state)
    }
}

impl<S> fmt::Debug for Token<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = std::any::type_name::<S>()
            .rsplit("::")
            .next()
            .unwrap_or("?");
        f.debug_struct("Token")
            .field("state", &state)
            .field("name", &self.node.origin.name())
            .field("cause", &self.cause())
            .finish()
    }
}
