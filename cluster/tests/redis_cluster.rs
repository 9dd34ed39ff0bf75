//! A real 3-master Redis Cluster on loopback, started by the test: one
//! namespace on each master reached through a single seed URL (the client
//! learns the other masters from it; a plain connection to the seed would
//! be answered `MOVED` for two of the three), and a namespace whose slot
//! moves to another master while a claim is held (answered `MOVED` until
//! the client follows). Without the
//! binaries these fail, unless `SCOPED_CANCEL_SKIP_REDIS=1` asks for the
//! skip.

mod support;

use std::time::{Duration, Instant};

use scoped_cancel::Cause;
use scoped_cancel_redis::{ClusterError, ClusterRegistry};
use support::cluster::RedisCluster;

const LEASE: Duration = Duration::from_secs(3);
const SOON: Duration = Duration::from_secs(5);

async fn node(seed: String, ns: &str) -> ClusterRegistry<String> {
    ClusterRegistry::<String>::builder_for_redis_cluster([seed])
        .namespace(ns)
        .lease(LEASE)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// A cluster-aware synchronous connection for the test's own reads.
fn reader(cluster: &RedisCluster) -> redis::cluster::ClusterConnection {
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    redis::cluster::ClusterClient::new(urls)
        .expect("cluster client")
        .get_connection()
        .expect("cluster connection")
}

fn get(conn: &mut redis::cluster::ClusterConnection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(conn).expect("GET")
}

fn pttl(conn: &mut redis::cluster::ClusterConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(conn).expect("PTTL")
}

/// Waits for `n` renewals of `key` (its TTL going back up).
async fn renewals(conn: &mut redis::cluster::ClusterConnection, key: &str, n: usize) {
    let start = Instant::now();
    let mut last = pttl(conn, key);
    let mut seen = 0;
    while seen < n {
        assert!(start.elapsed() < LEASE * 3, "{key}: {seen} of {n} renewals");
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = pttl(conn, key);
        assert!(now > 0, "{key} gone (PTTL {now})");
        if now > last {
            seen += 1;
        }
        last = now;
    }
}

/// Namespaces whose slot is served by master 0, 1 and 2, in that order.
fn namespace_per_master(cluster: &RedisCluster) -> Vec<String> {
    let mut found: Vec<Option<String>> = vec![None; cluster.nodes.len()];
    for i in 0..10_000 {
        let ns = format!("ns{i}");
        let owner = cluster.owner(cluster.slot(&format!("{{{ns}}}")));
        if found[owner].is_none() {
            found[owner] = Some(ns);
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    found
        .into_iter()
        .map(|ns| ns.expect("a namespace per master"))
        .collect()
}

/// Breaks if the client is not cluster-aware (a `MOVED` reply fails the
/// claim on two masters of three), or if a name of the namespace leaves its
/// slot (`CROSSSLOT` in the scripts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_master_serves_claims_cancels_reports_and_renewals_through_one_seed() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let mut read = reader(&cluster);
    for (owner, ns) in namespace_per_master(&cluster).iter().enumerate() {
        // A is seeded with node 0, B with node 2: each reaches the owner.
        let a = node(cluster.nodes[0].url(), ns).await;
        let b = node(cluster.nodes[2].url(), ns).await;
        let lease_key = format!("{{{ns}}}:k:job");
        let slot = cluster.slot(&lease_key);
        assert_eq!(cluster.owner(slot), owner, "{ns}");
        for name in [format!("{{{ns}}}:x:job"), format!("{{{ns}}}:fence")] {
            assert_eq!(cluster.slot(&name), slot, "{name}");
        }

        let scope = a.enter("job".to_string()).await.unwrap();
        let value = get(&mut read, &lease_key).expect("claimed");
        assert!(value.starts_with(a.node_id()), "{value}");
        match b.enter("job".to_string()).await {
            Err(ClusterError::KeyOccupied { holder, .. }) => {
                assert_eq!(holder.node(), a.node_id())
            }
            other => panic!("{ns}: {other:?}"),
        }
        let report = b.report().await.unwrap();
        assert_eq!(report.len(), 1, "{ns}: {report:?}");
        assert_eq!(report[0].holder().node(), a.node_id());
        renewals(&mut read, &lease_key, 2).await;
        assert_eq!(scope.token().cause(), None);

        // Published on the owner, heard by A's subscription on node 0,
        // with its reason.
        let reason = format!("asked on {ns}:\n by B");
        assert!(b
            .cancel_with_reason(&"job".to_string(), reason.as_str())
            .await
            .unwrap());
        tokio::time::timeout(SOON, scope.token().cancelled())
            .await
            .expect("cancel arrives");
        assert_eq!(scope.token().cause(), Some(Cause::Requested));
        assert_eq!(scope.token().reason().as_deref(), Some(&*reason));
        drop(scope);
        let start = Instant::now();
        let taken = loop {
            match b.enter("job".to_string()).await {
                Ok(scope) => break scope,
                Err(ClusterError::KeyOccupied { .. }) => {
                    assert!(start.elapsed() < SOON, "{ns}: not released");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => panic!("{ns}: {e}"),
            }
        };
        assert!(b.fence(&"job".to_string()).unwrap() > holder_fence(&value));
        drop(taken);
        a.shutdown(SOON).await;
        b.shutdown(SOON).await;
    }
}

fn holder_fence(value: &str) -> u64 {
    value.split('|').nth(2).unwrap().parse().unwrap()
}

/// Breaks if renewal, cancel or release stop following the slot when it
/// moves to another master (a `MOVED` reply lost the claim, cancelling
/// the scope with `Parent`, or left it undeleted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_claim_survives_its_slot_moving_to_another_master() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let mut read = reader(&cluster);
    let ns = "moving";
    let lease_key = "{moving}:k:job";
    let slot = cluster.slot(lease_key);
    let from = cluster.owner(slot);
    let to = (from + 1) % cluster.nodes.len();
    let a = node(cluster.nodes[from].url(), ns).await;
    let b = node(cluster.nodes[to].url(), ns).await;
    let scope = a.enter("job".to_string()).await.unwrap();
    let value = get(&mut read, lease_key).unwrap();

    cluster.move_slot(slot, from, to);
    assert_eq!(cluster.owner(slot), to);
    // Renewed on the new master, never found lost.
    renewals(&mut read, lease_key, 2).await;
    assert_eq!(scope.token().cause(), None);
    assert!(a.holds(&"job".to_string()));
    assert_eq!(get(&mut read, lease_key).as_deref(), Some(&*value));
    assert!(matches!(
        b.enter("job".to_string()).await,
        Err(ClusterError::KeyOccupied { .. })
    ));
    assert!(b.cancel(&"job".to_string()).await.unwrap());
    tokio::time::timeout(SOON, scope.token().cancelled())
        .await
        .expect("cancel arrives");
    drop(scope);
    let start = Instant::now();
    while get(&mut read, lease_key).is_some() {
        assert!(start.elapsed() < SOON, "release did not follow the slot");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _again = a.enter("job".to_string()).await.unwrap();
}
