//! The tree: cancel, drop and reuse, at depth and at width; callbacks.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use super::*;

fn origin() -> Origin {
    Origin::caller("test")
}

/// Places in `node`'s list, free or not (0 once a cancel took it).
fn list_len(node: &Node) -> usize {
    let shared = node.lock_shared();
    let listeners = shared
        .more
        .as_ref()
        .and_then(|more| more.listeners.as_ref());
    listeners.map_or(0, |l| l.places())
}

/// Listeners in `node`'s list that are still alive.
fn alive(node: &Node) -> usize {
    let shared = node.lock_shared();
    let listeners = shared
        .more
        .as_ref()
        .and_then(|more| more.listeners.as_ref());
    listeners.map_or(0, |l| l.alive())
}

#[test]
fn a_deep_chain_is_cancelled_from_its_root_without_recursion() {
    let root = Node::root(origin());
    let mut chain = vec![root.clone()];
    for _ in 0..200_000 {
        let child = Node::child_of(chain.last().unwrap(), origin());
        chain.push(child);
    }
    assert!(chain.iter().all(|node| !node.is_cancelled()));
    assert!(root.cancel_with(Cause::Requested));
    assert!(chain[1..]
        .iter()
        .all(|node| node.cause() == Some(Cause::Parent)));
    // The leaf's root cause is found through the whole chain.
    let leaf = chain.last().unwrap();
    assert_eq!(leaf.root_cause().map(|(c, _)| c), Some(Cause::Requested));
    // Dropped from the root down: each node's list holds weak entries.
    drop(chain);
}

#[test]
fn a_child_leaves_its_parents_list_when_it_drops_and_its_place_is_reused() {
    let parent = Node::root(origin());
    let live: Vec<_> = (0..100)
        .map(|_| Node::child_of(&parent, origin()))
        .collect();
    for _ in 0..100_000 {
        let child = Node::child_of(&parent, origin());
        child.cancel_with(Cause::ScopeExited);
    }
    // 100 live children and the one place each new child reused.
    assert_eq!(list_len(&parent), 101);
    assert_eq!(alive(&parent), 100);
    drop(live);
    assert_eq!(alive(&parent), 0);
    let again: Vec<_> = (0..101)
        .map(|_| Node::child_of(&parent, origin()))
        .collect();
    assert_eq!(list_len(&parent), 101, "freed places are reused");
    parent.cancel_with(Cause::Requested);
    assert!(again.iter().all(|c| c.cause() == Some(Cause::Parent)));
    assert_eq!(list_len(&parent), 0);
}

#[test]
fn a_child_holding_the_last_handle_to_a_deep_chain_drops_it_without_recursion() {
    let mut leaf = Node::root(origin());
    for _ in 0..200_000 {
        leaf = Node::child_of(&leaf, origin());
    }
    // Only the leaf is held: each node holds its parent.
    drop(leaf);
}

#[test]
fn a_node_takes_at_most_104_bytes() {
    // The token's `OnceLock` (16), cause, flags and slot (8), the origin
    // (24), creation stamp and deadline (16), the lock with the waker and
    // the box of listeners (32 + 8), the parent (8). Neither observability
    // feature adds to it. The bound is a cliff, not a budget: with the
    // `Arc`'s counts a node is a 120-byte allocation, in glibc's fast bins
    // (chunks up to 128 bytes); at 112 bytes (tried: a first child kept in
    // the node) every node leaves them, and a tracked call paid +185
    // instructions, a root call +25.
    let size = std::mem::size_of::<Node>();
    assert!(size <= 104, "{size}");
}

#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled() {
    let parent = Node::root(origin());
    parent.cancel_with(Cause::Deadline);
    let child = Node::child_of(&parent, origin());
    assert_eq!(child.cause(), Some(Cause::Parent));
    assert_eq!(child.root_cause().map(|(c, _)| c), Some(Cause::Deadline));
    assert!(child.ct().is_cancelled());
    assert_eq!(list_len(&parent), 0);
}

#[test]
fn a_childs_own_cause_stands_when_its_parent_is_cancelled_later() {
    let parent = Node::root(origin());
    let child = Node::child_of(&parent, origin());
    let grandchild = Node::child_of(&child, origin());
    assert!(child.cancel_with(Cause::Requested));
    assert_eq!(grandchild.cause(), Some(Cause::Parent));
    parent.cancel_with(Cause::ScopeExited);
    assert_eq!(child.cause(), Some(Cause::Requested));
    assert_eq!(
        grandchild.root_cause().map(|(c, _)| c),
        Some(Cause::Requested)
    );
}

#[test]
fn descendants_of_an_adopted_token_follow_its_source_through_the_bridge() {
    let source = CancellationToken::new();
    let adopted = Node::adopted(&source, origin());
    let child = Node::child_of(&adopted, origin());
    let grandchild = Node::child_of(&child, origin());
    source.cancel();
    // Recorded by the bridge, on this thread, inside `cancel`: no read of
    // the foreign token is needed.
    assert_eq!(grandchild.recorded_cause(), Some(Cause::Parent));
    assert_eq!(adopted.recorded_cause(), Some(Cause::Parent));
    assert!(child.is_cancelled());
    assert_eq!(grandchild.root_cause().map(|(c, _)| c), Some(Cause::Parent));
}

#[test]
fn an_adopted_node_never_cancels_its_source() {
    let source = CancellationToken::new();
    let adopted = Node::adopted(&source, origin());
    assert!(adopted.cancel_with(Cause::ScopeExited));
    assert!(!source.is_cancelled());
    assert!(adopted.ct().is_cancelled());
}

#[test]
fn callbacks_run_once_after_the_cause_in_order_and_at_once_when_late() {
    let node = Node::root(origin());
    let seen = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let seen = seen.clone();
        let index = node.listen(Box::new(move |n| {
            seen.lock().unwrap().push((i, n.recorded_cause()));
        }));
        assert!(index.is_some());
    }
    node.cancel_with(Cause::Deadline);
    node.cancel_with(Cause::Requested);
    let expected: Vec<_> = (0..3).map(|i| (i, Some(Cause::Deadline))).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    let late = seen.clone();
    assert!(node
        .listen(Box::new(move |_| late.lock().unwrap().push((9, None))))
        .is_none());
    assert_eq!(seen.lock().unwrap().len(), 4);
}

#[test]
fn an_unregistered_callback_leaves_nothing_and_never_runs() {
    let node = Node::root(origin());
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        let runs = runs.clone();
        let index = node
            .listen(Box::new(move |_| {
                runs.fetch_add(1, SeqCst);
            }))
            .unwrap();
        assert!(node.unlisten(index));
        assert!(!node.unlisten(index), "a place is freed once");
    }
    assert_eq!(list_len(&node), 1, "one place, reused");
    assert_eq!(alive(&node), 0);
    assert_eq!(Arc::strong_count(&runs), 1, "every callback was dropped");
    node.cancel_with(Cause::Requested);
    assert_eq!(runs.load(SeqCst), 0);
}

#[test]
fn a_panicking_callback_does_not_stop_the_others_and_panics_after_them() {
    let node = Node::root(origin());
    let child = Node::child_of(&node, origin());
    let runs = Arc::new(AtomicUsize::new(0));
    let first = runs.clone();
    let _ = node.listen(Box::new(move |_| {
        first.fetch_add(1, SeqCst);
        panic!("first");
    }));
    let second = runs.clone();
    let _ = node.listen(Box::new(move |_| {
        second.fetch_add(1, SeqCst);
        panic!("second");
    }));
    let cancel = std::panic::AssertUnwindSafe(|| node.cancel_with(Cause::Requested));
    let panic = std::panic::catch_unwind(cancel).unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"first"));
    assert_eq!(runs.load(SeqCst), 2);
    assert_eq!(child.cause(), Some(Cause::Parent), "the child was reached");
}

#[test]
fn the_reason_of_the_winning_cancel_reaches_descendants() {
    let parent = Node::root(origin());
    let child = Node::child_of(&parent, origin());
    assert!(parent.cancel_with_reason(Cause::Requested, "first".into()));
    assert!(!parent.cancel_with_reason(Cause::Requested, "second".into()));
    assert_eq!(parent.reason().as_deref(), Some("first"));
    assert_eq!(child.reason().as_deref(), Some("first"));
    let plain = Node::root(origin());
    plain.cancel_with(Cause::Requested);
    assert!(!plain.cancel_with_reason(Cause::Requested, "late".into()));
    assert_eq!(plain.reason(), None);
}

#[test]
fn end_hooks_run_only_when_asked_in_order() {
    let node = Node::root(origin());
    let seen = Arc::new(Mutex::new(Vec::new()));
    for i in 0..2 {
        let seen = seen.clone();
        node.on_end(Box::new(move || seen.lock().unwrap().push(i)));
    }
    node.cancel_with(Cause::Requested);
    assert!(seen.lock().unwrap().is_empty(), "a cancel is not an end");
    node.run_end_hooks();
    assert_eq!(*seen.lock().unwrap(), vec![0, 1]);
}

#[test]
fn a_cancel_hands_back_a_list_only_while_a_listener_is_in_it() {
    // Every child left (nested calls that returned): nothing to walk.
    let parent = Node::root(origin());
    for _ in 0..3 {
        drop(Node::child_of(&parent, origin()));
    }
    assert!(list_len(&parent) > 0, "the list itself is kept for reuse");
    let (won, taken) = parent.cancel_taking(Cause::ScopeExited);
    assert!(won);
    assert!(taken.is_none(), "an emptied list is not handed back");

    // A child still alive, and one that left.
    let parent = Node::root(origin());
    let child = Node::child_of(&parent, origin());
    let gone = Node::child_of(&parent, origin());
    drop(gone);
    let (_, taken) = parent.cancel_taking(Cause::ScopeExited);
    let taken = taken.expect("a live child is in the list");
    drop(parent.run_taken(taken));
    assert_eq!(child.cause(), Some(Cause::Parent));
}
