//! One process, one private `redis-server`, several registries standing for
//! nodes: the API's contract (errors, causes, fences, reports, run/spawn,
//! lost leases, dropped futures, timeouts, settings, shutdown). Without the
//! binary these fail, unless `SCOPED_CANCEL_SKIP_REDIS=1` asks for the skip.
//! Time bounds are derived from each test's lease with a wide margin.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use scoped_cancel::Cause;
use scoped_cancel_redis::{ClusterError, ClusterRegistry};
use support::server::RedisServer;

/// For tests that wait for renewals (one every second).
const LEASE: Duration = Duration::from_secs(3);
/// The default: a lease no test waits out, so that a key freed within
/// `SOON` was released, not expired; "at once" is far within a quarter.
const LONG: Duration = Duration::from_secs(60);
/// Bound for things that take one round trip or a background release.
const SOON: Duration = Duration::from_secs(5);

async fn node_with(server: &RedisServer, ns: &str, lease: Duration) -> ClusterRegistry<String> {
    ClusterRegistry::<String>::builder(&server.url())
        .namespace(ns)
        .lease(lease)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log()))
}

async fn node(server: &RedisServer, ns: &str) -> ClusterRegistry<String> {
    node_with(server, ns, LONG).await
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

/// Polls `check` every 5 ms until it holds, failing after `limit`.
async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `key`'s TTL has gone back up `n` times: `n` renewals that
/// Redis applied (the signal the caller's assertions follow).
async fn renewals(server: &RedisServer, key: &str, n: usize, limit: Duration) {
    let start = Instant::now();
    let mut last = pttl(server, key);
    let mut seen = 0;
    while seen < n {
        assert!(start.elapsed() < limit, "{key}: {seen} of {n} renewals");
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = pttl(server, key);
        assert!(now > 0, "{key} expired or gone (PTTL {now})");
        if now > last {
            seen += 1;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_claims_its_key_and_its_end_deletes_the_claim() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "life").await;
    let scope = a.enter("job 7".to_string()).await.unwrap();
    let value = get(&server, "{life}:k:job 7").expect("claimed");
    assert!(value.starts_with(a.node_id()), "{value}");
    assert!(a.holds(&"job 7".to_string()));
    assert_eq!(a.len(), 1);
    let token = scope.token();
    drop(scope);
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
    assert!(a.is_empty());
    eventually("claim deleted", SOON, || {
        get(&server, "{life}:k:job 7").is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_occupied_names_the_holder_on_this_node_and_on_others() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "busy").await;
    let b = node(&server, "busy").await;
    assert_ne!(a.node_id(), b.node_id());
    let _scope = a.enter("k".to_string()).await.unwrap();
    for (who, registry) in [("same node", &a), ("other node", &b)] {
        match registry.enter("k".to_string()).await {
            Err(ClusterError::KeyOccupied { key, holder }) => {
                assert_eq!(key, "k", "{who}");
                assert_eq!(holder.node(), a.node_id(), "{who}");
                assert_eq!(Some(holder.fence()), a.fence(&"k".to_string()), "{who}");
                let text = ClusterError::KeyOccupied { key, holder }.to_string();
                assert!(
                    text.contains(a.node_id()) && text.contains("\"k\""),
                    "{text}"
                );
            }
            other => panic!("{who}: expected KeyOccupied, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_grow_with_every_grant() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "fence").await;
    let b = node(&server, "fence").await;
    let mut last = 0;
    for i in 0..20 {
        let registry = if i % 2 == 0 { &a } else { &b };
        let key = format!("k{}", i % 3);
        let scope = registry.enter(key.clone()).await.unwrap();
        let fence = registry.fence(&key).unwrap();
        assert!(fence > last, "grant {i}: {fence} after {last}");
        last = fence;
        drop(scope);
        eventually("released", SOON, || {
            get(&server, &format!("{{fence}}:k:{key}")).is_none()
        })
        .await;
    }
}

/// Grants `n` keys in turn (each entered and left) and returns their fences.
async fn grant(registry: &ClusterRegistry<String>, prefix: &str, n: usize) -> Vec<u64> {
    let mut fences = Vec::new();
    for i in 0..n {
        let key = format!("{prefix}{i}");
        let scope = registry
            .enter(key.clone())
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        fences.push(registry.fence(&key).unwrap());
        drop(scope);
    }
    fences
}

/// Breaks if the claim script seeds the counter from the clock only when
/// it is missing: then the grants after the snapshot's restart repeat
/// the fences issued between the snapshot and the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fences_keep_growing_after_redis_restarts_from_an_older_snapshot_or_empty() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "rollback", LONG).await;
    let mut issued = grant(&a, "before", 5).await;
    server.save();
    issued.extend(grant(&a, "after", 5).await);
    server.restart_from_snapshot();
    // The snapshot brought the counter back to the fifth fence.
    let counter: u64 = redis::cmd("GET")
        .arg("{rollback}:fence")
        .query(&mut server.conn())
        .unwrap();
    assert_eq!(counter, issued[4], "restored from the snapshot");
    let mut reconnect = Instant::now();
    let new = loop {
        // The first command after the kill may meet the dead connection.
        match a.enter("new0".to_string()).await {
            Ok(scope) => {
                let fence = a.fence(&"new0".to_string()).unwrap();
                drop(scope);
                break fence;
            }
            Err(e) => assert!(reconnect.elapsed() < SOON, "reconnect: {e}"),
        }
    };
    let mut new = vec![new];
    new.extend(grant(&a, "new", 3).await.into_iter().skip(1));
    let highest = *issued.iter().max().unwrap();
    for fence in &new {
        assert!(*fence > highest, "fence {fence} after {issued:?}");
    }
    // Restarted empty: the counter is gone, fences still grow.
    issued.extend(&new);
    server.restart_empty();
    reconnect = Instant::now();
    let fence = loop {
        match a.enter("empty".to_string()).await {
            Ok(scope) => {
                let fence = a.fence(&"empty".to_string()).unwrap();
                drop(scope);
                break fence;
            }
            Err(e) => assert!(reconnect.elapsed() < SOON, "reconnect: {e}"),
        }
    };
    let highest = *issued.iter().max().unwrap();
    assert!(fence > highest, "fence {fence} after {issued:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_the_holder_with_requested_and_it_keeps_the_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "cx").await;
    let b = node(&server, "cx").await;
    let here = a.enter("here".to_string()).await.unwrap();
    let there = a.enter("there".to_string()).await.unwrap();
    assert!(a.cancel(&"here".to_string()).await.unwrap(), "local holder");
    assert!(
        b.cancel(&"there".to_string()).await.unwrap(),
        "remote holder"
    );
    assert!(!b.cancel(&"nobody".to_string()).await.unwrap());
    assert_eq!(here.token().cause(), Some(Cause::Requested));
    let token = there.token();
    tokio::time::timeout(SOON, token.cancelled())
        .await
        .expect("cancel arrives");
    assert_eq!(token.cause(), Some(Cause::Requested));
    // Cancelled, guard alive: the key stays held.
    assert!(matches!(
        b.enter("there".to_string()).await,
        Err(ClusterError::KeyOccupied { .. })
    ));
    drop((here, there));
    eventually("both released", SOON, || {
        get(&server, "{cx}:k:here").is_none() && get(&server, "{cx}:k:there").is_none()
    })
    .await;
}

/// Breaks if the renew script treats any marker as a cancel (not only one
/// naming the holder's own claim): B's scope would be cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_marker_never_cancels_the_keys_next_holder() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // No pub/sub: the marker is the only way a cancel travels.
    let quiet = |ns: &str| {
        ClusterRegistry::<String>::builder(&server.url())
            .namespace(ns)
            .lease(LEASE)
            .pubsub(false)
            .connect()
    };
    let a = quiet("marker").await.unwrap();
    let b = quiet("marker").await.unwrap();
    let old = a.enter("k".to_string()).await.unwrap();
    assert!(b.cancel(&"k".to_string()).await.unwrap());
    let marker = get(&server, "{marker}:x:k").expect("marker left");
    tokio::time::timeout(LEASE * 2, old.token().cancelled())
        .await
        .expect("A reads the marker at its renewal");
    drop(old);
    let new = loop {
        match b.enter("k".to_string()).await {
            Ok(scope) => break scope,
            Err(ClusterError::KeyOccupied { .. }) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    // The marker still names A's claim, and B renews twice under it: the
    // second renewal starts only after the first's statuses were applied.
    assert_eq!(get(&server, "{marker}:x:k").as_deref(), Some(&*marker));
    renewals(&server, "{marker}:k:k", 2, LEASE * 3).await;
    assert_eq!(new.token().cause(), None, "B's scope was cancelled");
    assert!(b.holds(&"k".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_the_holder_redis_names_even_when_this_node_thinks_it_holds_the_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "stale").await;
    let b = node(&server, "stale").await;
    let old = a.enter("k".to_string()).await.unwrap();
    // The claim vanishes (as with a restart without persistence) and B
    // takes the key before A's next renewal notices.
    let _: () = redis::cmd("DEL")
        .arg("{stale}:k:k")
        .query(&mut server.conn())
        .unwrap();
    let new = b.enter("k".to_string()).await.unwrap();
    assert!(a.cancel(&"k".to_string()).await.unwrap());
    let token = new.token();
    tokio::time::timeout(SOON, token.cancelled())
        .await
        .expect("B's scope cancelled");
    assert_eq!(token.cause(), Some(Cause::Requested));
    assert!(old.is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_lost_in_redis_cancels_with_parent_and_the_end_spares_the_new_holder() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "lost", LEASE).await;
    let scope = a.enter("k".to_string()).await.unwrap();
    let token = scope.token();
    // Someone else's claim replaces ours (as after an expiry and a retake).
    let _: () = redis::cmd("SET")
        .arg("{lost}:k:k")
        .arg("intruder|1|1|1")
        .query(&mut server.conn())
        .unwrap();
    tokio::time::timeout(LEASE * 2, token.cancelled())
        .await
        .expect("found lost");
    assert_eq!(token.cause(), Some(Cause::Parent));
    assert!(!a.holds(&"k".to_string()));
    assert_eq!(a.fence(&"k".to_string()), None);
    drop(scope);
    // A's next enter of the key waits for A's pending release first: once
    // it is refused by the intruder, that release has been applied.
    match a.enter("k".to_string()).await {
        Err(ClusterError::KeyOccupied { holder, .. }) => assert_eq!(holder.node(), "intruder"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        get(&server, "{lost}:k:k").as_deref(),
        Some("intruder|1|1|1")
    );
}

/// Redis frozen: no renewal answers, so the only thing that can cancel is
/// the local clock. It must fire `lease − margin` after the last renewal
/// sent before the freeze: not before `lease − margin` after the claim was
/// sent (breaks if the clock ignores the lease), and well before `lease`
/// after the freeze (breaks if it ignores the margin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_cancels_by_the_local_lease_clock_at_lease_minus_margin() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let lease = Duration::from_secs(8);
    let margin = Duration::from_secs(6);
    let a = ClusterRegistry::<String>::builder(&server.url())
        .namespace("dark")
        .lease(lease)
        .margin(margin)
        .connect()
        .await
        .unwrap();
    assert_eq!(a.margin(), margin);
    // Renewal every (lease − margin) / 2 = 1 s: twice per local lease.
    assert_eq!(a.renewal_interval(), Duration::from_secs(1));
    let before = Instant::now();
    let scope = a.enter("k".to_string()).await.unwrap();
    let token = scope.token();
    server.signal("STOP");
    let frozen = Instant::now();
    let waited = tokio::time::timeout(lease * 2, token.cancelled()).await;
    let cancelled = Instant::now();
    server.signal("CONT");
    waited.expect("cancelled by the local clock");
    assert_eq!(token.cause(), Some(Cause::Parent));
    assert!(
        cancelled - before >= lease - margin,
        "cancelled {:?} after the claim was sent",
        cancelled - before
    );
    // Last confirmed renewal sent before `frozen`: cancelled by frozen +
    // (lease − margin) = 2 s; Redis would expire it only at 8 s. Half the
    // margin (3 s) of slack.
    assert!(
        cancelled - frozen < lease - margin + margin / 2,
        "cancelled {:?} after the freeze",
        cancelled - frozen
    );
    assert!(!a.holds(&"k".to_string()));
    drop(scope);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_lists_every_nodes_holders_with_ages() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "rep").await;
    let b = node(&server, "rep").await;
    let _x = a.enter("x".to_string()).await.unwrap();
    let _y = b.enter("y".to_string()).await.unwrap();
    let report = b.report().await.unwrap();
    let keys: Vec<&str> = report.iter().map(|s| s.key()).collect();
    assert_eq!(keys, ["x", "y"]);
    assert_eq!(report[0].holder().node(), a.node_id());
    assert_eq!(report[1].holder().node(), b.node_id());
    assert!(report[0].age() >= report[1].age(), "{report:?}");
    assert!(report[0].to_string().contains(a.node_id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_spawn_enter_race_and_release() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "run").await;
    let b = node(&server, "run").await;
    assert_eq!(a.run("r".to_string(), async { 5 }).await.unwrap(), Ok(5));
    let task = a.spawn("s".to_string(), std::future::pending::<()>());
    eventually("spawned task holds s", SOON, || a.holds(&"s".to_string())).await;
    assert!(matches!(
        b.run("s".to_string(), async {}).await,
        Err(ClusterError::KeyOccupied { .. })
    ));
    assert!(b.cancel(&"s".to_string()).await.unwrap());
    let out = tokio::time::timeout(SOON, task).await.unwrap().unwrap();
    assert_eq!(out.unwrap().unwrap_err().cause(), Cause::Requested);
    eventually("s released", SOON, || get(&server, "{run}:k:s").is_none()).await;
}

/// Polls `fut` `n` times (0: never), then drops it.
struct PollThenDrop<F> {
    fut: Option<Pin<Box<F>>>,
    left: usize,
}

impl<F: Future> Future for PollThenDrop<F> {
    type Output = bool;

    /// `true` if the future completed before its polls ran out.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        if self.left == 0 {
            self.fut = None;
            return Poll::Ready(false);
        }
        self.left -= 1;
        let done = self.fut.as_mut().unwrap().as_mut().poll(cx).is_ready();
        if done {
            self.fut = None;
            return Poll::Ready(true);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Breaks if the claim's reply is read by the `enter` future itself (or
/// if a reply nobody reads is not released): the dropped claims then block
/// their keys for the whole 60 s lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_enter_and_run_futures_hold_no_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "drop", LONG).await;
    let b = node_with(&server, "drop", LONG).await;
    // One claim first: the script is cached, so a claim is one round trip
    // that a single poll sends.
    assert_eq!(a.run("warm".to_string(), async {}).await.unwrap(), Ok(()));
    let mut keys = Vec::new();
    // Dropped after the claim was made in Redis, its reply unread: ten
    // times (a first poll that completes, when the test's thread was
    // descheduled long enough, does not count; its scope just ends).
    let mut unread = 0;
    for i in 0..100 {
        if unread == 10 {
            break;
        }
        let key = format!("made{i}");
        let mut fut = Box::pin(a.enter(key.clone()));
        if futures_poll_once(fut.as_mut()).await.is_some() {
            continue;
        }
        let rkey = format!("{{drop}}:k:{key}");
        eventually("claim made", SOON, || get(&server, &rkey).is_some()).await;
        drop(fut);
        unread += 1;
        keys.push(key);
    }
    assert_eq!(unread, 10);
    // Dropped after a few polls, enter and run alike.
    for i in 0..20 {
        let key = format!("polls{i}");
        if i % 2 == 0 {
            PollThenDrop {
                fut: Some(Box::pin(a.enter(key.clone()))),
                left: i % 5,
            }
            .await;
        } else {
            PollThenDrop {
                fut: Some(Box::pin(a.run(key.clone(), std::future::pending::<()>()))),
                left: i % 5,
            }
            .await;
        }
        keys.push(key);
    }
    // Dropped by timeouts from under a millisecond to a few.
    for i in 0..20u64 {
        let key = format!("timeout{i}");
        let _ = tokio::time::timeout(Duration::from_micros(i * i * 20), a.enter(key.clone())).await;
        keys.push(key);
    }
    // Another node gets every key, far within the lease.
    let start = Instant::now();
    let mut held = Vec::new();
    for key in &keys {
        loop {
            match b.enter(key.clone()).await {
                Ok(scope) => break held.push(scope),
                Err(ClusterError::KeyOccupied { holder, .. }) => {
                    assert_eq!(holder.node(), a.node_id());
                    assert!(
                        start.elapsed() < LONG / 4,
                        "{key} still held by a dropped enter after {:?}",
                        start.elapsed()
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => panic!("{key}: {e}"),
            }
        }
    }
    assert_eq!(held.len(), keys.len());
    assert!(a.is_empty());
}

/// One poll of `fut`: `Some` if it completed.
async fn futures_poll_once<F: Future>(mut fut: Pin<&mut F>) -> Option<F::Output> {
    match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Breaks if `enter`, `cancel` or `report` wait on a frozen Redis beyond
/// the command timeout (or report another error), or if the claim Redis
/// makes once it wakes is not released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeouts_give_timeout_errors_and_late_claims_are_released() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let timeout = Duration::from_millis(300);
    let a = ClusterRegistry::<String>::builder(&server.url())
        .namespace("slow")
        .lease(LONG)
        .command_timeout(timeout)
        .connect()
        .await
        .unwrap();
    let b = node_with(&server, "slow", LONG).await;
    // The script cached first: the claim sent while Redis is frozen is one
    // round trip, which Redis runs as soon as it wakes.
    assert_eq!(a.run("warm".to_string(), async {}).await.unwrap(), Ok(()));
    server.signal("STOP");
    // Each call gives up after its timeout (report: four); a generous outer
    // bound only stops a hang.
    let enter = tokio::time::timeout(LONG / 4, a.enter("k".to_string())).await;
    let cancel = tokio::time::timeout(LONG / 4, a.cancel(&"x".to_string())).await;
    let report = tokio::time::timeout(LONG / 4, a.report()).await;
    server.signal("CONT");
    assert!(matches!(enter, Ok(Err(ClusterError::Timeout))), "{enter:?}");
    assert!(
        matches!(cancel, Ok(Err(ClusterError::Timeout))),
        "{cancel:?}"
    );
    assert!(
        matches!(report, Ok(Err(ClusterError::Timeout))),
        "{report:?}"
    );
    assert!(a.is_empty());
    // Redis, awake, runs the claim it had received: A releases it when the
    // late reply comes, and B gets the key far within the lease.
    let start = Instant::now();
    let _scope = loop {
        match b.enter("k".to_string()).await {
            Ok(scope) => break scope,
            Err(ClusterError::KeyOccupied { .. }) => {
                assert!(start.elapsed() < LONG / 4, "late claim kept");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
}

/// Settings are checked before anything connects (the URL's port is
/// closed: any attempt to connect would fail differently).
#[tokio::test]
async fn nonsense_settings_are_refused_before_connecting() {
    let url = "redis://127.0.0.1:1/";
    let builder = || ClusterRegistry::<String>::builder(url);
    let cases = [
        ("zero lease", builder().lease(Duration::ZERO)),
        ("margin = lease", builder().lease(LEASE).margin(LEASE)),
        ("margin > lease", builder().margin(Duration::MAX)),
        ("zero timeout", builder().command_timeout(Duration::ZERO)),
        ("empty namespace", builder().namespace("")),
    ];
    for (what, b) in cases {
        match b.connect().await {
            Err(ClusterError::InvalidSettings(msg)) => assert!(!msg.is_empty(), "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// Breaks if a duration is multiplied or added without saturating (a
/// panic), or sent to Redis unclamped (an "invalid expire time" error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_max_everywhere_works_as_a_very_long_lease() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = ClusterRegistry::<String>::builder(&server.url())
        .namespace("max")
        .lease(Duration::MAX)
        .command_timeout(Duration::MAX)
        .connect()
        .await
        .unwrap();
    let b = node(&server, "max").await;
    let year = Duration::from_secs(365 * 24 * 3600);
    assert!(a.lease() >= 100 * year, "{:?}", a.lease());
    let scope = a.enter("k".to_string()).await.unwrap();
    assert!(a.holds(&"k".to_string()));
    assert!(pttl(&server, "{max}:k:k") as u128 > 99 * year.as_millis());
    assert!(a.cancel(&"k".to_string()).await.unwrap());
    assert_eq!(scope.token().cause(), Some(Cause::Requested));
    assert!(pttl(&server, "{max}:x:k") as u128 > 99 * year.as_millis());
    assert_eq!(a.report().await.unwrap().len(), 1);
    assert!(matches!(
        b.enter("k".to_string()).await,
        Err(ClusterError::KeyOccupied { .. })
    ));
    drop(scope);
    let report = a.shutdown(Duration::MAX).await;
    assert!(report.is_clean(), "{report}");
}

#[test]
fn the_builders_debug_hides_the_password() {
    let b = ClusterRegistry::<String>::builder("redis://user:s3cret@127.0.0.1:6379/2");
    let shown = format!("{b:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("redis://user:***@127.0.0.1:6379/2"),
        "{shown}"
    );
}

/// Cooperating scopes end within the grace: each claim is deleted at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_waits_deletes_at_once_and_refuses() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "down", LONG).await;
    let worker = a.spawn("w".to_string(), std::future::pending::<()>());
    eventually("w held", SOON, || a.holds(&"w".to_string())).await;
    // A long grace: it returns when the worker ends, not at the deadline.
    let report = a.shutdown(LONG).await;
    assert!(report.is_clean(), "{report}");
    assert!(report.elapsed() < LONG / 4, "{report}");
    let out = worker.await.unwrap().unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Shutdown);
    assert_eq!(get(&server, "{down}:k:w"), None);
    assert!(matches!(
        a.enter("n".to_string()).await,
        Err(ClusterError::ShuttingDown { .. })
    ));
}

/// Breaks if a scope's end forgets its key before queueing the delete: a
/// shutdown on another thread then sees nothing held, flushes an empty
/// queue and returns with the claim still in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_after_every_ended_scopes_delete_landed() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    for i in 0..40 {
        let ns = format!("flush{i}");
        let a = node_with(&server, &ns, LONG).await;
        let workers: Vec<_> = (0..4)
            .map(|w| a.spawn(format!("w{w}"), std::future::pending::<()>()))
            .collect();
        eventually("all held", SOON, || a.len() == 4).await;
        let report = a.shutdown(LONG).await;
        assert!(report.is_clean(), "{report}");
        for w in 0..4 {
            let rkey = format!("{{{ns}}}:k:w{w}");
            assert_eq!(get(&server, &rkey), None, "round {i}: {rkey}");
        }
        for worker in workers {
            worker.await.unwrap().unwrap().unwrap_err();
        }
    }
}

/// Breaks if shutdown deletes (or stops renewing) the claim of a scope
/// that still runs: its key would be free before the scope ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_keeps_renewing_a_stragglers_claim_until_it_ends() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "straggle", LEASE).await;
    let b = node(&server, "straggle").await;
    let straggler = a.enter("s".to_string()).await.unwrap();
    let value = get(&server, "{straggle}:k:s").unwrap();
    let report = a.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.stragglers().len(), 1, "{report}");
    assert_eq!(straggler.token().cause(), Some(Cause::Shutdown));
    // Renewed past its lease after the shutdown returned: still A's.
    let returned = Instant::now();
    renewals(&server, "{straggle}:k:s", 5, LEASE * 4).await;
    assert!(
        returned.elapsed() > LEASE,
        "five renewals span over a lease"
    );
    assert_eq!(get(&server, "{straggle}:k:s").as_deref(), Some(&*value));
    assert!(matches!(
        b.enter("s".to_string()).await,
        Err(ClusterError::KeyOccupied { .. })
    ));
    // Its end releases the claim at once.
    drop(straggler);
    eventually("released at its end", SOON, || {
        get(&server, "{straggle}:k:s").is_none()
    })
    .await;
    let _s = b.enter("s".to_string()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releasing_deletes_a_stragglers_claim_at_the_deadline() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "early", LONG).await;
    let b = node_with(&server, "early", LONG).await;
    let straggler = a.enter("s".to_string()).await.unwrap();
    let report = a.shutdown_releasing(Duration::from_millis(100)).await;
    assert_eq!(report.stragglers().len(), 1, "{report}");
    // Deleted by the time it returns, not after the 60 s lease.
    assert_eq!(get(&server, "{early}:k:s"), None);
    let _s = b.enter("s".to_string()).await.unwrap();
    drop(straggler);
}

/// Breaks if renewal fails on `NOSCRIPT` instead of reloading the script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_survives_an_emptied_script_cache() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node_with(&server, "noscript", LEASE).await;
    let scope = a.enter("k".to_string()).await.unwrap();
    // As after a restart or failover: EVALSHA answers NOSCRIPT.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut server.conn())
        .unwrap();
    renewals(&server, "{noscript}:k:k", 2, LEASE * 2).await;
    assert_eq!(scope.token().cause(), None);
    assert!(a.holds(&"k".to_string()));
}
