//! Removal is by identity: a guard removes its own slot and no other, even
//! when one token sits under several keys whose hashes collide (same hash,
//! same shard, same token), and when the guard is stale — also when the
//! newer entry is under the same key and holds the same token, so that only
//! the entry number tells them apart.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use scoped_cancel::{Cause, Registry, RegistryEntry, Scope};

/// Every value hashes alike: all keys share one hash, hence one shard and
/// one probe sequence.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Colliding(u32);

impl Hash for Colliding {
    fn hash<H: Hasher>(&self, state: &mut H) {
        0u8.hash(state);
    }
}

fn present(reg: &Registry<Colliding>, keys: impl IntoIterator<Item = u32>) -> BTreeSet<u32> {
    keys.into_iter()
        .filter(|k| reg.contains_key(&Colliding(*k)))
        .collect()
}

enum Guard {
    Scope(Scope),
    Entry(RegistryEntry),
}

/// One scope under key 0 and its token inserted under keys 1..=4, all with
/// one hash; the guards dropped in every order of a set of permutations.
/// After each drop exactly the keys of the guards still alive are present.
#[test]
fn one_token_under_colliding_keys_each_guard_removes_only_its_own_slot() {
    let orders: [[usize; 5]; 6] = [
        [0, 1, 2, 3, 4],
        [4, 3, 2, 1, 0],
        [1, 0, 3, 2, 4],
        [2, 4, 0, 1, 3],
        [3, 1, 4, 0, 2],
        [1, 2, 3, 4, 0],
    ];
    for order in orders {
        let reg = Registry::<Colliding>::new();
        let scope = reg.enter(Colliding(0)).expect("free");
        let token = scope.token();
        let mut guards: Vec<Option<Guard>> = vec![Some(Guard::Scope(scope))];
        for k in 1..=4 {
            let entry = reg.insert(Colliding(k), token.clone()).expect("free");
            guards.push(Some(Guard::Entry(entry)));
        }
        assert_eq!(reg.len(), 5);
        let mut alive: BTreeSet<u32> = (0..=4).collect();
        for &i in &order {
            match guards[i].take().expect("dropped once") {
                Guard::Scope(scope) => drop(scope),
                Guard::Entry(entry) => drop(entry),
            }
            alive.remove(&(i as u32));
            assert_eq!(
                present(&reg, 0..=4),
                alive,
                "order {order:?}: after dropping the guard of key {i}"
            );
            // The token is cancelled exactly when its scope (key 0) has ended.
            assert_eq!(token.is_cancelled(), !alive.contains(&0));
        }
        assert!(reg.is_empty());
    }
}

/// A stale entry (its token's scope ended, the scope's key re-entered by a
/// new scope under a colliding key) removes only its own slot, and `cancel`
/// on its key never reaches the new scope.
#[test]
fn a_stale_entry_removes_only_its_own_slot() {
    let reg = Registry::<Colliding>::new();
    let old = reg.enter(Colliding(1)).expect("free");
    let stale = reg.insert(Colliding(2), old.token()).expect("free");
    drop(old);
    assert!(stale.token().is_cancelled());
    assert_eq!(present(&reg, 1..=3), BTreeSet::from([2]));

    // Key 1 re-entered; the new token also indexed under key 3.
    let new = reg.enter(Colliding(1)).expect("key 1 was released");
    let also = reg.insert(Colliding(3), new.token()).expect("free");
    assert!(
        !reg.cancel(&Colliding(2)),
        "the stale token is already cancelled"
    );
    assert!(!new.is_cancelled());

    drop(stale);
    assert_eq!(present(&reg, 1..=3), BTreeSet::from([1, 3]));
    assert!(!new.is_cancelled(), "the stale guard touched the new scope");

    drop(also);
    assert_eq!(present(&reg, 1..=3), BTreeSet::from([1]));
    drop(new);
    assert!(reg.is_empty());
}

/// The same token inserted twice under one key is refused (one slot per
/// key), and the refusal leaves the first entry in place.
#[test]
fn the_same_token_under_the_same_key_is_refused() {
    let reg = Registry::<Colliding>::new();
    let scope = Scope::root();
    let first = reg.insert(Colliding(5), scope.token()).expect("free");
    assert!(reg.insert(Colliding(5), scope.token()).is_err());
    assert!(reg.contains_key(&Colliding(5)));
    drop(first);
    assert!(reg.is_empty());
}

/// Stale guards for the key a newer entry now holds: a scope displaced by
/// `enter_replacing`, an indexed entry displaced the same way, and guards
/// whose newer entry holds the very same token under the same key. None
/// removes the newer entry, and a cancel by the key reaches only the
/// current holder, never the stale one's token again.
#[test]
fn a_stale_guard_never_removes_a_newer_entry_for_the_same_key() {
    let reg = Registry::<Colliding>::new();
    // Neighbours in the same collision chain, which must stay untouched.
    let neighbours: Vec<Scope> = [10, 11]
        .into_iter()
        .map(|k| reg.enter(Colliding(k)).expect("free"))
        .collect();
    let k = || Colliding(1);

    // A displaced scope: its guard ends after the new holder entered.
    let old = reg.enter(k()).expect("free");
    let new = reg.enter_replacing(k()).expect("replaces");
    drop(old);
    assert!(
        reg.contains_key(&k()),
        "the stale scope removed the new entry"
    );
    assert!(reg.cancel(&k()), "the key's entry is the new, live scope");
    assert_eq!(new.token().cause(), Some(Cause::Requested));
    drop(new);
    assert!(!reg.contains_key(&k()));

    // The same token under the same key twice: the first entry displaced,
    // then the token indexed again. Only the entry number differs.
    let owner = Scope::root();
    let first = reg.insert(k(), owner.token()).expect("free");
    let between = reg.enter_replacing(k()).expect("replaces");
    assert_eq!(owner.token().cause(), Some(Cause::Superseded));
    drop(between);
    let second = reg.insert(k(), owner.token()).expect("free again");
    drop(first);
    assert!(
        reg.contains_key(&k()),
        "a stale entry removed a newer one of the same token"
    );
    assert!(
        !reg.cancel(&k()),
        "the token under the key is already cancelled"
    );
    drop(second);
    assert!(!reg.contains_key(&k()));

    // A displaced scope whose own token is then indexed under its old key:
    // the scope's guard (entry 0) must leave the index's entry alone.
    let scope = reg.enter(k()).expect("free");
    let between = reg.enter_replacing(k()).expect("replaces");
    drop(between);
    let index = reg.insert(k(), scope.token()).expect("free again");
    drop(scope);
    assert!(
        reg.contains_key(&k()),
        "a stale scope removed an entry of its own token"
    );
    drop(index);
    assert!(!reg.contains_key(&k()));

    assert_eq!(present(&reg, [10, 11]), BTreeSet::from([10, 11]));
    assert!(neighbours.iter().all(|n| !n.is_cancelled()));
    drop(neighbours);
    assert!(reg.is_empty());
}
