//! `Registry<K>`: live scopes indexed by key.

mod entry;
mod error;
mod queue;
mod replace;
mod report;
mod shutdown;
pub(crate) mod storage;
mod wait;

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use hashbrown::hash_table::Entry;

pub use entry::RegistryEntry;
pub use error::EnterError;
pub use report::{ScopeInfo, ShutdownReport};
pub use wait::{EnterWaiting, WaitCall};

use crate::cause::Cause;
use crate::link::Link;
use crate::node::Node;
use crate::scope::Scope;
use crate::site::Origin;
use crate::storable::Storable;
use storage::{Slot, Storage};

/// What a registry key must be.
///
/// `Debug` is required so that every leak report and every [`EnterError`]
/// can name the key it is about.
///
/// The registry runs a key's `Eq` and `Hash` while it looks the key up,
/// its `Clone` to report it, and its `Drop` when an entry goes, and some of
/// these run under the lock of one of the registry's shards. They must not
/// call back into the registry (a deadlock), and should be quick; a panic
/// in one of them is contained (the registry stays consistent, and no
/// entry is lost) and surfaces at the call that ran it.
pub trait Key: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static {}

impl<K: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static> Key for K {}

/// Live scopes indexed by key: cancel by key, list, and shut down.
///
/// Entries are added by [`enter`](Registry::enter) (a new scope) and
/// [`insert`](Registry::insert) (an existing scoped token under another key),
/// and removed only when their guard drops. A key has at most one live entry.
///
/// ```
/// use scoped_cancel::{Cause, Registry};
///
/// static JOBS: Registry<u64> = Registry::new();
///
/// let scope = JOBS.enter(7).unwrap();
/// let token = scope.token();
/// assert!(JOBS.contains_key(&7));
/// assert!(JOBS.enter(7).is_err());          // one live scope per key
///
/// assert!(JOBS.cancel(&7));
/// assert_eq!(token.cause(), Some(Cause::Requested));
/// assert!(JOBS.contains_key(&7));            // the guard still holds the key
///
/// drop(scope);
/// assert!(JOBS.is_empty());
/// ```
pub struct Registry<K> {
    storage: OnceLock<Arc<Storage<K>>>,
}

impl<K> Registry<K> {
    /// An empty registry; `const`, so a plain `static` works. Storage is
    /// allocated on first use.
    pub const fn new() -> Self {
        Registry {
            storage: OnceLock::new(),
        }
    }
}

impl<K> Default for Registry<K> {
    fn default() -> Self {
        Registry::new()
    }
}

impl<K: Key> Registry<K> {
    pub(crate) fn storage(&self) -> &Arc<Storage<K>> {
        self.storage.get_or_init(|| Arc::new(Storage::new()))
    }

    /// Enters a new scope under `key`.
    ///
    /// Fails with [`EnterError::Occupied`] if `key` has a live scope (which
    /// is left untouched), or [`EnterError::ShuttingDown`] after
    /// [`shutdown`](Registry::shutdown) until [`reopen`](Registry::reopen).
    /// `let _ = JOBS.enter(k)?` ends the scope at once: bind it.
    #[track_caller]
    pub fn enter(&self, key: K) -> Result<Scope, EnterError<K>> {
        self.enter_at(key, Origin::caller("Registry::enter"), None)
    }

    /// [`Registry::enter`] with a scope whose token is a child of `parent`.
    #[track_caller]
    pub fn enter_child(&self, key: K, parent: &crate::Token) -> Result<Scope, EnterError<K>> {
        self.enter_at(
            key,
            Origin::caller("Registry::enter_child"),
            Some(&parent.node),
        )
    }

    pub(crate) fn enter_at(
        &self,
        key: K,
        origin: Origin,
        parent: Option<&Arc<Node>>,
    ) -> Result<Scope, EnterError<K>> {
        // Built before locking: allocation and the parent's lock stay outside
        // the shard lock. A refused node is dropped un-cancelled, unseen.
        self.enter_node(key, Node::keyed_under(parent, origin))
    }

    /// Enters `key` with a node built by the caller (a child of the current
    /// scope, built while no user code can run).
    pub(crate) fn enter_node(&self, key: K, node: Arc<Node>) -> Result<Scope, EnterError<K>> {
        let link = self.add(key, &node, 0)?;
        Ok(Scope::new(node, Some(link)))
    }

    /// Indexes an existing scoped token under another `key`; the entry is
    /// removed when the returned guard drops (the token's own scope still
    /// decides when it is cancelled).
    ///
    /// Only [`Storable`] values are accepted: a `Token<Scoped>`. An
    /// un-scoped token or a raw `CancellationToken` is a compile error.
    pub fn insert<T: Storable>(&self, key: K, token: T) -> Result<RegistryEntry, EnterError<K>> {
        let node = token.into_token().node;
        let entry = self
            .storage()
            .common
            .entries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let link = self.add(key, &node, entry)?;
        Ok(RegistryEntry::new(link, node, entry))
    }

    /// Adds a slot for `node` under `key`, with entry number `entry` (0 for
    /// a scope's own slot).
    fn add(&self, key: K, node: &Arc<Node>, entry: u64) -> Result<Link, EnterError<K>> {
        // Cloned before locking; a refused clone drops unlocked.
        let node = node.clone();
        let Some(mut locked) = self.storage().lock_for_insert(&key) else {
            return Err(EnterError::ShuttingDown(key));
        };
        let (hash, shard) = (locked.hash, locked.shard);
        match locked.entry(&key) {
            Entry::Occupied(_) => {
                drop(locked);
                Err(EnterError::Occupied(key))
            }
            Entry::Vacant(vacant) => {
                vacant.insert(Slot {
                    key,
                    node,
                    hash,
                    entry,
                });
                drop(locked);
                Ok(Link::new(shard.clone(), hash))
            }
        }
    }

    /// `true` if `key` has a live entry (cancelled or not: only the guard
    /// removes it).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(storage) = self.storage.get() else {
            return false;
        };
        let hash = storage.hash(key);
        let table = storage.shard(hash).lock();
        table.find(hash, |slot| slot.key.borrow() == key).is_some()
    }

    /// Cancels the scope under `key` with [`Cause::Requested`]. `true` if
    /// there was a live, not yet cancelled scope and this call cancelled it.
    ///
    /// The entry stays until the scope's guard drops. Racing the scope's own
    /// exit is safe: this call acts on the token it found, never on a newer
    /// scope that re-entered the key.
    pub fn cancel<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cancel_found(key, None)
    }

    /// [`Registry::cancel`] with a reason, which the scope's token, the
    /// `Cancelled` its call returns, reports and events carry (see
    /// [`Scope::cancel_with_reason`]). `false` (and the reason dropped) if
    /// there was no live, not yet cancelled scope under `key`.
    ///
    /// ```
    /// use scoped_cancel::Registry;
    ///
    /// static EXPORTS: Registry<u64> = Registry::new();
    /// let export = EXPORTS.enter(7).unwrap();
    /// assert!(EXPORTS.cancel_with_reason(&7, "user 42 deleted the report"));
    /// assert_eq!(export.token().reason().as_deref(), Some("user 42 deleted the report"));
    /// ```
    pub fn cancel_with_reason<Q>(&self, key: &Q, reason: impl Into<Arc<str>>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cancel_found(key, Some(reason.into()))
    }

    fn cancel_found<Q>(&self, key: &Q, reason: Option<Arc<str>>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(storage) = self.storage.get() else {
            return false;
        };
        let hash = storage.hash(key);
        let shard = storage.shard(hash);
        let node = {
            let table = shard.lock();
            match table.find(hash, |slot| slot.key.borrow() == key) {
                Some(slot) => slot.node.clone(),
                None => return false,
            }
        };
        // Cancelled after the shard lock is released: wakers run user code.
        let won = match reason {
            None => node.cancel_with(Cause::Requested),
            Some(reason) => node.cancel_with_reason(Cause::Requested, reason),
        };
        if won {
            use crate::link::Shard;
            crate::observe::cancelled(&node, Cause::Requested, || shard.key_text(hash, &node));
        }
        won
    }

    /// Cancels every live scope with [`Cause::Shutdown`]; returns how many
    /// this call cancelled. New scopes may still enter: see
    /// [`shutdown`](Registry::shutdown) to refuse them.
    pub fn cancel_all(&self) -> usize {
        self.cancel_all_with(Cause::Shutdown)
    }

    pub(crate) fn cancel_all_with(&self, cause: Cause) -> usize {
        let mut deferred = crate::node::Deferred::none();
        let Some(storage) = self.storage.get() else {
            return 0;
        };
        // Snapshot under the shard locks, cancel outside them (wakers run
        // user code). In address order, which mostly follows creation order:
        // the woken tasks then run and end in the order they were spawned, as
        // they do after a parent token's cancel; in hash order the tasks end
        // scattered and the fan-out takes a few times longer (BENCHMARKS.md,
        // "Cancel fan-out"). The sort costs a few ms at 100,000.
        // A callback that panics does not stop the others: the first panic
        // is raised once every scope is cancelled.
        let mut nodes = storage.nodes();
        nodes.sort_unstable_by_key(|node| Arc::as_ptr(node) as usize);
        let mut cancelled = 0;
        for node in nodes {
            let (won, panic) = node.cancel_deferred(cause, None);
            deferred.join(panic);
            if won {
                cancelled += 1;
                crate::observe::cancelled(&node, cause, || None);
            }
        }
        deferred.finish();
        cancelled
    }

    /// The number of live entries.
    pub fn len(&self) -> usize {
        self.storage.get().map_or(0, |s| s.len())
    }

    /// `true` if there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Accepts new scopes again after [`shutdown`](Registry::shutdown).
    pub fn reopen(&self) {
        if let Some(storage) = self.storage.get() {
            storage
                .common
                .refusing
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// `true` from the moment `shutdown` is called until `reopen`.
    pub fn is_shutting_down(&self) -> bool {
        self.storage
            .get()
            .is_some_and(|s| s.common.refusing.load(std::sync::atomic::Ordering::SeqCst))
    }
}

impl<K: Key> fmt::Debug for Registry<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("len", &self.len())
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}
