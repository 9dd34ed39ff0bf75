//! `Registry::enter_waiting`: wait your turn for a key (first come, first
//! served), and the future the macro's `occupied = wait` awaits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hashbrown::hash_table::Entry;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::error::EnterError;
use super::queue::{State, Waiter};
use super::storage::{ShardImpl, Slot, Storage};
use super::{Key, Registry};
use crate::cause::Cancelled;
use crate::link::Link;
use crate::node::Node;
use crate::race::Watch;
use crate::scope::Scope;
use crate::site::Origin;

impl<K: Key> Registry<K> {
    /// Enters a new scope under `key` as soon as the key is free: a future
    /// that waits its turn behind the calls already waiting for `key`.
    ///
    /// The call joins `key`'s queue when `enter_waiting` is *called* (not
    /// when the future is first polled), so calls get the key in the order
    /// they called. When the holder's scope ends, the key passes directly
    /// to the oldest waiter (it is never free in between, so a plain
    /// [`enter`](Registry::enter) cannot slip in) and only that waiter is
    /// woken; waiters sleep until then. A key that is free is taken at once.
    ///
    /// Dropping the future leaves the queue (the next waiter moves up); if
    /// it had already been handed the key, the key passes on to the next.
    /// [`shutdown`](Registry::shutdown) refuses every waiter with
    /// [`EnterError::ShuttingDown`] from the moment it is called. A holder
    /// cancelled by [`cancel`](Registry::cancel) or
    /// [`cancel_all`](Registry::cancel_all) hands the key on when its scope
    /// ends: those cancel live scopes, not the calls waiting behind them.
    /// A [`replace`](Registry::enter_replacing) takes the key from its
    /// holder without going through the queue; the waiters then wait for
    /// the replacement.
    ///
    /// Waiters show in [`report`](Registry::report)
    /// ([`ScopeInfo::waiting`](crate::ScopeInfo::waiting)) and, under a leak
    /// check, as live calls waiting for their key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use scoped_cancel::Registry;
    ///
    /// static MIGRATIONS: Registry<&str> = Registry::new();
    ///
    /// let first = MIGRATIONS.enter("tenant-a").unwrap();
    /// let second = MIGRATIONS.enter_waiting("tenant-a");  // queued now
    /// assert_eq!(MIGRATIONS.waiting(), 1);
    ///
    /// drop(first);                                     // hands the key on
    /// let second = second.await.unwrap();
    /// assert!(MIGRATIONS.contains_key("tenant-a"));
    /// drop(second);
    /// assert!(MIGRATIONS.is_empty());
    /// # }
    /// ```
    #[track_caller]
    pub fn enter_waiting(&self, key: K) -> EnterWaiting<K> {
        self.wait_node(
            key,
            Node::keyed_under(None, Origin::caller("Registry::enter_waiting")),
        )
    }

    /// How many calls are waiting for a key, over all keys.
    pub fn waiting(&self) -> usize {
        self.storage
            .get()
            .map_or(0, |s| s.shards().map(|shard| shard.queues.len()).sum())
    }

    /// Queues for `key` with a scope on `node`, built by the caller.
    pub(crate) fn wait_node(&self, key: K, node: Arc<Node>) -> EnterWaiting<K> {
        let held = node.clone();
        // Refused under the shard lock, as in `add`: shutdown's drain of the
        // queues comes after the flag, so a waiter is refused either here
        // or there.
        let Some(mut locked) = self.storage().lock_for_insert(&key) else {
            return EnterWaiting::ready(Err(EnterError::ShuttingDown(key)));
        };
        let (hash, shard) = (locked.hash, locked.shard);
        let waiter = match locked.entry(&key) {
            Entry::Vacant(vacant) => {
                vacant.insert(Slot {
                    key,
                    node: held,
                    hash,
                    entry: 0,
                });
                drop(locked);
                let link = Link::new(shard.clone(), hash);
                return EnterWaiting::ready(Ok(Scope::new(node, Some(link))));
            }
            Entry::Occupied(_) => {
                let waiter = Waiter::new(held);
                // scoped-cancel-audit: allow(the registry's own wait queues: a waiter leaves its queue when its future drops or it is handed the key)
                shard.queues.push(hash, &key, waiter.clone());
                waiter
            }
        };
        drop(locked);
        // Recorded now, so a call stuck in the queue shows in leak checks.
        let tracked = crate::live::attach(&node, || Some(Link::new(shard.clone(), hash).key_ref()));
        EnterWaiting {
            state: Wait::Queued(Queued {
                shard: shard.clone(),
                hash,
                key,
                waiter,
                tracked,
            }),
        }
    }
}

/// Refuses every queued waiter: `shutdown` calls this right after it sets
/// the refusing flag.
pub(crate) fn refuse_waiters<K: Key>(storage: &Storage<K>) {
    for shard in storage.shards() {
        let table = shard.lock();
        if !shard.queues.any() {
            continue;
        }
        let refused = shard.queues.refuse_all();
        drop(table);
        refused.finish();
    }
}

/// The future [`Registry::enter_waiting`] returns: resolves to the new
/// [`Scope`] once the key is this call's, or to
/// [`EnterError::ShuttingDown`]. Dropping it leaves the queue.
#[must_use = "dropping the future leaves the queue: await it to get the key"]
pub struct EnterWaiting<K: Key> {
    state: Wait<K>,
}

enum Wait<K: Key> {
    /// Decided when called: the key was free, or the registry refusing.
    Ready(Result<Scope, EnterError<K>>),
    Queued(Queued<K>),
    Done,
}

struct Queued<K: Key> {
    shard: Arc<ShardImpl<K>>,
    hash: u64,
    key: K,
    waiter: Arc<Waiter>,
    tracked: bool,
}

impl<K: Key> Queued<K> {
    fn scope(self) -> Scope {
        let link = Link::new(self.shard, self.hash);
        Scope::attached(self.waiter.node.clone(), Some(link), self.tracked)
    }

    /// Where a granted or refused waiter ends up.
    fn finish(self) -> Result<Scope, EnterError<K>> {
        match self.waiter.state() {
            State::Granted => Ok(self.scope()),
            State::Refused | State::Queued => {
                if self.tracked {
                    self.waiter.node.end_tracked();
                }
                Err(EnterError::ShuttingDown(self.key))
            }
        }
    }

    /// The future was dropped: leave the queue, or pass on a key that was
    /// already handed over.
    fn abandon(self) {
        let table = self.shard.lock();
        let (left, leftover) = self.shard.queues.leave(self.hash, &self.waiter);
        drop(table);
        drop(leftover);
        if !left && self.waiter.state() == State::Granted {
            // Ending the scope it was given cancels its token and unlinks,
            // which hands the key to the next waiter.
            drop(self.scope());
        } else if self.tracked {
            self.waiter.node.end_tracked();
        }
    }
}

impl<K: Key> EnterWaiting<K> {
    fn ready(result: Result<Scope, EnterError<K>>) -> Self {
        EnterWaiting {
            state: Wait::Ready(result),
        }
    }

    /// The waiting call's node while it is queued.
    fn queued_node(&self) -> Option<&Arc<Node>> {
        match &self.state {
            Wait::Queued(queued) => Some(&queued.waiter.node),
            _ => None,
        }
    }
}

// Nothing in it is pinned: the key and the scope move out when it completes.
impl<K: Key> Unpin for EnterWaiting<K> {}

impl<K: Key> Future for EnterWaiting<K> {
    type Output = Result<Scope, EnterError<K>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &this.state {
            Wait::Queued(queued) => {
                if queued.waiter.state() == State::Queued {
                    queued.waiter.register(cx.waker());
                    // Looked at again after registering: see `Waiter::register`.
                    if queued.waiter.state() == State::Queued {
                        return Poll::Pending;
                    }
                }
            }
            Wait::Ready(_) => {}
            Wait::Done => panic!("`EnterWaiting` polled after it completed"),
        }
        match std::mem::replace(&mut this.state, Wait::Done) {
            Wait::Ready(result) => Poll::Ready(result),
            Wait::Queued(queued) => Poll::Ready(queued.finish()),
            Wait::Done => Poll::Pending,
        }
    }
}

impl<K: Key> Drop for EnterWaiting<K> {
    fn drop(&mut self) {
        if let Wait::Queued(queued) = std::mem::replace(&mut self.state, Wait::Done) {
            queued.abandon();
        }
    }
}

impl<K: Key> fmt::Debug for EnterWaiting<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            Wait::Ready(Ok(_)) => "entered",
            Wait::Ready(Err(_)) => "refused",
            Wait::Queued(queued) => match queued.waiter.state() {
                State::Queued => "waiting",
                State::Granted => "granted",
                State::Refused => "refused",
            },
            Wait::Done => "done",
        };
        f.debug_struct("EnterWaiting")
            .field("state", &state)
            .finish()
    }
}

pin_project! {
    /// What `occupied = wait` awaits: the wait, raced against the call's
    /// deadline and against its scope's cancellation (the waiting node is
    /// a child of the call's parent, whatever gave that parent), through
    /// the one race of `race.rs`. Resolves to the scope and what is left
    /// of the timeout.
    #[doc(hidden)]
    pub struct WaitCall<K: Key> {
        wait: EnterWaiting<K>,
        watch: Watch,
        deadline: Option<Instant>,
    }
}

impl<K: Key> WaitCall<K> {
    pub(crate) fn new(
        registry: &Registry<K>,
        key: K,
        node: Arc<Node>,
        timeout: Option<Duration>,
    ) -> Self {
        // The deadline counts from the call's start, waiting included; one
        // past what the clock can count (`Duration::MAX`) is none.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut watch = Watch::new();
        watch.set_deadline(deadline);
        WaitCall {
            wait: registry.wait_node(key, node),
            watch,
            deadline,
        }
    }
}

impl<K: Key> Future for WaitCall<K> {
    type Output = Result<(Scope, Option<Duration>), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let wait = this.wait;
        let Some(node) = wait.queued_node().cloned() else {
            // Decided when called: entered or refused.
            return match Pin::new(wait).poll(cx) {
                Poll::Ready(result) => Poll::Ready(granted(result, *this.deadline)),
                Poll::Pending => Poll::Pending,
            };
        };
        // The key first: a call granted as its deadline passes still runs
        // (and its scope's own deadline ends it at once).
        match this
            .watch
            .race(&node, None, false, cx, |cx| Pin::new(wait).poll(cx))
        {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(result)) => Poll::Ready(granted(result, *this.deadline)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(crate::race::cancelled(&node))),
        }
    }
}

/// The scope and what is left of the timeout, or the refusal.
fn granted<K>(
    result: Result<Scope, EnterError<K>>,
    deadline: Option<Instant>,
) -> Result<(Scope, Option<Duration>), Cancelled> {
    match result {
        Ok(scope) => {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            Ok((scope, left))
        }
        Err(refused) => Err(Cancelled::from(refused)),
    }
}
