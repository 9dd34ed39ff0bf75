//! `Token<S>`: a cancellation token whose type says whether a scope owns it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

use crate::after_cancel::AfterCancel;
use crate::cause::Cause;
use crate::node::Node;
use crate::scope::Scope;
use crate::site::Origin;

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
///
/// Putting one in a `static`, in a collection shared with a task, or in a
/// task fails to compile with an error that names the marker inside this
/// type (rustc lets no library add a `help:` to a missing `Send` or
/// `Sync`):
///
/// ```text
/// error[E0277]: `*const (dyn UnscopedTokenCannotCrossThreads_CallIntoScopeFirst + 'static)` cannot be sent between threads safely
/// ```
///
/// Store a scope's token (`Token`, from [`Scope::token`]) or the
/// [`Scope`] itself instead; for tokens to cancel by id, a
/// [`Registry`](crate::Registry). The
/// [limits guide](crate::guide::limits#cannot-be-sent-between-threads-safely)
/// shows each fix.
#[derive(Debug, Clone, Copy)]
pub struct Unscoped {
    // The trait object's name is what rustc prints when this token is sent
    // across threads, so it is written to be read in that error.
    _not_send: PhantomData<*const dyn UnscopedTokenCannotCrossThreads_CallIntoScopeFirst>,
}

/// Never implemented: its name explains `Token<Unscoped>`'s missing `Send`.
///
/// It appears in the compiler's error when an un-scoped token is sent to
/// another thread or stored where threads share it (see [`Unscoped`]).
/// Fix: give the token an owner and keep the owner — `let scope =
/// token.into_scope();` then `scope.token()` — or move a child *scope*
/// into the task (`scope.child()`), or keep tokens to cancel by id in a
/// [`Registry`](crate::Registry).
#[allow(non_camel_case_types)]
pub trait UnscopedTokenCannotCrossThreads_CallIntoScopeFirst {}

/// A cancellation token whose type says whether some scope will cancel it.
///
/// `Token` alone means `Token<Scoped>`: obtained from a live [`Scope`],
/// cancelled no later than the end of that scope, and free to go anywhere
/// (a task, a struct, a registry, a `static`). `Token<Unscoped>`
/// ([`Token::new`], [`Token::adopt`], [`Token::child`]) has no owner yet and
/// stays on its thread: storing it where threads share it is a compile
/// error naming [`UnscopedTokenCannotCrossThreads_CallIntoScopeFirst`].
/// Turn it into a scope with [`Token::into_scope`], and keep the scope: a
/// token outlives its scope only as a cancelled token.
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

    /// The reason given with the cancel that reached this token
    /// ([`Scope::cancel_with_reason`], [`Registry::cancel_with_reason`](crate::Registry::cancel_with_reason)):
    /// its own, or for a token cancelled through an ancestor, the
    /// ancestor's. `None` while it is live, and for a cancel without one.
    pub fn reason(&self) -> Option<Arc<str>> {
        self.node.reason()
    }

    /// Cancels the token now with [`Cause::Requested`]; `false` if it was
    /// already cancelled.
    pub fn cancel(&self) -> bool {
        let won = self.node.cancel_with(Cause::Requested);
        if won {
            crate::observe::cancelled(&self.node, Cause::Requested, || None);
        }
        won
    }

    /// Runs `f` once, when this token is cancelled: on the thread that
    /// cancels it, right after its cause is recorded (so `f` may read
    /// [`cause`](Token::cause) and [`reason`](Token::reason)), or at once,
    /// before this returns, if it is already cancelled. No task and no
    /// timer: Go's `context.AfterFunc`, .NET's `CancellationToken.Register`.
    ///
    /// Dropping the returned [`AfterCancel`] unregisters `f` (nothing of it
    /// stays in the token); [`AfterCancel::stop`] does too and says whether
    /// `f` had not run yet. Neither waits for an `f` that another thread is
    /// running.
    ///
    /// `f` runs inside whatever cancels the token — a `cancel()`, a
    /// registry's `shutdown`, a scope's guard as it drops — so keep it
    /// short and non-blocking (hand slow work to a task). If it panics,
    /// the other callbacks still run and the canceller panics after them
    /// (a guard dropping during a panic drops the panic instead).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use scoped_cancel::{Cause, Scope};
    ///
    /// let scope = Scope::root();
    /// let token = scope.token();
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let seen = calls.clone();
    /// let watch = token.after_cancel(move || {
    ///     seen.fetch_add(1, Ordering::SeqCst);
    /// });
    ///
    /// scope.cancel();                         // runs it, here, once
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// assert!(!watch.stop());                 // it had run
    /// ```
    pub fn after_cancel<F: FnOnce() + Send + 'static>(&self, f: F) -> AfterCancel {
        AfterCancel::register(&self.node, Box::new(move |_| f()))
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
        Token::from_node(Node::adopted(source, Origin::caller("Token::adopt")))
    }

    /// Gives the token an owner: a [`Scope`] that cancels it when dropped.
    ///
    /// Keep the scope: a token taken from a scope that ends in the same
    /// expression is cancelled at once. `Token::new().into_scope().token()`
    /// compiles, but its scope ends at the semicolon, so the token it gives
    /// is already cancelled (with [`Cause::ScopeExited`]). Bind the scope
    /// (`let scope = Token::new().into_scope();`) and take tokens from it
    /// while it lives. `scoped-cancel-audit` reports such chains (rule
    /// `scope-dropped-at-once`).
    ///
    /// ```
    /// use scoped_cancel::{Cause, Token};
    ///
    /// let dead = Token::new().into_scope().token();   // the scope ended at `;`
    /// assert_eq!(dead.cause(), Some(Cause::ScopeExited));
    ///
    /// let scope = Token::new().into_scope();          // kept
    /// let live = scope.token();
    /// assert!(!live.is_cancelled());
    /// ```
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
