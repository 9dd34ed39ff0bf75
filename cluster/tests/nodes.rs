//! Real node processes sharing a real `redis-server` on loopback: claims,
//! cancels, crashes, pauses, restarts and shutdowns. Each test starts its
//! own server; without the binary they skip (or fail when `CI` is set).

mod support;

use std::time::{Duration, Instant};

use support::node::{serve_if_node, Node, NodeConfig};
use support::server::RedisServer;

const ENTRY: &str = "node_process";
const LEASE: Duration = Duration::from_millis(1000);
/// One renewal interval (lease / 3), and slack for a loaded machine.
const RENEWAL: Duration = Duration::from_millis(334);
const SLACK: Duration = Duration::from_millis(700);

/// Not a test: the entry point of the node processes the tests start.
#[test]
fn node_process() {
    serve_if_node();
}

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

fn lease_keys(server: &RedisServer, namespace: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{{{namespace}}}:k:*"))
        .query(&mut server.conn())
        .expect("KEYS")
}

#[test]
fn three_nodes_racing_for_1000_keys_each_key_has_exactly_one_winner() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = config(&server, "race");
    let mut nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|n| Node::start(n, &cfg, ENTRY))
        .collect();
    // Each node starts at a different key and goes round: every key is
    // contended by a node early in its list and another late in it.
    for (n, node) in nodes.iter_mut().enumerate() {
        node.send(&format!("enter_many job 1000 {}", n * 333));
    }
    let mut owner = vec![None; 1000];
    for (n, node) in nodes.iter_mut().enumerate() {
        let won = node.expect("@won", Duration::from_secs(20));
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
    // Releases are sent in the background: all keys gone soon after.
    let start = Instant::now();
    while !lease_keys(&server, "race").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "keys left after release"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `cancel key` from `from` and returns how long the holder took to
/// report its job cancelled (with the cause it saw).
fn cancel_and_time(from: &mut Node, holder: &mut Node, key: &str) -> (Duration, String) {
    let start = Instant::now();
    assert_eq!(
        from.ask(&format!("cancel {key}"), "@cancel"),
        format!("@cancel {key} true")
    );
    let line = holder.expect(&format!("@cancelled {key}"), RENEWAL * 3 + SLACK);
    (start.elapsed(), line.rsplit(' ').next().unwrap().to_owned())
}

#[test]
fn cancel_from_another_node_reaches_the_holder_even_without_its_subscription() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = config(&server, "cancel");
    let mut a = Node::start("a", &cfg, ENTRY);
    let mut b = Node::start("b", &cfg, ENTRY);

    a.ask("enter job1", "@entered job1");
    assert!(
        b.ask("enter job1", "@").starts_with("@occupied job1"),
        "B sees A's claim"
    );
    let (took, cause) = cancel_and_time(&mut b, &mut a, "job1");
    assert_eq!(cause, "Requested");
    assert!(took < RENEWAL + SLACK, "by pub/sub: {took:?}");

    // Kill every pub/sub connection (A's among them), cancel at once: the
    // marker read at A's renewal (or the resubscribe's reconcile) delivers.
    a.ask("enter job2", "@entered job2");
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query(&mut server.conn())
        .expect("CLIENT KILL");
    assert!(killed >= 2, "killed {killed} pub/sub connections");
    let (took, cause) = cancel_and_time(&mut b, &mut a, "job2");
    assert_eq!(cause, "Requested");
    assert!(took < RENEWAL + SLACK, "after CLIENT KILL: {took:?}");

    // A node with no subscription at all: the marker alone.
    let mut c = Node::start(
        "c",
        &NodeConfig {
            pubsub: false,
            ..cfg
        },
        ENTRY,
    );
    c.ask("enter job3", "@entered job3");
    let (took, cause) = cancel_and_time(&mut b, &mut c, "job3");
    assert_eq!(cause, "Requested");
    assert!(took < RENEWAL + SLACK, "by the marker alone: {took:?}");
    // Nobody holds job1..3 any more; cancelling a free key finds nobody.
    assert_eq!(b.ask("cancel nothing", "@cancel"), "@cancel nothing false");
}

#[test]
fn a_cancelled_scope_keeps_its_key_until_its_guard_drops() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = config(&server, "keep");
    let mut a = Node::start("a", &cfg, ENTRY);
    let mut b = Node::start("b", &cfg, ENTRY);
    // `enter_many` scopes are not raced against their tokens: they stay.
    a.ask("enter_many held 1", "@won 1");
    b.ask("cancel held0", "@cancel held0 true");
    std::thread::sleep(RENEWAL * 2);
    assert!(get(&server, "{keep}:k:held0").unwrap().starts_with(&a.id));
    assert!(b.ask("enter held0", "@").starts_with("@occupied held0"));
    a.ask("release_all", "@released 1");
    let start = Instant::now();
    while get(&server, "{keep}:k:held0").is_some() {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn kill_9_frees_the_keys_within_lease_and_margin_and_another_node_takes_them() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = config(&server, "crash");
    let mut a = Node::start("a", &cfg, ENTRY);
    let mut b = Node::start("b", &cfg, ENTRY);
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
        assert!(
            killed.elapsed() < LEASE + SLACK,
            "still held {:?} after kill -9\n{}",
            killed.elapsed(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(get(&server, "{crash}:k:job").unwrap().starts_with(&b.id));
}

#[test]
fn sigstop_past_the_lease_cancels_the_paused_holder_which_never_touches_the_new_claim() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = config(&server, "pause");
    let mut a = Node::start("a", &cfg, ENTRY);
    let mut b = Node::start("b", &cfg, ENTRY);
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
            stopped.elapsed() < LEASE + SLACK,
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
    // Stay stopped well past the lease, then resume: the first thing A
    // reports is its job cancelled, by its own lease clock.
    std::thread::sleep(LEASE.saturating_sub(stopped.elapsed()) + RENEWAL);
    a.signal("CONT");
    let first = a
        .next_line(Duration::from_secs(5))
        .expect("A reports after SIGCONT");
    assert_eq!(first, "@cancelled job Parent");
    assert_eq!(a.ask("holds job", "@holds"), "@holds job false");
    // A's guard has dropped (its compare-and-delete went out) and A renewed
    // whatever it still had: B's claim is untouched, value and lease.
    std::thread::sleep(RENEWAL * 2);
    assert_eq!(get(&server, "{pause}:k:job").as_deref(), Some(&*b_value));
    assert_eq!(b.ask("holds job", "@holds"), "@holds job true");
}

#[test]
fn redis_restarted_empty_cancels_every_held_scope_and_nodes_reconnect() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let cfg = config(&server, "restart");
    let mut a = Node::start("a", &cfg, ENTRY);
    let mut b = Node::start("b", &cfg, ENTRY);
    a.ask("enter ja", "@entered ja");
    b.ask("enter jb", "@entered jb");
    server.restart_empty();
    // The claims are gone: each holder is cancelled, none re-acquires.
    assert_eq!(
        a.expect("@cancelled ja", LEASE + SLACK * 2),
        "@cancelled ja Parent"
    );
    assert_eq!(
        b.expect("@cancelled jb", LEASE + SLACK * 2),
        "@cancelled jb Parent"
    );
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
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "A did not reconnect: {reply}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(b.ask("enter jc", "@"), format!("@occupied jc {}", a.id));
}

#[test]
fn redis_restarted_with_its_data_lets_holders_reassert_their_claims() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    // A longer lease: the restart must fit in lease − margin.
    let cfg = NodeConfig {
        lease: Duration::from_secs(4),
        ..config(&server, "persist")
    };
    let mut a = Node::start("a", &cfg, ENTRY);
    a.ask("enter ja", "@entered ja");
    let before = get(&server, "{persist}:k:ja").unwrap();
    server.restart_persisted();
    assert_eq!(get(&server, "{persist}:k:ja").as_deref(), Some(&*before));
    // Two renewal intervals later: still held, renewed (TTL back near the
    // full lease), never cancelled.
    std::thread::sleep(cfg.lease / 3 * 2 + Duration::from_millis(200));
    assert_eq!(a.ask("holds ja", "@holds"), "@holds ja true");
    let ttl: i64 = redis::cmd("PTTL")
        .arg("{persist}:k:ja")
        .query(&mut server.conn())
        .unwrap();
    assert!(ttl > 2000, "renewed after the restart: PTTL {ttl}");
    a.send("exit ja");
    assert_eq!(a.expect("@", Duration::from_secs(5)), "@exited ja");
}

#[test]
fn clean_shutdown_deletes_the_nodes_keys_at_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cfg = NodeConfig {
        lease: Duration::from_secs(30),
        ..config(&server, "bye")
    };
    let mut a = Node::start("a", &cfg, ENTRY);
    let mut b = Node::start("b", &cfg, ENTRY);
    a.ask("enter j1", "@entered j1");
    a.ask("enter j2", "@entered j2");
    a.ask("enter_many m 3", "@won 3");
    assert_eq!(lease_keys(&server, "bye").len(), 5);
    a.send("shutdown 2000");
    let mut lines = Vec::new();
    loop {
        let line = a.expect("@", Duration::from_secs(5));
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
    // At once: not after a 30 s lease.
    assert!(lease_keys(&server, "bye").is_empty());
    b.ask("enter j1", "@entered j1");
    a.wait_exit(Duration::from_secs(5));
}
