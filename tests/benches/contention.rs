//! Contention: several threads entering and leaving keyed scopes of one
//! registry, over 1,000 keys, vs the hand-written DashMap pattern.
//!
//! Each thread runs its own current-thread runtime and makes sequential
//! calls; thread `t` of `T` uses the keys `t, t + T, t + 2T, ...` below
//! 1,000, so no two threads ever want the same key at once (a hand-written
//! `DashMap::insert` would silently replace the other thread's token). The
//! measure is wall time per call: batch wall time / (threads × calls).
//!
//! `cargo bench -p scoped-cancel-tests --bench contention [-- FILTER...]`;
//! `SC_BENCH_THREADS=2,4,8` picks the thread counts (default `2,4`).

mod common;

use std::hint::black_box;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use common::calls::{self, REG};
use common::{paired, print_table, Options, Row};
use dashmap::DashMap;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

const KEYS: u64 = 1_000;

type Job = Arc<dyn Fn(usize, &Runtime) + Send + Sync>;

/// Worker threads that each own a runtime and run one job per batch.
struct Pool {
    senders: Vec<mpsc::Sender<(Job, Arc<Barrier>)>>,
    times: mpsc::Receiver<(Instant, Instant)>,
}

impl Pool {
    fn new(threads: usize) -> Pool {
        let (times_tx, times) = mpsc::channel();
        let senders = (0..threads)
            .map(|index| {
                let (tx, rx) = mpsc::channel::<(Job, Arc<Barrier>)>();
                let times_tx = times_tx.clone();
                std::thread::spawn(move || {
                    let rt = common::current_thread();
                    for (job, start) in rx {
                        start.wait();
                        let t0 = Instant::now();
                        job(index, &rt);
                        let _ = times_tx.send((t0, Instant::now()));
                    }
                });
                tx
            })
            .collect();
        Pool { senders, times }
    }

    /// Runs `job` on every worker at once; returns the wall time in ns from
    /// the first worker's start to the last one's end. (Timed by the workers:
    /// the coordinating thread may not get a core until they are done.)
    fn run(&self, job: Job) -> f64 {
        let start = Arc::new(Barrier::new(self.senders.len()));
        for tx in &self.senders {
            tx.send((job.clone(), start.clone())).expect("worker alive");
        }
        let spans: Vec<(Instant, Instant)> = (0..self.senders.len())
            .map(|_| self.times.recv().expect("worker alive"))
            .collect();
        let first = spans.iter().map(|s| s.0).min().expect("workers");
        let last = spans.iter().map(|s| s.1).max().expect("workers");
        (last - first).as_nanos() as f64
    }
}

fn key(thread: usize, threads: usize, call: usize) -> u64 {
    let threads = threads as u64;
    let per_thread = KEYS / threads;
    thread as u64 + threads * (call as u64 % per_thread)
}

fn main() {
    let opts = Options::from_env();
    let per_thread = opts.scaled(5_000);
    let rounds = opts.rounds(51);
    let counts: Vec<usize> = std::env::var("SC_BENCH_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 4]);
    let mut rows: Vec<Row> = Vec::new();

    for &threads in &counts {
        let pool = Pool::new(threads);
        let calls_per_batch = (threads * per_thread) as f64;
        // scoped-cancel-audit: allow(baseline; each call removes its entry)
        let map: Arc<DashMap<u64, CancellationToken>> = Arc::new(DashMap::new());
        let shared_parent = CancellationToken::new();
        // scoped-cancel-audit: allow(baseline parents, dropped with the batch)
        let parents: Arc<Vec<CancellationToken>> =
            Arc::new((0..threads).map(|_| CancellationToken::new()).collect());

        let ours: Job = Arc::new(move |t, rt: &Runtime| {
            rt.block_on(async {
                for j in 0..per_thread {
                    let _ = black_box(calls::macro_keyed(key(t, threads, j)).await);
                }
            })
        });
        let hand_shared: Job = {
            let map = map.clone();
            let parent = shared_parent.clone();
            Arc::new(move |t, rt: &Runtime| {
                rt.block_on(async {
                    for j in 0..per_thread {
                        let k = key(t, threads, j);
                        black_box(calls::hand_keyed_in(&map, &parent, k).await);
                    }
                })
            })
        };
        let hand_own: Job = {
            let map = map.clone();
            let parents = parents.clone();
            Arc::new(move |t, rt: &Runtime| {
                rt.block_on(async {
                    for j in 0..per_thread {
                        let k = key(t, threads, j);
                        black_box(calls::hand_keyed_in(&map, &parents[t], k).await);
                    }
                })
            })
        };
        let ours_enter: Job = Arc::new(move |t, _rt: &Runtime| {
            for j in 0..per_thread {
                calls::ours_enter_drop(key(t, threads, j));
            }
        });
        let hand_enter: Job = {
            let map = map.clone();
            let parents = parents.clone();
            Arc::new(move |t, _rt: &Runtime| {
                for j in 0..per_thread {
                    calls::hand_enter_drop_in(&map, &parents[t], key(t, threads, j));
                }
            })
        };

        let cases: [(String, Option<f64>, &Job, &Job); 3] = [
            (
                format!("{threads} threads, keyed: ours vs DashMap + one shared parent"),
                (threads == 2).then_some(0.5),
                &ours,
                &hand_shared,
            ),
            (
                format!("{threads} threads, keyed: ours vs DashMap + a parent per thread"),
                Some(1.00),
                &ours,
                &hand_own,
            ),
            (
                format!("{threads} threads, Registry::enter+drop vs DashMap + a parent per thread"),
                Some(1.00),
                &ours_enter,
                &hand_enter,
            ),
        ];
        for (name, target, a, b) in cases {
            if opts.wants(&name) {
                rows.push(paired(
                    &name,
                    "ns",
                    target,
                    3,
                    rounds,
                    || pool.run(a.clone()) / calls_per_batch,
                    || pool.run(b.clone()) / calls_per_batch,
                ));
            }
        }
        assert!(map.is_empty());
    }
    assert!(REG.is_empty());
    print_table(
        "Contention: wall time per call, all threads together (lower is better; throughput ratio = 1 / this ratio)",
        &rows,
    );
}
