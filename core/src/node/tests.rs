//! The tree of managed nodes: cancel, drop and reuse, at depth and at width.

use super::*;

fn origin() -> Origin {
    Origin::caller("test")
}

/// Places in `node`'s list, free or not.
fn list_len(node: &Node) -> usize {
    node.lock_shared()
        .children
        .as_ref()
        .map_or(0, |children| children.places())
}

/// Children in `node`'s list that are still alive.
fn alive(node: &Node) -> usize {
    node.lock_shared()
        .children
        .as_ref()
        .map_or(0, |children| children.alive())
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
fn a_node_takes_104_bytes() {
    // 96 before the tree; its parent pointer is paid for by the token's
    // bare `OnceLock` (no enum), the slot sits in padding, and the
    // children's box pointer is the 8 bytes more. The `tracing`
    // feature's state comes on top.
    let size = std::mem::size_of::<Node>() - std::mem::size_of::<crate::observe::NodeState>();
    assert!(size <= 104, "{size}");
}

#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled() {
    let parent = Node::root(origin());
    parent.cancel_with(Cause::Deadline);
    let child = Node::child_of(&parent, origin());
    assert_eq!(child.cause(), Some(Cause::Parent));
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
}

#[test]
fn descendants_of_an_adopted_token_follow_its_source() {
    let source = CancellationToken::new();
    let adopted = Node::adopted(source.child_token(), origin());
    let child = Node::child_of(&adopted, origin());
    let grandchild = Node::child_of(&child, origin());
    assert!(!child.is_managed() && !grandchild.is_managed());
    source.cancel();
    assert_eq!(grandchild.cause(), Some(Cause::Parent));
    assert!(child.is_cancelled());
}
