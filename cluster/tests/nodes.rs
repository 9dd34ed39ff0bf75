//! Real node processes sharing a real `redis-server` on loopback: claims,
//! cancels, crashes, pauses, restarts and shutdowns. Each test starts its
//! own server; without the binary they fail (unless
//! `SCOPED_CANCEL_SKIP_REDIS=1` asks for the skip). Every time bound is
//! derived from the lease with a wide margin, or replaced by a signal.
//!
//! Each test calls `serve_if_node()` first: a node process is this binary
//! run with the test's own name as its filter (see `support::node`).

mod support;

use std::time::{Duration, Instant};

use support::node::{serve_if_node, Node, NodeConfig};
use support::server::RedisServer;

/// The nodes' lease (default margin: a fifth of it).
const LEASE: Duration = Duration::from_secs(3);
/// Their renewal interval: a third of the lease.
const RENEWAL: Duration = Duration::from_secs(1);
/// A lease long enough that a renewal cannot pass for a pub/sub delivery.
const LONG_LEASE: Duration = Duration::from_secs(30);

fn config(server: &RedisServer, namespace: &str) -> NodeConfig {
    NodeConfig {
        url: server.url(),
        namespace: namespace.to_owned(),
        lease: LEASE,
        pubsub: true,
    }
}

fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.conn())
        .expect("GET")
}

fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.conn())
        .expect("PTTL")
}

/// Waits until `key`'s TTL has gone back up `n` times (each a renewal
/// Redis applied), failing after `limit`. A signal, not a sleep: the
/// renewals this waits for are the events the caller's assertions follow.
fn wait_renewals(server: &RedisServer, key: &str, n: usize, limit: Duration) {
    let start = Instant::now();
    let mut last = pttl(server, key);
    let mut seen = 0;
    while seen < n {
        assert!(
            start.elapsed() < limit,
            "{key}: {seen} of {n} renewals within {limit:?} (PTTL {last})"
        );
        std::thread::sleep(Duration::from_millis(10));
        let now = pttl(server, key);
        assert!(now > 0, "{key} expired or gone (PTTL {now})");
        if now > last {
            seen += 1;
        }
        last = now;
    }
}

fn lease_keys(server: &RedisServer, namespace: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{{{namespace}}}:k:*"))
        .query(&mut server.conn())
        .expect("KEYS")
}

#[test]
fn three_nodes_racing_for_1000_keys_each_key_has_exactly_one_winner() {
    serve_if_node();
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = NodeConfig {
        lease: LONG_LEASE,
        ..config(&server, "race")
    };
    let mut nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            Node::start(
                n,
                &cfg,
                "three_nodes_racing_for_1000_keys_each_key_has_exactly_one_winner",
            )
        })
        .collect();
    // Each node starts at a different key and goes round: every key is
    // contended by a node early in its list and another late in it.
    for (n, node) in nodes.iter_mut().enumerate() {
        node.send(&format!("enter_many job 1000 {}", n * 333));
    }
    let mut owner = vec![None; 1000];
    for (n, node) in nodes.iter_mut().enumerate() {
        let won = node.expect("@won", Duration::from_secs(30));
        let list = won.split(' ').nth(2).unwrap_or("");
        for i in list.split(',').filter(|s| !s.is_empty()) {
            let i: usize = i.parse().unwrap();
            assert_eq!(owner[i], None, "key job{i} won twice\n{}", server.log());
            owner[i] = Some(n);
        }
    }
    let free: Vec<usize> = (0..1000).filter(|&i| owner[i].is_none()).collect();
    assert!(free.is_empty(), "keys nobody won: {free:?}");
    // Redis agrees: each key names the node that says it won it.
    for (i, n) in owner.iter().enumerate() {
        let value = get(&server, &format!("{{race}}:k:job{i}")).expect("held");
        assert!(value.starts_with(&nodes[n.unwrap()].id), "job{i}: {value}");
    }
    // One node's report lists every holder on every node (a node may have
    // lost every race: count the nodes that won some).
    let winners: std::collections::BTreeSet<usize> = owner.iter().flatten().copied().collect();
    let report = nodes[0].ask("report", "@report");
    assert_eq!(report, format!("@report 1000 {}", winners.len()));
    for node in &mut nodes {
        node.ask("release_all", "@released");
    }
    // Releases are sent in the background: all keys gone far within the
    // 30 s lease (which would free them too, but much later).
    let start = Instant::now();
    while !lease_keys(&server, "race").is_empty() {
        assert!(start.elapsed() < LONG_LEASE / 4, "keys left after release");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `cancel key` from `from`; the holder must report its job cancelled
/// within `limit`. Returns the cause it saw.
fn cancel_within(from: &mut Node, holder: &mut Node, key: &str, limit: Duration) -> String {
    assert_eq!(
        from.ask(&format!("cancel {key}"), "@cancel"),
        format!("@cancel {key} true")
    );
    let line = holder.expect(&format!("@cancelled {key}"), limit);
    line.rsplit(' ').next().unwrap().to_owned()
}

#[test]
fn cancel_from_another_node_reaches_the_holder_even_without_its_subscription() {
    serve_if_node();
    let Some(server) = RedisServer::start() else {
        return;
    };
    const TEST: &str = "cancel_from_another_node_reaches_the_holder_even_without_its_subscription";
    // A's renewals are 10 s apart: a cancel that arrives within half of
    // that after a renewal came by pub/sub (or the resubscribe's round).
    let long = NodeConfig {
        lease: LONG_LEASE,
        ..config(&server, "cancel")
    };
    let mut a = Node::start("a", &long, TEST);
    let mut b = Node::start("b", &long, TEST);
    let half = LONG_LEASE / 3 / 2;

    a.ask("enter job1", "@entered job1");
    assert!(
        b.ask("enter job1", "@").starts_with("@occupied job1"),
        "B sees A's claim"
    );
    wait_renewals(&server, "{cancel}:k:job1", 1, LONG_LEASE);
    assert_eq!(cancel_within(&mut b, &mut a, "job1", half), "Requested");

    // Kill every pub/sub connection (A's among them), cancel at once: the
    // resubscribe's renewal round reads the marker (or the new subscription
    // hears a later message) long before A's next scheduled renewal.
    a.ask("enter job2", "@entered job2");
    wait_renewals(&server, "{cancel}:k:job2", 1, LONG_LEASE);
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query(&mut server.conn())
        .expect("CLIENT KILL");
    assert!(killed >= 2, "killed {killed} pub/sub connections");
    assert_eq!(cancel_within(&mut b, &mut a, "job2", half), "Requested");

    // A node with no subscription at all: the marker alone, at its next
    // renewal (one interval of the short lease), with room to spare.
    let mut c = Node::start(
        "c",
        &NodeConfig {
            pubsub: false,
            ..config(&server, "cancel")
        },
        TEST,
    );
    c.ask("enter job3", "@entered job3");
    assert_eq!(
        cancel_within(&mut b, &mut c, "job3", RENEWAL * 2 + LEASE),
        "Requested"
    );
    // Nobody holds job1..3 any more; cancelling a free key finds nobody.
    assert_eq!(b.ask("cancel nothing", "@cancel"), "@cancel nothing false");
}

#[test]
fn a_cancelled_scope_keeps_its_key_until_its_guard_drops() {
    serve_if_node();
    let Some(server) = RedisServer::start() else {
        return;
    };
    const TEST: &str = "a_cancelled_scope_keeps_its_key_until_its_guard_drops";
    // Renewals every 2 s: a key freed within 3 s of the release was
    // released, not expired (which takes 6 s after a renewal).
    let cfg = NodeConfig {
        lease: LEASE * 2,
        ..config(&server, "keep")
    };
    let mut a = Node::start("a", &cfg, TEST);
    let mut b = Node::start("b", &cfg, TEST);
    // `enter_many` scopes are not raced against their tokens: they stay.
    a.ask("enter_many held 1", "@won 1");
    b.ask("cancel held0", "@cancel held0 true");
    // Two renewals after the cancel: A has read the marker and cancelled
    // the scope, and renewed the claim since, which it still holds.
    wait_renewals(&server, "{keep}:k:held0", 2, cfg.lease * 3);
    assert!(get(&server, "{keep}:k:held0").unwrap().starts_with(&a.id));
    assert!(b.ask("enter held0", "@").starts_with("@occupied held0"));
    a.ask("release_all", "@released 1");
    let start = Instant::now();
    while get(&server, "{keep}:k:held0").is_some() {
        assert!(start.elapsed() < cfg.lease / 2, "not released at once");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn kill_9_frees_the_keys_within_the_lease_and_another_node_takes_them() {
    serve_if_node();
    let Some(server) = RedisServer::start() else {
        return;
    };
    const TEST: &str = "kill_9_frees_the_keys_within_the_lease_and_another_node_takes_them";
    let cfg = config(&server, "crash");
    let mut a = Node::start("a", &cfg, TEST);
    let mut b = Node::start("b", &cfg, TEST);
    a.ask("enter job", "@entered job");
    assert_eq!(b.ask("enter job", "@"), format!("@occupied job {}", a.id));
    a.kill9();
    let killed = Instant::now();
    loop {
        let reply = b.ask("enter job", "@");
        if reply.starts_with("@entered job") {
            break;
        }
        assert!(reply.starts_with("@occupied job"), "{reply}");
        // Redis expires the claim one lease after A's last renewal, which
        // came before the kill: twice the lease is a wide bound.
        assert!(
            killed.elapsed() < LEASE * 2,
            "still held {:?} after kill -9\n{}",
            killed.elapsed(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(get(&server, "{crash}:k:job").unwrap().starts_with(&b.id));
}

#[test]
fn sigstop_past_the_lease_cancels_the_paused_holder_by_its_own_clock_before_it_touches_redis() {
    serve_if_node();
    let Some(server) = RedisServer::start() else {
        return;
    };
    const TEST: &str =
        "sigstop_past_the_lease_cancels_the_paused_holder_by_its_own_clock_before_it_touches_redis";
    let cfg = config(&server, "pause");
    let mut a = Node::start("a", &cfg, TEST);
    let mut b = Node::start("b", &cfg, TEST);
    let entered = a.ask("enter job", "@entered job");
    let fence_a: u64 = entered.rsplit(' ').next().unwrap().parse().unwrap();
    a.signal("STOP");
    let stopped = Instant::now();
    let fence_b: u64 = loop {
        let reply = b.ask("enter job", "@");
        if reply.starts_with("@entered job") {
            break reply.rsplit(' ').next().unwrap().parse().unwrap();
        }
        assert!(
            stopped.elapsed() < LEASE * 2,
            "A's claim outlived its lease"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        fence_b > fence_a,
        "fencing tokens grow: {fence_a} then {fence_b}"
    );
    let b_value = get(&server, "{pause}:k:job").unwrap();
    assert!(b_value.starts_with(&b.id));
    // Redis freezes before A wakes: no renewal can answer A, so whatever
    // cancels A's job now is A's own lease clock (B got the key only after
    // Redis expired A's claim, a lease after A's last renewal; A's clock
    // ends lease − margin after it).
    server.signal("STOP");
    a.signal("CONT");
    let first = a.next_line(LEASE * 2);
    server.signal("CONT");
    assert_eq!(first.as_deref(), Some("@cancelled job Parent"));
    assert_eq!(a.ask("holds job", "@holds"), "@holds job false");
    // A's compare-and-delete has landed once A's next enter of the key
    // (which first waits for A's pending release) is refused by B's claim.
    assert_eq!(a.ask("enter job", "@"), format!("@occupied job {}", b.id));
    assert_eq!(get(&server, "{pause}:k:job").as_deref(), Some(&*b_value));
    assert_eq!(b.ask("holds job", "@holds"), "@holds job true");
}

#[test]
fn redis_restarted_empty_cancels_every_held_scope_and_nodes_reconnect() {
    serve_if_node();
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    const TEST: &str = "redis_restarted_empty_cancels_every_held_scope_and_nodes_reconnect";
    let cfg = config(&server, "restart");
    let mut a = Node::start("a", &cfg, TEST);
    let mut b = Node::start("b", &cfg, TEST);
    a.ask("enter ja", "@entered ja");
    b.ask("enter jb", "@entered jb");
    server.restart_empty();
    // The claims are gone: each holder is cancelled at its next renewal
    // (or by its clock), none re-acquires.
    assert_eq!(a.expect("@cancelled ja", LEASE * 2), "@cancelled ja Parent");
    assert_eq!(b.expect("@cancelled jb", LEASE * 2), "@cancelled jb Parent");
    assert!(
        lease_keys(&server, "restart").is_empty(),
        "nothing re-acquired"
    );
    // Reconnected: claims work again, still exclusive.
    let start = Instant::now();
    loop {
        let reply = a.ask("enter jc", "@");
        if reply.starts_with("@entered jc") {
            break;
        }
        assert!(start.elapsed() < LEASE * 2, "A did not reconnect: {reply}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(b.ask("enter jc", "@"), format!("@occupied jc {}", a.id));
}

#[test]
fn redis_restarted_with_its_data_lets_holders_reassert_their_claims() {
    serve_if_node();
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    const TEST: &str = "redis_restarted_with_its_data_lets_holders_reassert_their_claims";
    // A longer lease: the restart must fit in lease − margin (4.8 s).
    let cfg = NodeConfig {
        lease: LEASE * 2,
        ..config(&server, "persist")
    };
    let mut a = Node::start("a", &cfg, TEST);
    a.ask("enter ja", "@entered ja");
    let before = get(&server, "{persist}:k:ja").unwrap();
    server.restart_persisted();
    assert_eq!(get(&server, "{persist}:k:ja").as_deref(), Some(&*before));
    // Renewed twice after the restart, never cancelled.
    wait_renewals(&server, "{persist}:k:ja", 2, cfg.lease * 2);
    assert_eq!(a.ask("holds ja", "@holds"), "@holds ja true");
    assert_eq!(get(&server, "{persist}:k:ja").as_deref(), Some(&*before));
    a.send("exit ja");
    assert_eq!(a.expect("@", LEASE), "@exited ja");
}

#[test]
fn clean_shutdown_deletes_the_nodes_keys_at_once() {
    serve_if_node();
    let Some(server) = RedisServer::start() else {
        return;
    };
    const TEST: &str = "clean_shutdown_deletes_the_nodes_keys_at_once";
    let cfg = NodeConfig {
        lease: LONG_LEASE,
        ..config(&server, "bye")
    };
    let mut a = Node::start("a", &cfg, TEST);
    let mut b = Node::start("b", &cfg, TEST);
    a.ask("enter j1", "@entered j1");
    a.ask("enter j2", "@entered j2");
    a.ask("enter_many m 3", "@won 3");
    assert_eq!(lease_keys(&server, "bye").len(), 5);
    // Every scope ends when cancelled: the shutdown returns at once.
    a.send("shutdown 60000");
    let mut lines = Vec::new();
    loop {
        let line = a.expect("@", LONG_LEASE);
        let done = line.starts_with("@shutdown");
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(
        lines.contains(&"@cancelled j1 Shutdown".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"@cancelled j2 Shutdown".to_owned()),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "@shutdown 0");
    // At once: not after the 30 s lease.
    assert!(lease_keys(&server, "bye").is_empty());
    b.ask("enter j1", "@entered j1");
    a.wait_exit(LONG_LEASE);
}
