//! `TaskGroup`: tasks that live inside one scope, and end with it.

mod error;
mod state;
mod task;

use std::fmt;
use std::future::{poll_fn, Future};
use std::sync::Arc;

pub use error::GroupError;
use state::{Failure, Shared};
use task::{CatchUnwind, End, Task};

use crate::cause::Cancelled;
use crate::node::{Node, TaskCount};
use crate::run::Run;
use crate::scope::Scope;
use crate::site::Origin;
use crate::token::Token;

/// Tasks spawned inside one scope, joined together: structured concurrency
/// (Kotlin's `coroutineScope` and `supervisorScope`, Trio's nursery, Java's
/// `StructuredTaskScope`).
///
/// - **A scope of its own.** Made inside a scope (a `#[scoped_cancel]`
///   body, [`Scope::run`], a request under the tower layer), the group is
///   that scope's child: cancelling the caller cancels every task. Outside
///   any scope it is a root. Each task runs in a child scope of the group,
///   which is its [`Token::current`].
/// - **Fail fast, or not.** In a [`TaskGroup::new`] group, the first task
///   to return `Err` or to panic cancels its siblings (their tokens read
///   [`Cause::Parent`](crate::Cause::Parent), their calls'
///   [`Cancelled`] [`Cause::SiblingFailed`](crate::Cause::SiblingFailed));
///   a [`TaskGroup::supervised`] group lets the others run on.
/// - **Nothing outlives it.** [`join`](TaskGroup::join) returns only once
///   every task has ended; dropping the group without joining it cancels
///   its tasks ([`Cause::ScopeExited`](crate::Cause::ScopeExited)), which
///   end at their next `.await`.
/// - **Counted.** Inside a keyed scope, the tasks count in that scope's
///   registry ([`Registry::shutdown`](crate::Registry::shutdown) waits for
///   them), and leak checks see their scopes and tasks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use scoped_cancel::{GroupError, TaskGroup, Token};
///
/// let mut group = TaskGroup::new();
/// for part in 0..3u32 {
///     group.spawn(async move {
///         if part == 1 {
///             return Err(format!("part {part} is corrupt"));
///         }
///         // The siblings are cancelled at their next `.await`.
///         Token::current().unwrap().cancelled().await;
///         Ok(part)
///     });
/// }
/// match group.join().await {
///     Err(GroupError::Failed(error)) => assert_eq!(error, "part 1 is corrupt"),
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
///
/// # Panics
///
/// [`spawn`](TaskGroup::spawn) panics without a tokio runtime, saying so.
#[must_use = "dropping a task group cancels its tasks: `join` it"]
pub struct TaskGroup<T, E> {
    scope: Scope,
    shared: Arc<Shared<T, E>>,
    fail_fast: bool,
    /// A runtime was found at the first spawn (looked for once a group).
    on_runtime: bool,
}

impl<T: Send + 'static, E: Send + 'static> TaskGroup<T, E> {
    /// A fail-fast group: the first task to fail (return `Err` or panic)
    /// cancels the others.
    #[track_caller]
    pub fn new() -> Self {
        TaskGroup::make(true, Origin::caller("TaskGroup::new"))
    }

    /// A supervised group: a task's failure cancels no sibling; `join`
    /// still returns the first failure, once every task has ended.
    #[track_caller]
    pub fn supervised() -> Self {
        TaskGroup::make(false, Origin::caller("TaskGroup::supervised"))
    }

    fn make(fail_fast: bool, origin: Origin) -> Self {
        let scope = Scope::from_node(crate::ambient::child_of_current(origin, false));
        TaskGroup {
            scope,
            shared: Arc::new(Shared::new()),
            fail_fast,
            on_runtime: false,
        }
    }

    /// Spawns `fut` as a task in a new child scope of the group.
    ///
    /// The task is raced against its scope, like [`Scope::spawn`]: when
    /// the group is cancelled it is dropped at its next `.await`. Its
    /// value is kept for [`join`](TaskGroup::join), in spawn order.
    #[track_caller]
    pub fn spawn<F>(&mut self, fut: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        #[cfg(not(shuttle))]
        if !self.on_runtime {
            crate::needs_tokio::runtime("`TaskGroup::spawn`", "to spawn the task");
            self.on_runtime = true;
        }
        let child = Scope::from_node(Node::child_of(
            self.scope.node(),
            Origin::caller("TaskGroup::spawn"),
        ));
        let counted = TaskCount::below(child.node());
        let end = End {
            index: self.shared.start(),
            shared: self.shared.clone(),
            fail_fast: self.fail_fast.then(|| self.scope.token()),
            own: child.token(),
            outcome: None,
            _counted: counted,
        };
        let task = Task::new(Run::new(child, CatchUnwind::new(fut), None, false), end);
        #[cfg(not(shuttle))]
        drop(tokio::spawn(task));
        // Shuttle's handle aborts its task when dropped: keep it running
        // detached, as tokio's does (models only).
        #[cfg(shuttle)]
        std::mem::forget(shuttle::future::spawn(task));
    }

    /// Cancels every task of the group (with [`Cause::Requested`](crate::Cause::Requested)
    /// on the group's scope); `join` then returns
    /// [`GroupError::Cancelled`] unless every task had returned already.
    pub fn cancel(&self) -> bool {
        self.scope.cancel()
    }

    /// The group's token: the parent of every task's.
    pub fn token(&self) -> Token {
        self.scope.token()
    }

    /// Waits until every task has ended, then returns their values in
    /// spawn order, or why it cannot: the first failure in time
    /// ([`GroupError::Failed`], [`GroupError::Panicked`]), else
    /// [`GroupError::Cancelled`] if a task was cancelled before it
    /// returned (the group was cancelled, or the scope around it).
    ///
    /// Dropping the future before it completes drops the group: its tasks
    /// are cancelled.
    pub async fn join(self) -> Result<Vec<T>, GroupError<E>> {
        let done = poll_fn(|cx| self.shared.poll_done(cx)).await;
        match (done.failure, done.cancelled) {
            (Some(Failure::Failed(error)), _) => Err(GroupError::Failed(error)),
            (Some(Failure::Panicked(panic)), _) => Err(GroupError::Panicked(panic)),
            (None, Some(cancelled)) => Err(GroupError::Cancelled(cancelled)),
            (None, None) => Ok(done
                .values
                .into_iter()
                .map(|value| value.expect("a task that ended without failure left its value"))
                .collect()),
        }
    }
}

impl<T: Send + 'static, E: Send + 'static> Default for TaskGroup<T, E> {
    #[track_caller]
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("fail_fast", &self.fail_fast)
            .field("scope", &self.scope)
            .finish()
    }
}

/// So that `?` turns a task's plain cancellation into the group's error.
impl<E> From<Cancelled> for GroupError<E> {
    fn from(cancelled: Cancelled) -> Self {
        GroupError::Cancelled(cancelled)
    }
}
