//! Cancel reasons across nodes: one private `redis-server`, registries
//! standing for nodes (each with its own connections and listener). A
//! reason given on node A reaches the scope node B holds, by pub/sub and,
//! when B hears no message, at B's renewal; the first cancel of a holder
//! wins, reason included; reasons of any text and size keep the messages'
//! framing; a lost claim ends the call with `Parent`, not with its
//! lease's own end. Without the binary these fail, unless
//! `SCOPED_CANCEL_SKIP_REDIS=1` asks for the skip. Time bounds are derived
//! from each test's lease with a wide margin.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use scoped_cancel::{Cancelled, Cause, Scope};
use scoped_cancel_redis::{ClusterRegistry, MAX_REASON_LEN};
use support::server::RedisServer;

/// A lease whose renewals (every 20 s) no test here waits for: a cancel
/// that arrives within `SOON` came by pub/sub.
const LONG: Duration = Duration::from_secs(60);
/// For the renewal path: renewals every second.
const LEASE: Duration = Duration::from_secs(3);
/// Bound for one round trip and a pub/sub delivery.
const SOON: Duration = Duration::from_secs(5);

/// Spaces (single, double, trailing), newlines, a tab, and characters of
/// two, three and four bytes: everything a line or space based framing
/// would break on.
const ODD: &str = "the customer said:\n  « stop »\t— 終わり 🦀  ";

async fn node(
    server: &RedisServer,
    ns: &str,
    lease: Duration,
    pubsub: bool,
) -> ClusterRegistry<String> {
    ClusterRegistry::<String>::builder(&server.url())
        .namespace(ns)
        .lease(lease)
        .pubsub(pubsub)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log()))
}

fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.conn())
        .expect("GET")
}

/// Waits (at most `limit`) for `scope`'s token to be cancelled.
async fn cancelled_within(scope: &Scope, limit: Duration, what: &str) {
    tokio::time::timeout(limit, scope.token().cancelled())
        .await
        .unwrap_or_else(|_| panic!("{what}: not cancelled within {limit:?}"));
}

/// The reason `registry`'s local report shows for `key`.
fn reported_reason(registry: &ClusterRegistry<String>, key: &str) -> Option<String> {
    let report = registry.local_report();
    let info = report
        .iter()
        .find(|s| s.key() == key)
        .unwrap_or_else(|| panic!("{key} not in {report:?}"));
    assert_eq!(info.cause(), Some(Cause::Requested), "{info:?}");
    info.reason().map(|r| r.to_string())
}

/// Breaks if the listener drops the message's reason (B's scope is then
/// cancelled without one), or the message framing cuts it at a space or
/// a newline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reason_given_on_one_node_reaches_the_holder_on_another_by_pubsub() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "why-pubsub", LONG, true).await;
    let b = node(&server, "why-pubsub", LONG, true).await;
    assert!(
        SOON * 2 < b.renewal_interval(),
        "no renewal can pass for pub/sub"
    );
    let held = b.enter("held job 7".to_string()).await.unwrap();
    let ran = b.spawn("ran job 8".to_string(), std::future::pending::<()>());
    while !b.holds(&"ran job 8".to_string()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(a
        .cancel_with_reason(&"held job 7".to_string(), ODD)
        .await
        .unwrap());
    assert!(a
        .cancel_with_reason(&"ran job 8".to_string(), ODD)
        .await
        .unwrap());
    cancelled_within(&held, SOON, "held job 7").await;
    let token = held.token();
    assert_eq!(token.cause(), Some(Cause::Requested));
    assert_eq!(token.reason().as_deref(), Some(ODD));
    assert_eq!(reported_reason(&b, "held job 7").as_deref(), Some(ODD));
    // The call raced against the scope returns the reason too.
    let out = tokio::time::timeout(SOON, ran)
        .await
        .expect("run ends")
        .unwrap();
    let cancelled: Cancelled = out.unwrap().unwrap_err();
    assert_eq!(cancelled.cause(), Cause::Requested);
    assert_eq!(cancelled.reason(), Some(ODD));
    // The canceller holds nothing and shows nothing.
    assert!(a.local_report().is_empty());
    // An empty reason is a reason, not none.
    let quiet = b.enter("quiet".to_string()).await.unwrap();
    assert!(a
        .cancel_with_reason(&"quiet".to_string(), "")
        .await
        .unwrap());
    cancelled_within(&quiet, SOON, "quiet").await;
    assert_eq!(quiet.token().reason().as_deref(), Some(""));
}

/// B hears no message: only its renewal can bring the cancel, and the
/// reason with it. Breaks if the renewal script answers a pending cancel
/// without the marker's reason, or renewal drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reason_reaches_a_holder_that_missed_the_message_at_its_renewal() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "why-renew", LONG, true).await;
    let b = node(&server, "why-renew", LEASE, false).await;
    let held = b.enter("held job 7".to_string()).await.unwrap();
    let ran = b.spawn("ran job 8".to_string(), std::future::pending::<()>());
    while !b.holds(&"ran job 8".to_string()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let value = get(&server, "{why-renew}:k:held job 7").expect("claimed");
    assert!(a
        .cancel_with_reason(&"held job 7".to_string(), ODD)
        .await
        .unwrap());
    assert!(a
        .cancel_with_reason(&"ran job 8".to_string(), ODD)
        .await
        .unwrap());
    // The marker: B's value, a space, the reason.
    assert_eq!(
        get(&server, "{why-renew}:x:held job 7"),
        Some(format!("{value} {ODD}"))
    );
    // One renewal interval, then the round itself; a lease is ample.
    cancelled_within(&held, LEASE * 2, "held job 7").await;
    assert_eq!(held.token().cause(), Some(Cause::Requested));
    assert_eq!(held.token().reason().as_deref(), Some(ODD));
    assert_eq!(reported_reason(&b, "held job 7").as_deref(), Some(ODD));
    let out = tokio::time::timeout(LEASE * 2, ran)
        .await
        .expect("run ends")
        .unwrap();
    assert_eq!(out.unwrap().unwrap_err().reason(), Some(ODD));
    // A cancel without a reason stays without one on this path too.
    let plain = b.enter("plain".to_string()).await.unwrap();
    assert!(a.cancel(&"plain".to_string()).await.unwrap());
    cancelled_within(&plain, LEASE * 2, "plain").await;
    assert_eq!(plain.token().cause(), Some(Cause::Requested));
    assert_eq!(plain.token().reason(), None);
}

/// B hears no message and renews only every 20 s, so what B's scope reads
/// comes from Redis's answer to B's own call. Breaks if a later cancel
/// replaces the marker (B would read "second", or no reason after the
/// plain `cancel`), if the message of a later cancel carries its own
/// reason rather than the marker's, or if a node cancels its own holder
/// with its own reason before asking Redis ("third").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_cancel_of_a_holder_wins_with_its_reason_from_any_node() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "why-first", LONG, true).await;
    let b = node(&server, "why-first", LONG, false).await;
    let held = b.enter("k".to_string()).await.unwrap();
    let value = get(&server, "{why-first}:k:k").expect("claimed");
    // What B's node would hear, had it subscribed.
    let mut listen = server.client().get_async_pubsub().await.unwrap();
    listen
        .subscribe(format!("{{why-first}}:cancel:{}", b.node_id()))
        .await
        .unwrap();
    let mut messages = listen.on_message();
    let rkey = "{why-first}:k:k";
    let first_message = format!("{value} {} {rkey} first", rkey.len());
    for (n, call) in ["first", "second", ""].into_iter().enumerate() {
        let found = match call {
            "" => a.cancel(&"k".to_string()).await,
            reason => a.cancel_with_reason(&"k".to_string(), reason).await,
        };
        assert!(found.unwrap(), "cancel {n} finds the holder");
        assert_eq!(
            get(&server, "{why-first}:x:k"),
            Some(format!("{value} first")),
            "marker after cancel {n}"
        );
        let msg = tokio::time::timeout(SOON, messages.next())
            .await
            .expect("published")
            .expect("subscribed");
        assert_eq!(
            msg.get_payload::<String>().unwrap(),
            first_message,
            "message {n}"
        );
    }
    assert!(!held.is_cancelled(), "B heard nothing yet");
    // B's own cancel: Redis answers with the first reason.
    assert!(b
        .cancel_with_reason(&"k".to_string(), "third")
        .await
        .unwrap());
    assert_eq!(held.token().cause(), Some(Cause::Requested));
    assert_eq!(held.token().reason().as_deref(), Some("first"));
    assert_eq!(reported_reason(&b, "k").as_deref(), Some("first"));
    // A cancel marker names one holder: the key's next holder starts clean.
    drop(held);
    let next = loop {
        match b.enter("k".to_string()).await {
            Ok(scope) => break scope,
            Err(scoped_cancel_redis::ClusterError::KeyOccupied { .. }) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(a
        .cancel_with_reason(&"k".to_string(), "new holder")
        .await
        .unwrap());
    assert!(b.cancel(&"k".to_string()).await.unwrap());
    assert_eq!(next.token().reason().as_deref(), Some("new holder"));
}

/// Breaks if `cancel_with_reason` sends a reason over the cap (the marker
/// grows with it), or the listener passes on a message's reason uncut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasons_over_the_cap_arrive_cut_at_a_character_boundary() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "why-long", LONG, true).await;
    let b = node(&server, "why-long", LONG, true).await;
    // 1 + 2 + 3 + 4 bytes a round: the cut falls inside a character.
    let long = "aé終🦀".repeat(MAX_REASON_LEN);
    let check = |reason: Option<std::sync::Arc<str>>| {
        let reason = reason.expect("a reason");
        assert!(reason.len() <= MAX_REASON_LEN, "{} bytes", reason.len());
        let kept = reason.strip_suffix('…').expect("marked as cut");
        assert!(long.starts_with(kept));
        assert!(
            kept.len() + 3 + 4 > MAX_REASON_LEN,
            "cut short: {}",
            kept.len()
        );
        reason
    };
    let sent = b.enter("sent".to_string()).await.unwrap();
    let value = get(&server, "{why-long}:k:sent").unwrap();
    assert!(a
        .cancel_with_reason(&"sent".to_string(), long.as_str())
        .await
        .unwrap());
    cancelled_within(&sent, SOON, "sent").await;
    let reason = check(sent.token().reason());
    assert_eq!(
        get(&server, "{why-long}:x:sent"),
        Some(format!("{value} {reason}"))
    );
    // A sender that does not cut (another program, another version):
    // B's listener cuts what it hears.
    let heard = b.enter("heard".to_string()).await.unwrap();
    let value = get(&server, "{why-long}:k:heard").unwrap();
    let rkey = "{why-long}:k:heard";
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{{why-long}}:cancel:{}", b.node_id()))
        .arg(format!("{value} {} {rkey} {long}", rkey.len()))
        .query(&mut server.conn())
        .unwrap();
    cancelled_within(&heard, SOON, "heard").await;
    check(heard.token().reason());
}

/// Breaks if a lost claim reaches the scope through a parent scope of its
/// own: the call would return that parent's `ScopeExited`, as if the scope
/// had ended, rather than `Parent`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_claim_ends_the_call_with_parent_and_no_reason() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "why-lost", LEASE, true).await;
    let ran = a.spawn("k".to_string(), std::future::pending::<()>());
    while !a.holds(&"k".to_string()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _: () = redis::cmd("SET")
        .arg("{why-lost}:k:k")
        .arg("intruder|1|1|1")
        .query(&mut server.conn())
        .unwrap();
    let out = tokio::time::timeout(LEASE * 2, ran)
        .await
        .expect("found lost at a renewal")
        .unwrap();
    let cancelled = out.unwrap().unwrap_err();
    assert_eq!(cancelled.cause(), Cause::Parent);
    assert_eq!(cancelled.reason(), None);
}
