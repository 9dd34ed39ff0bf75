//! `Registry::enter_replacing`: latest wins.
//!
//! The new scope's node takes the holder's slot under the shard lock (the
//! key is never free in between, so no plain `enter` can slip in); the
//! displaced node is cancelled with [`Cause::Superseded`] after unlocking.
//! The holder's guard later finds no slot with its node and removes nothing
//! (removal is by hash and node identity), so its exit never removes the
//! new entry, whichever of the two comes first.

use std::sync::Arc;

use hashbrown::hash_table::Entry;

use super::error::EnterError;
use super::storage::Slot;
use super::{Key, Registry};
use crate::cause::Cause;
use crate::link::Link;
use crate::node::Node;
use crate::scope::Scope;
use crate::site::Origin;

impl<K: Key> Registry<K> {
    /// Enters a new scope under `key`, taking the key from the scope that
    /// holds it, if any: latest wins.
    ///
    /// The holder's token is cancelled with [`Cause::Superseded`] before
    /// this returns (its body sees that cause), and its guard's later exit
    /// leaves the new entry alone. Calls waiting for the key
    /// ([`enter_waiting`](Registry::enter_waiting)) keep waiting, now for
    /// the new scope. Refused only with [`EnterError::ShuttingDown`], after
    /// [`shutdown`](Registry::shutdown) until [`reopen`](Registry::reopen).
    ///
    /// On a free key it costs what [`enter`](Registry::enter) costs.
    ///
    /// ```
    /// use scoped_cancel::{Cause, Registry};
    ///
    /// static SEARCHES: Registry<u32> = Registry::new(); // one search per session
    ///
    /// let typed_a = SEARCHES.enter_replacing(7).unwrap();
    /// let typed_ab = SEARCHES.enter_replacing(7).unwrap();   // "ab" supersedes "a"
    /// assert_eq!(typed_a.token().cause(), Some(Cause::Superseded));
    /// assert!(!typed_ab.is_cancelled());
    ///
    /// drop(typed_a);                            // the old guard's exit ...
    /// assert!(SEARCHES.contains_key(&7));       // ... leaves the new entry
    /// drop(typed_ab);
    /// assert!(SEARCHES.is_empty());
    /// ```
    #[track_caller]
    pub fn enter_replacing(&self, key: K) -> Result<Scope, EnterError<K>> {
        self.replace_node(
            key,
            Node::keyed_under(None, Origin::caller("Registry::enter_replacing")),
        )
    }

    /// Takes `key` for a scope on `node`, built by the caller (before the
    /// key's `Hash` and `Eq` run, as in `enter_node`).
    pub(crate) fn replace_node(&self, key: K, node: Arc<Node>) -> Result<Scope, EnterError<K>> {
        // As in `add`: allocation and clones stay outside the shard lock.
        let held = node.clone();
        let Some(mut locked) = self.storage().lock_for_insert(&key) else {
            return Err(EnterError::ShuttingDown(key));
        };
        let (hash, shard) = (locked.hash, locked.shard);
        let displaced = match locked.entry(&key) {
            Entry::Occupied(mut slot) => {
                let slot = slot.get_mut();
                // The new scope's guard unlinks entry 0, whatever entry (a
                // scope's or an `insert`'s) held the key before.
                slot.entry = 0;
                Some((std::mem::replace(&mut slot.node, held), key))
            }
            Entry::Vacant(vacant) => {
                vacant.insert(Slot {
                    key,
                    node: held,
                    hash,
                    entry: 0,
                });
                None
            }
        };
        drop(locked);
        // Outside the lock: the cause is recorded, then the token cancelled
        // (its wakers run user code); the spare key drops here too.
        let link = Link::new(shard.clone(), hash);
        if let Some((old, _key)) = displaced {
            if old.cancel_with(Cause::Superseded) {
                crate::observe::cancelled(&old, Cause::Superseded, || link.key_text(&node));
            }
        }
        Ok(Scope::new(node, Some(link)))
    }
}
