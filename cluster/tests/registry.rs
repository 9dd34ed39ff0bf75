//! One process, one private `redis-server`, several registries standing for
//! nodes: the API's contract (errors, causes, fences, reports, run/spawn,
//! lost leases, shutdown). Skips without the binary unless `CI` is set.

mod support;

use std::time::{Duration, Instant};

use scoped_cancel::Cause;
use scoped_cancel_redis::{ClusterError, ClusterRegistry};
use support::server::RedisServer;

const LEASE: Duration = Duration::from_millis(900);
/// Generous upper bounds for a loaded machine.
const SOON: Duration = Duration::from_secs(3);

async fn node(server: &RedisServer, ns: &str) -> ClusterRegistry<String> {
    ClusterRegistry::<String>::builder(&server.url())
        .namespace(ns)
        .lease(LEASE)
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

/// Polls `check` every 5 ms until it holds, failing after `SOON`.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < SOON, "not within {SOON:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
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
    eventually("claim deleted", || get(&server, "{life}:k:job 7").is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_occupied_names_the_holder_on_this_node_and_on_others() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "busy").await;
    let b = node(&server, "busy").await;
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
        eventually("released", || {
            get(&server, &format!("{{fence}}:k:{key}")).is_none()
        })
        .await;
    }
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
    eventually("both released", || {
        get(&server, "{cx}:k:here").is_none() && get(&server, "{cx}:k:there").is_none()
    })
    .await;
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
    let a = node(&server, "lost").await;
    let scope = a.enter("k".to_string()).await.unwrap();
    let token = scope.token();
    // Someone else's claim replaces ours (as after an expiry and a retake).
    let _: () = redis::cmd("SET")
        .arg("{lost}:k:k")
        .arg("intruder|1|1|1")
        .query(&mut server.conn())
        .unwrap();
    tokio::time::timeout(SOON, token.cancelled())
        .await
        .expect("found lost");
    assert_eq!(token.cause(), Some(Cause::Parent));
    assert!(!a.holds(&"k".to_string()));
    assert_eq!(a.fence(&"k".to_string()), None);
    drop(scope);
    tokio::time::sleep(LEASE / 2).await;
    assert_eq!(
        get(&server, "{lost}:k:k").as_deref(),
        Some("intruder|1|1|1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_cancels_by_the_local_lease_clock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "dark").await;
    let scope = a.enter("k".to_string()).await.unwrap();
    let token = scope.token();
    let entered = Instant::now();
    // Freeze the server: connections stay open, nothing answers.
    server.signal("STOP");
    tokio::time::timeout(LEASE + SOON, token.cancelled())
        .await
        .expect("cancelled by the local clock");
    server.signal("CONT");
    assert_eq!(token.cause(), Some(Cause::Parent));
    // Never later than the lease after entering (its first claim at most).
    assert!(entered.elapsed() < LEASE + SOON);
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
    tokio::time::sleep(Duration::from_millis(50)).await;
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
    eventually("spawned task holds s", || a.holds(&"s".to_string())).await;
    assert!(matches!(
        b.run("s".to_string(), async {}).await,
        Err(ClusterError::KeyOccupied { .. })
    ));
    assert!(b.cancel(&"s".to_string()).await.unwrap());
    let out = tokio::time::timeout(SOON, task).await.unwrap().unwrap();
    assert_eq!(out.unwrap().unwrap_err().cause(), Cause::Requested);
    eventually("s released", || get(&server, "{run}:k:s").is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_deletes_at_once_and_refuses() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = ClusterRegistry::<String>::builder(&server.url())
        .namespace("down")
        .lease(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let worker = a.spawn("w".to_string(), std::future::pending::<()>());
    eventually("w held", || a.holds(&"w".to_string())).await;
    let straggler = a.enter("s".to_string()).await.unwrap(); // never dropped in time
    let report = a.shutdown(Duration::from_millis(200)).await;
    assert_eq!(report.stragglers().len(), 1, "{report}");
    assert_eq!(straggler.token().cause(), Some(Cause::Shutdown));
    let out = worker.await.unwrap().unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Shutdown);
    // Deleted at once, not after the 30 s lease; the straggler's too.
    assert_eq!(get(&server, "{down}:k:w"), None);
    assert_eq!(get(&server, "{down}:k:s"), None);
    assert!(matches!(
        a.enter("n".to_string()).await,
        Err(ClusterError::ShuttingDown { .. })
    ));
    drop(straggler);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_survives_an_emptied_script_cache() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, "noscript").await;
    let scope = a.enter("k".to_string()).await.unwrap();
    // As after a restart or failover: EVALSHA answers NOSCRIPT.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut server.conn())
        .unwrap();
    // Wait out most of the lease: only renewals keep the claim alive.
    tokio::time::sleep(LEASE * 2).await;
    assert!(!scope.is_cancelled(), "{:?}", scope.token().cause());
    assert!(a.holds(&"k".to_string()));
    let ttl: i64 = redis::cmd("PTTL")
        .arg("{noscript}:k:k")
        .query(&mut server.conn())
        .unwrap();
    assert!(ttl > 0, "claim renewed after SCRIPT FLUSH: PTTL {ttl}");
}
