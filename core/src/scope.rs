//! `Scope`: the guard that owns a token and ends it on every exit path.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::cause::{Cancelled, Cause};
use crate::link::Link;
use crate::node::{Node, TaskCount};
use crate::run::{Run, Timer};
use crate::site::Origin;
use crate::token::{Scoped, Token};

/// An RAII guard that owns one cancellation token.
///
/// Dropping the scope — on `return`, on `?`, on panic, or because the future
/// holding it was dropped — records a cause ([`Cause::ScopeExited`], or
/// [`Cause::Panicked`] while unwinding), cancels the token and its children,
/// and then removes the scope's registry entry, if it has one. So once a
/// registry no longer contains a key, the scope that had it is cancelled.
///
/// A scope lives as long as you keep it: one parked in a long-lived
/// collection or passed to `mem::forget` keeps its token alive (leak reports
/// show it).
///
/// ```
/// use scoped_cancel::{Cause, Scope};
///
/// let root = Scope::root();
/// let child = root.child();
/// let token = child.token();
/// drop(root);                       // cancels the whole tree below it
/// assert!(token.is_cancelled());
/// assert_eq!(token.cause(), Some(Cause::Parent));
/// drop(child);                      // the child's guard still ends cleanly
/// ```
#[must_use = "a Scope cancels its token when dropped: `let _ = ...` ends it at once"]
pub struct Scope {
    token: Token<Scoped>,
    /// The way to the registry: this scope's own entry, if it has one.
    link: Option<Link>,
    /// `KEYED`, `TRACKED`, `CANCEL_SEEN`. One byte without a niche rather
    /// than three `bool`s: with a `bool`'s niche, `Result<Scope, _>` kept
    /// its tag inside the scope, and the compiler moved the scope out of it
    /// in odd pieces that stalled store forwarding on every keyed call.
    flags: u8,
}

/// `flags`: `link` is this scope's own entry, removed when it drops.
const KEYED: u8 = 1;
/// `flags`: a collector recorded this scope: mark the node ended on drop.
const TRACKED: u8 = 2;
/// `flags`: set by [`Run`] once it has seen the token cancelled and read
/// its cause: the drop then has nothing to record or cancel (saves a CAS
/// and a lock on every cancelled call).
const CANCEL_SEEN: u8 = 4;

impl Scope {
    #[inline]
    pub(crate) fn new(node: Arc<Node>, link: Option<Link>) -> Scope {
        let tracked = crate::live::attach(&node, || link.as_ref().map(Link::key_ref));
        Scope::attached(node, link, tracked)
    }

    /// A scope whose node tracking already saw (`tracked`): a waiter is
    /// recorded when it starts waiting, not again when it gets its key.
    pub(crate) fn attached(node: Arc<Node>, link: Option<Link>, tracked: bool) -> Scope {
        crate::observe::started(&node, link.as_ref());
        let keyed = if link.is_some() { KEYED } else { 0 };
        Scope {
            token: Token::from_node(node),
            link,
            flags: keyed | if tracked { TRACKED } else { 0 },
        }
    }

    pub(crate) fn from_node(node: Arc<Node>) -> Scope {
        Scope::new(node, None)
    }

    /// A scope whose token is a child of `parent`, or a root without one.
    pub(crate) fn under(parent: Option<&Arc<Node>>, origin: Origin) -> Scope {
        Scope::from_node(Node::under(parent, origin))
    }

    /// A new anonymous scope with a fresh root token.
    ///
    /// Always a root, even inside another scope's body: explicit
    /// constructors never read [`Token::current`]. For a child of the
    /// current scope, write `Token::current().map(|t| t.child().into_scope())`.
    /// For a name of your own in reports, see [`Scope::builder`].
    #[track_caller]
    pub fn root() -> Scope {
        Scope::under(None, Origin::caller("Scope::root"))
    }

    /// A child scope: cancelled when this one is, and cancelling only itself
    /// (and its own children) when it ends. It inherits this scope's
    /// [`deadline`](Token::deadline).
    /// For a name of your own in reports, see [`Scope::builder`].
    #[track_caller]
    pub fn child(&self) -> Scope {
        Scope::under(Some(&self.token.node), Origin::caller("Scope::child"))
    }

    /// A handle to this scope's token, cancelled no later than this scope ends.
    ///
    /// Keep the scope while you use the token: taken from a scope that is a
    /// temporary (`Scope::root().token()`, `scope.child().token()`), the
    /// token is cancelled when the statement ends, with its scope
    /// (`scoped-cancel-audit` reports it as `scope-dropped-at-once`).
    pub fn token(&self) -> Token<Scoped> {
        self.token.clone()
    }

    /// Cancels the token now, with [`Cause::Requested`]. The guard lives on:
    /// a keyed scope keeps its key until it is dropped. `false` if the token
    /// was already cancelled.
    pub fn cancel(&self) -> bool {
        self.cancel_as(Cause::Requested, None)
    }

    /// [`Scope::cancel`] with a reason: readers of the token
    /// ([`Token::reason`]), of the `Cancelled` the call returns
    /// ([`Cancelled::reason`]) and of reports see it, and so do the scopes
    /// below this one that the cancel reaches. The first cancel wins, with
    /// its reason (or lack of one): `false` if the token was already
    /// cancelled, and then `reason` is dropped.
    ///
    /// A reason is for people (logs, reports, a support bundle), never a
    /// metric label.
    ///
    /// ```
    /// use scoped_cancel::{Cause, Scope};
    ///
    /// let job = Scope::root();
    /// let step = job.child();
    /// assert!(job.cancel_with_reason("the customer closed the order"));
    /// assert!(!job.cancel_with_reason("too late"));
    /// let token = step.token();
    /// assert_eq!(token.cause(), Some(Cause::Parent));
    /// assert_eq!(token.reason().as_deref(), Some("the customer closed the order"));
    /// ```
    pub fn cancel_with_reason(&self, reason: impl Into<Arc<str>>) -> bool {
        self.cancel_as(Cause::Requested, Some(reason.into()))
    }

    /// Cancels this scope with `cause` (and `reason`), telling the
    /// observability hooks when this call won.
    pub(crate) fn cancel_as(&self, cause: Cause, reason: Option<Arc<str>>) -> bool {
        let node = &self.token.node;
        let won = match reason {
            None => node.cancel_with(cause),
            Some(reason) => node.cancel_with_reason(cause, reason),
        };
        if won {
            crate::observe::cancelled(node, cause, || self.own_link()?.key_text(node));
        }
        won
    }

    /// Also cancels this scope, with [`Cause::Linked`], when `other` is
    /// cancelled (at once if it already is): one way, as .NET's linked
    /// token sources. The link ends with this scope: when this scope is
    /// cancelled or ends, nothing of it is left in `other`.
    ///
    /// ```
    /// use scoped_cancel::{Cause, Scope};
    ///
    /// let server = Scope::root();          // shuts down with the server
    /// let request = Scope::root();         // ends with the request
    /// request.link(&server.token());
    /// drop(server);
    /// assert_eq!(request.token().cause(), Some(Cause::Linked));
    /// ```
    pub fn link<S>(&self, other: &Token<S>) {
        let this = Arc::downgrade(&self.token.node);
        let Some(index) = other.node.listen(Box::new(move |_| {
            if let Some(node) = this.upgrade() {
                if node.cancel_with(Cause::Linked) {
                    crate::observe::cancelled(&node, Cause::Linked, || None);
                }
            }
        })) else {
            return; // `other` was cancelled: this scope is too, now.
        };
        let other = other.node.clone();
        // Unregistered when this scope is cancelled, at the latest when it
        // ends (at once if it is cancelled already).
        let _ = self.token.node.listen(Box::new(move |_| {
            other.unlisten(index);
        }));
    }

    /// `true` once this scope's token is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The scope's name in leak reports.
    pub fn name(&self) -> &'static str {
        self.token.node.origin.name()
    }

    /// Runs `fut` inside this scope, raced against its cancellation, and ends
    /// the scope when `fut` finishes or the returned future is dropped.
    /// While `fut` is polled, this scope is [`Token::current`].
    ///
    /// `fut` is polled first on every wake-up, so work that completed is never
    /// thrown away; if the token is cancelled first, `fut` is dropped at its
    /// current `.await` and `Err(Cancelled)` carries the cause. Racing drops
    /// the body mid-flight: use it for cancel-safe bodies.
    ///
    /// The output is `Result<F::Output, Cancelled>`: for a fallible body,
    /// `Result<Result<T, E>, Cancelled>`, the outer error saying the scope
    /// ended it (`?` twice, or `.and_then(..)`, flattens it).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use scoped_cancel::{Cause, Scope};
    ///
    /// let scope = Scope::root();
    /// scope.cancel();
    /// let out = scope.run(std::future::pending::<()>()).await;
    /// assert_eq!(out.unwrap_err().cause(), Cause::Requested);
    /// # }
    /// ```
    pub fn run<F: Future>(self, fut: F) -> Run<F> {
        Run::new(self, fut, None, false)
    }

    /// [`Scope::run`] with a deadline: when `timeout` passes (measured from
    /// the first poll), the token is cancelled with [`Cause::Deadline`] and
    /// the call returns `Err`. Needs a tokio runtime with time enabled
    /// once the body waits: a poll that must start the timer panics,
    /// saying so, without one (a body ready at once needs none).
    ///
    /// From the first poll, the scope's [`Token::deadline`] is the earlier
    /// of that moment plus `timeout` and the deadline it inherited: a
    /// longer timeout never extends a caller's budget. (The inherited
    /// deadline is enforced by the scope that set it, whose cancel ends
    /// this one: its token reads [`Cause::Parent`], its call's `Cancelled`
    /// [`Cause::Deadline`].) `Duration::MAX` means no timeout (and
    /// needs no runtime); any other timeout past what the clock can count
    /// never fires.
    pub fn run_timeout<F: Future>(self, timeout: Duration, fut: F) -> Run<F> {
        Run::new(self, fut, Timer::after(timeout), false)
    }

    /// [`Scope::run`] with an absolute deadline on tokio's clock: for a
    /// budget that started before this call, such as a request's, counted
    /// from when its headers arrived. A deadline already passed ends the
    /// call with [`Cause::Deadline`] at its first poll, unless the body is
    /// ready at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use scoped_cancel::{Cause, Scope, Token};
    /// use tokio::time::Instant;
    ///
    /// let arrived = Instant::now();
    /// let budget = arrived + Duration::from_millis(500);
    /// let out = Scope::root()
    ///     .run_deadline(budget, async {
    ///         assert_eq!(Token::current().unwrap().deadline(), Some(budget));
    ///         tokio::time::sleep(Duration::from_secs(1)).await;
    ///     })
    ///     .await;
    /// assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    /// assert_eq!(Instant::now(), budget);
    /// # }
    /// ```
    pub fn run_deadline<F: Future>(self, deadline: tokio::time::Instant, fut: F) -> Run<F> {
        Run::new(self, fut, Some(Timer::at(deadline)), false)
    }

    /// Spawns `fut` as a task that owns a child of this scope and is raced
    /// against it, so cancelling this scope stops the task. For several
    /// tasks joined together see [`TaskGroup`](crate::TaskGroup); to start
    /// a keyed job with its key held before the task runs,
    /// [`Registry::spawn`](crate::Registry::spawn).
    ///
    /// The child is the task's [`Token::current`] (a plain `tokio::spawn`
    /// has none), and inherits this scope's [`deadline`](Token::deadline).
    ///
    /// A task spawned from a registry's scope, or from anything below one
    /// (a [`child`](Scope::child), a nested call, a task group, at any
    /// depth), is counted by that registry:
    /// [`Registry::shutdown`](crate::Registry::shutdown) waits for it. A bare
    /// `tokio::spawn` is invisible to the registry, even if the task holds
    /// a token or a child scope of a keyed scope.
    ///
    /// # Panics
    ///
    /// Without a tokio runtime on this thread, with a message saying so.
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<Result<F::Output, Cancelled>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::needs_tokio::runtime("`Scope::spawn`", "to spawn the task");
        let child = Scope::under(Some(&self.token.node), Origin::caller("Scope::spawn"));
        let task = TaskCount::below(child.node());
        tokio::spawn(async move {
            let out = child.run(fut).await;
            drop(task);
            out
        })
    }

    /// Attaches `hook`, run once when this scope's guard drops: after its
    /// token is cancelled and after its registry entry (if any) is removed.
    ///
    /// Cancelling the token while the guard lives ([`Scope::cancel`],
    /// [`Registry::cancel`](crate::Registry::cancel), a parent) does not run
    /// it: only the guard's end does, on every exit path (return, `?`, panic,
    /// the future dropped). For work that must follow the cancel itself,
    /// see [`Token::after_cancel`]. Hooks run in the order they were added.
    /// A hook runs inside `Drop`, possibly while unwinding, so it must be
    /// quick (hand slow work to a task); one that panics does not stop the
    /// others, and its panic is raised after them (dropped if the thread is
    /// already unwinding).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use scoped_cancel::Scope;
    ///
    /// let released = Arc::new(AtomicBool::new(false));
    /// let flag = released.clone();
    /// let scope = Scope::root().on_end(move || flag.store(true, Ordering::SeqCst));
    /// let token = scope.token();
    ///
    /// scope.cancel();                       // cancelled, guard still alive
    /// assert!(!released.load(Ordering::SeqCst));
    /// drop(scope);                          // the guard's end runs the hook
    /// assert!(released.load(Ordering::SeqCst) && token.is_cancelled());
    /// ```
    pub fn on_end<F: FnOnce() + Send + 'static>(self, hook: F) -> Scope {
        self.token.node.on_end(Box::new(hook));
        self
    }

    /// This scope's own registry entry's link, if it is keyed.
    #[inline]
    fn own_link(&self) -> Option<&Link> {
        self.link.as_ref().filter(|_| self.has(KEYED))
    }

    /// The node, and the link to its own entry (for events).
    #[inline]
    pub(crate) fn node_and_link(&self) -> (&Arc<Node>, Option<&Link>) {
        (&self.token.node, self.own_link())
    }

    #[inline]
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.token.node
    }

    /// The scope's token, borrowed.
    pub(crate) fn token_ref(&self) -> &Token<Scoped> {
        &self.token
    }

    /// Records that the token is cancelled and its cause recorded (only
    /// [`Run`] calls this, after reading the cause of a cancellation it saw).
    pub(crate) fn mark_cancel_seen(&mut self) {
        debug_assert!(self.token.node.cause().is_some());
        self.flags |= CANCEL_SEEN;
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Order matters: cancel first, then unlink, so that a registry that no
        // longer holds the key implies the scope's token is cancelled.
        if !self.has(CANCEL_SEEN) {
            let cause = if std::thread::panicking() {
                Cause::Panicked
            } else {
                Cause::ScopeExited
            };
            let (won, taken) = self.token.node.cancel_taking(cause);
            if won && cause == Cause::Panicked {
                self.observe_panicked();
            }
            if let Some(taken) = taken {
                // Children and callbacks: a callback that panics does so
                // after the unlink.
                let deferred = self.token.node.run_taken(taken);
                self.end();
                deferred.finish();
                return;
            }
        }
        self.end();
    }
}

impl Scope {
    /// The rest of the guard's drop, after the cancel: the observers, the
    /// tasks' hand-over, the unlink, the end hooks.
    #[inline(always)]
    fn end(&self) {
        crate::observe::ended(&self.token.node, self.own_link());
        if let Some(link) = self.own_link() {
            // Before the unlink: tasks still counted on this scope's node
            // go to its registry, whose shutdown waits for them.
            self.token
                .node
                .hand_tasks_over(|| Box::new(link.for_child()));
        }
        if self.has(TRACKED) {
            self.unlink_tracked();
        } else {
            self.unlink();
        }
        self.token.node.run_end_hooks();
    }
}

impl Scope {
    /// Removes the scope's own entry, if it has one. The link is used in
    /// place and dropped with the scope's fields: moving it out first made
    /// the compiler copy it through the stack in pieces and read it back
    /// whole, a store-forwarding stall that cost ≈ 15 ns per keyed scope.
    fn unlink(&self) {
        if let (Some(link), true) = (&self.link, self.has(KEYED)) {
            // A superseded call ([`Run`] saw its cause, so it is cancel_seen)
            // skips the unlink: its slot already holds its replacement (the
            // cause is recorded only after the swap). Looked at only when
            // cancel_seen, so a normal exit pays nothing for it.
            if !(self.has(CANCEL_SEEN) && self.token.node.is_superseded()) {
                link.unlink(&self.token.node, 0);
            }
        }
    }

    /// A scope unwound by a panic is a cancel worth an event.
    #[cold]
    #[inline(never)]
    fn observe_panicked(&self) {
        let node = &self.token.node;
        crate::observe::cancelled(node, Cause::Panicked, || self.own_link()?.key_text(node));
    }

    /// [`Scope::unlink`], then marks the node ended for leak reports, also
    /// if a key's `Drop` panics in the unlink: once a report no longer lists
    /// the scope, its key is free. Out of line, so that the untracked path
    /// has no drop guard.
    #[cold]
    #[inline(never)]
    fn unlink_tracked(&self) {
        let _end = EndTracked(&self.token.node);
        self.unlink();
    }
}

/// Marks a tracked scope's node ended when dropped, on every path out of
/// [`Scope::unlink_tracked`].
struct EndTracked<'a>(&'a Arc<Node>);

impl Drop for EndTracked<'_> {
    fn drop(&mut self) {
        self.0.end_tracked();
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = &self.token.node.origin;
        f.debug_struct("Scope")
            .field("name", &origin.name())
            .field("file", &origin.file())
            .field("line", &origin.line())
            .field("keyed", &self.has(KEYED))
            .field("cause", &self.token.cause())
            .finish()
    }
}
