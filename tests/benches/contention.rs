//! Contention: several threads entering and leaving keyed scopes of one
//! registry, over 1,000 keys, vs the best hand-written code (one shared
//! foldhash `DashMap`, root tokens, `entry()`, guard, `run_until_cancelled`)
//! and, labelled, the naive pattern (SipHash, children of one shared parent).
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
        // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
        let best: Arc<calls::BestMap> = Arc::new(calls::best_map());
        // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
        let naive: Arc<DashMap<u64, CancellationToken>> = Arc::new(DashMap::new());
        let shared_parent = CancellationToken::new();

        // Every thread's calls, run on its own current-thread runtime.
        macro_rules! job {
            (|$k:ident| $call:expr) => {
                Arc::new(move |t, rt: &Runtime| {
                    rt.block_on(async {
                        for j in 0..per_thread {
                            let $k = key(t, threads, j);
                            let _ = black_box(common::call($call).await);
                        }
                    })
                }) as Job
            };
        }
        let ours_instant = job!(|k| calls::macro_keyed(k));
        let ours_wait = job!(|k| calls::macro_keyed_wait(k));
        let best_instant = {
            let best = best.clone();
            job!(|k| calls::best_keyed(&best, k, async move { black_box(k) }))
        };
        let best_wait = {
            let best = best.clone();
            job!(|k| calls::best_keyed(&best, k, calls::wait_once(k)))
        };
        let naive_instant = {
            let naive = naive.clone();
            let parent = shared_parent.clone();
            job!(|k| calls::naive_keyed_in(&naive, &parent, k, async move { black_box(k) }))
        };
        let ours_enter: Job = Arc::new(move |t, _rt: &Runtime| {
            for j in 0..per_thread {
                calls::ours_enter_drop(key(t, threads, j));
            }
        });
        let best_enter: Job = {
            let best = best.clone();
            Arc::new(move |t, _rt: &Runtime| {
                for j in 0..per_thread {
                    calls::best_enter_drop(&best, key(t, threads, j));
                }
            })
        };

        let cases: [(String, Option<f64>, &Job, &Job); 4] = [
            (
                format!("{threads}t-keyed-instant: {threads} threads, #[scoped_cancel(registry, key)] vs best (one shared foldhash DashMap, root tokens, entry(), guard, run_until_cancelled), instant body"),
                Some(1.00),
                &ours_instant,
                &best_instant,
            ),
            (
                format!("{threads}t-keyed-wait: {threads} threads, the same, body waits once"),
                Some(1.00),
                &ours_wait,
                &best_wait,
            ),
            (
                format!("{threads}t-enter-drop: {threads} threads, Registry::enter + drop vs best entry() + guard drop"),
                Some(1.00),
                &ours_enter,
                &best_enter,
            ),
            (
                format!("{threads}t-naive-keyed-instant: {threads} threads, keyed call vs NAIVE (SipHash DashMap, children of ONE shared parent token), instant body"),
                None,
                &ours_instant,
                &naive_instant,
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
        assert!(best.is_empty());
        assert!(naive.is_empty());
    }
    assert!(REG.is_empty());
    print_table(
        "Contention: wall time per call, all threads together (lower is better; throughput ratio = 1 / this ratio)",
        &rows,
    );
}
