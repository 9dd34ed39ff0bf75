//! Numbers for BENCHMARKS.md: `ClusterRegistry` against a hand-written
//! equivalent on a private loopback `redis-server`, as ratios from paired,
//! interleaved rounds.
//!
//! ```text
//! cargo run --release -p scoped-cancel-redis --example cluster_bench
//! ```
//!
//! The hand-written side is what a careful engineer writes on the same
//! client: `SET key token NX PX lease`, a map of held keys to
//! `CancellationToken`s, one renew task sending a pipeline of
//! compare-and-extend scripts each `lease / 3`, an awaited compare-and-delete
//! script at exit, and a pub/sub listener that cancels by key.

#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::Script;
use scoped_cancel::tokio_util::sync::CancellationToken;
use scoped_cancel_redis::ClusterRegistry;

const ROUNDS: usize = 11;
const CYCLES: usize = 500;

/// The hand-written equivalent.
#[derive(Clone)]
struct Hand {
    conn: ConnectionManager,
    node: String,
    lease: Duration,
    // scoped-cancel-audit: allow(the hand-written baseline this bench compares against)
    held: Arc<Mutex<HashMap<String, (String, CancellationToken)>>>,
    seq: Arc<std::sync::atomic::AtomicU64>,
    cad: Arc<Script>,
}

const HAND_CAD: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const HAND_EXTEND: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

impl Hand {
    async fn connect(url: &str, lease: Duration) -> Hand {
        let client = redis::Client::open(url).unwrap();
        let conn = client.get_connection_manager().await.unwrap();
        let hand = Hand {
            conn,
            node: format!("hand-{}", std::process::id()),
            lease,
            held: Arc::default(),
            seq: Arc::default(),
            cad: Arc::new(Script::new(HAND_CAD)),
        };
        // Renew loop: one pipeline of compare-and-extend per round.
        let renew = hand.clone();
        tokio::spawn(async move {
            let extend = Script::new(HAND_EXTEND);
            let mut conn = renew.conn.clone();
            extend.load_async(&mut conn).await.unwrap();
            loop {
                tokio::time::sleep(renew.lease / 3).await;
                // scoped-cancel-audit: allow(a snapshot of the baseline's keys for one renewal round)
                let held: Vec<(String, String, CancellationToken)> = {
                    let held = renew.held.lock().unwrap();
                    held.iter()
                        .map(|(k, (v, ct))| (k.clone(), v.clone(), ct.clone()))
                        .collect()
                };
                if held.is_empty() {
                    continue;
                }
                let mut pipe = redis::pipe();
                for (key, value, _) in &held {
                    pipe.cmd("EVALSHA")
                        .arg(extend.get_hash())
                        .arg(1)
                        .arg(key)
                        .arg(value)
                        .arg(renew.lease.as_millis() as u64);
                }
                if let Ok(done) = pipe.query_async::<Vec<i64>>(&mut conn).await {
                    for ((_, _, ct), ok) in held.iter().zip(done) {
                        if ok == 0 {
                            ct.cancel();
                        }
                    }
                }
            }
        });
        // Cancel listener.
        let listen = hand.clone();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe("hand:cancel").await.unwrap();
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                let key: String = msg.get_payload().unwrap();
                if let Some((_, ct)) = listen.held.lock().unwrap().get(&key) {
                    ct.cancel();
                }
            }
        });
        hand
    }

    async fn enter(&self, key: String) -> Option<CancellationToken> {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value = format!("{}:{seq}", self.node);
        let ok: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .arg("NX")
            .arg("PX")
            .arg(self.lease.as_millis() as u64)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
        ok?;
        let ct = CancellationToken::new();
        // scoped-cancel-audit: allow(the baseline releases in its own exit fn, as hand-written code does)
        self.held.lock().unwrap().insert(key, (value, ct.clone()));
        Some(ct)
    }

    async fn exit(&self, key: &str) {
        let held = self.held.lock().unwrap().remove(key);
        if let Some((value, ct)) = held {
            ct.cancel();
            let _: i64 = self
                .cad
                .key(key)
                .arg(value)
                .invoke_async(&mut self.conn.clone())
                .await
                .unwrap();
        }
    }

    async fn cancel(&self, key: &str) {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("hand:cancel")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn used_memory(conn: &mut ConnectionManager) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

async fn settle(conn: &mut ConnectionManager) {
    // Let background releases land before the next timed segment.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let _: () = redis::cmd("FLUSHALL").query_async(conn).await.unwrap();
}

fn main() {
    let server = server::RedisServer::start().expect("redis-server is needed for the bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(server.url()));
}

async fn run(url: String) {
    let lease = Duration::from_secs(10);
    let ours = ClusterRegistry::<String>::builder(&url)
        .namespace("b")
        .lease(lease)
        .connect()
        .await
        .unwrap();
    let hand = Hand::connect(&url, lease).await;
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    println!("rounds {ROUNDS} x {CYCLES} cycles, loopback, lease {lease:?}\n");

    // 1. Sequential enter + exit, distinct keys.
    let (mut ratios, mut ours_us, mut hand_us) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut t = [Duration::ZERO; 2];
        for side in [round % 2, 1 - round % 2] {
            let start = Instant::now();
            for i in 0..CYCLES {
                let key = format!("s{round}-{i}");
                if side == 0 {
                    drop(ours.enter(key).await.unwrap());
                } else {
                    hand.enter(key.clone()).await.unwrap();
                    hand.exit(&key).await;
                }
            }
            t[side] = start.elapsed();
            settle(&mut admin).await;
        }
        ratios.push(t[0].as_secs_f64() / t[1].as_secs_f64());
        ours_us.push(t[0].as_secs_f64() * 1e6 / CYCLES as f64);
        hand_us.push(t[1].as_secs_f64() * 1e6 / CYCLES as f64);
    }
    println!(
        "enter+exit, sequential, distinct keys: ours {:.1} µs, hand {:.1} µs, ratio {:.2}",
        median(ours_us),
        median(hand_us),
        median(ratios)
    );

    // 2. Sequential enter + exit of the same key (the release must land first).
    let (mut ratios, mut ours_us, mut hand_us) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut t = [Duration::ZERO; 2];
        for side in [round % 2, 1 - round % 2] {
            let key = format!("same{round}");
            let start = Instant::now();
            for _ in 0..CYCLES {
                if side == 0 {
                    drop(ours.enter(key.clone()).await.unwrap());
                } else {
                    hand.enter(key.clone()).await.unwrap();
                    hand.exit(&key).await;
                }
            }
            t[side] = start.elapsed();
            settle(&mut admin).await;
        }
        ratios.push(t[0].as_secs_f64() / t[1].as_secs_f64());
        ours_us.push(t[0].as_secs_f64() * 1e6 / CYCLES as f64);
        hand_us.push(t[1].as_secs_f64() * 1e6 / CYCLES as f64);
    }
    println!(
        "enter+exit, sequential, same key:      ours {:.1} µs, hand {:.1} µs, ratio {:.2}",
        median(ours_us),
        median(hand_us),
        median(ratios)
    );

    // 3. Throughput: 32 concurrent tasks, distinct keys.
    const TASKS: usize = 32;
    let (mut ratios, mut ours_ops, mut hand_ops) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut t = [Duration::ZERO; 2];
        for side in [round % 2, 1 - round % 2] {
            let start = Instant::now();
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let (ours, hand) = (ours.clone(), hand.clone());
                    tokio::spawn(async move {
                        for i in 0..CYCLES / 4 {
                            let key = format!("t{round}-{task}-{i}");
                            if side == 0 {
                                drop(ours.enter(key).await.unwrap());
                            } else {
                                hand.enter(key.clone()).await.unwrap();
                                hand.exit(&key).await;
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            t[side] = start.elapsed();
            settle(&mut admin).await;
        }
        let ops = (TASKS * (CYCLES / 4)) as f64;
        // Ratio of throughputs (ours / hand): above 1 is faster.
        ratios.push(t[1].as_secs_f64() / t[0].as_secs_f64());
        ours_ops.push(ops / t[0].as_secs_f64());
        hand_ops.push(ops / t[1].as_secs_f64());
    }
    println!(
        "throughput, {TASKS} tasks:                ours {:.0}/s, hand {:.0}/s, ratio {:.2}",
        median(ours_ops),
        median(hand_ops),
        median(ratios)
    );

    // 4. Bytes per live key.
    const LIVE: usize = 10_000;
    let before = used_memory(&mut admin).await;
    let mut scopes = Vec::with_capacity(LIVE);
    for i in 0..LIVE {
        scopes.push(ours.enter(format!("live-{i}")).await.unwrap());
    }
    let ours_bytes = (used_memory(&mut admin).await - before) as f64 / LIVE as f64;
    let usage: Option<i64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("{b}:k:live-5000")
        .query_async(&mut admin)
        .await
        .unwrap();
    drop(scopes);
    settle(&mut admin).await;
    let before = used_memory(&mut admin).await;
    for i in 0..LIVE {
        hand.enter(format!("live-{i}")).await.unwrap();
    }
    let hand_bytes = (used_memory(&mut admin).await - before) as f64 / LIVE as f64;
    let hand_usage: Option<i64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("live-5000")
        .query_async(&mut admin)
        .await
        .unwrap();
    for i in 0..LIVE {
        hand.exit(&format!("live-{i}")).await;
    }
    settle(&mut admin).await;
    println!(
        "bytes per live key (used_memory delta / {LIVE}): ours {ours_bytes:.0}, hand {hand_bytes:.0}, ratio {:.2}; MEMORY USAGE of one key: ours {usage:?}, hand {hand_usage:?}",
        ours_bytes / hand_bytes
    );

    // 5. cancel -> holder's token cancelled.
    let b = ClusterRegistry::<String>::builder(&url)
        .namespace("b")
        .lease(lease)
        .connect()
        .await
        .unwrap();
    // Interleaved: one sample of ours, one of the hand-written side.
    let (mut ours_pubsub, mut hand_samples) = (Vec::new(), Vec::new());
    for i in 0..300 {
        ours_pubsub.push(cancel_once(&ours, &b, i, false).await);
        let key = format!("hc{i}");
        let ct = hand.enter(key.clone()).await.unwrap();
        let start = Instant::now();
        hand.cancel(&key).await;
        ct.cancelled().await;
        hand_samples.push(start.elapsed());
        hand.exit(&key).await;
    }
    ours_pubsub.sort();
    let quiet = ClusterRegistry::<String>::builder(&url)
        .namespace("b")
        .lease(Duration::from_millis(300))
        .pubsub(false)
        .connect()
        .await
        .unwrap();
    let mut ours_marker = Vec::new();
    for i in 0..60 {
        ours_marker.push(cancel_once(&quiet, &b, i, true).await);
    }
    ours_marker.sort();
    hand_samples.sort();
    let show = |name: &str, s: &[Duration]| {
        println!(
            "cancel -> token cancelled, {name}: p50 {:?}, p99 {:?} ({} samples)",
            pct(s, 0.5),
            pct(s, 0.99),
            s.len()
        )
    };
    show("ours, pub/sub", &ours_pubsub);
    show("hand, pub/sub", &hand_samples);
    show(
        "ours, marker only (lease 300 ms: renewal every 100 ms)",
        &ours_marker,
    );
    println!(
        "ratio ours/hand with pub/sub: p50 {:.2}, p99 {:.2}",
        pct(&ours_pubsub, 0.5).as_secs_f64() / pct(&hand_samples, 0.5).as_secs_f64(),
        pct(&ours_pubsub, 0.99).as_secs_f64() / pct(&hand_samples, 0.99).as_secs_f64()
    );
}

/// `holder` holds a key, `other` cancels it: time until the holder's token
/// is cancelled. `spread`: wait 0–99 ms first, so that cancels land all over
/// the renewal cycle (the marker path waits for the next renewal;
/// back-to-back samples would all land just after one).
async fn cancel_once(
    holder: &ClusterRegistry<String>,
    other: &ClusterRegistry<String>,
    i: usize,
    spread: bool,
) -> Duration {
    let key = format!("c-{}-{i}", holder.node_id());
    let scope = holder.enter(key.clone()).await.unwrap();
    let token = scope.token();
    if spread {
        tokio::time::sleep(Duration::from_millis((i as u64 * 37) % 100)).await;
    }
    let start = Instant::now();
    assert!(other.cancel(&key).await.unwrap());
    token.cancelled().await;
    let took = start.elapsed();
    drop(scope);
    took
}
