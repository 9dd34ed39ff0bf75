//! Cancel fan-out: 100,000 live scopes, each awaited by its own task, are
//! cancelled at once; the time measured runs from the cancel call until the
//! last task has finished (its scope ended and, for keyed scopes, its entry
//! removed).
//!
//! The keyed cases are jobs as a user writes them: ours a
//! `#[scoped_cancel(registry, key)]` call spawned as a task, cancelled by
//! `Registry::cancel_all`; the best hand-written job (foldhash `DashMap`,
//! `entry()`, a cancel-then-remove guard, `run_until_cancelled`) with its
//! tokens cancelled either from a snapshot of the map (root tokens, as ours
//! are) or by `parent.cancel()` (each token a child of one parent). Each
//! task removes its own entry. The anonymous cases compare child scopes of
//! one parent scope with raw child tokens of one parent.
//!
//! Multi-thread runtime with 2 workers. Every task has been polled once (its
//! waiter registered) before the clock starts.
//!
//! `cargo bench -p scoped-cancel-tests --bench fanout [-- FILTER...]`;
//! `SC_BENCH_SCALE=0.1` for 10,000 scopes.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::calls::{self, BestMap};
use common::{paired, print_table, Options, Row};
use scoped_cancel::{scoped_cancel, Cancelled, Registry, Scope};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

static FAN: Registry<u64> = Registry::new();

/// Our keyed job: waits until it is cancelled.
#[scoped_cancel(registry = FAN, key = id)]
async fn ours_job(id: u64) -> Result<(), Cancelled> {
    pending::<()>().await;
    Ok(())
}

/// The best hand-written keyed job, with its token made by `make`.
async fn best_job(map: Arc<BestMap>, id: u64, token: CancellationToken) -> Option<()> {
    let guard = calls::best_enter(&map, id, token)?;
    guard.token.run_until_cancelled(pending::<()>()).await
}

/// How the best hand-written side cancels its jobs.
#[derive(Clone, Copy)]
enum Hand {
    /// Raw child tokens of one parent, no map: `parent.cancel()`.
    Children,
    /// Root tokens in a `BestMap`, cancelled from a snapshot of the map.
    MapSnapshot,
    /// Child tokens of one parent in a `BestMap`: `parent.cancel()`.
    MapParent,
}

/// Counts tasks that started and finished; wakes the waiter at the end.
struct Tally {
    total: usize,
    started: AtomicUsize,
    done: AtomicUsize,
    all_done: Notify,
}

impl Tally {
    fn new(total: usize) -> Arc<Tally> {
        Arc::new(Tally {
            total,
            started: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            all_done: Notify::new(),
        })
    }

    fn finish(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.total {
            self.all_done.notify_one();
        }
    }

    async fn all_started(&self) {
        while self.started.load(Ordering::Acquire) < self.total {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Let the last starters finish the poll that registers their waiter.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// How the scopes of one round are made and cancelled.
#[derive(Clone, Copy)]
enum Ours {
    /// Keyed jobs (`#[scoped_cancel(registry, key)]` calls spawned as
    /// tasks), cancelled by `cancel_all`.
    KeyedJobs,
    /// Keyed scopes of one registry, cancelled by `cancel_all`.
    KeyedCancelAll,
    /// Keyed scopes that are children of one parent scope, cancelled through it.
    KeyedUnderParent,
    /// Anonymous child scopes of one parent scope, cancelled through it.
    AnonymousUnderParent,
}

/// One round of ours: returns ms from cancel until every task finished.
fn ours_round(rt: &tokio::runtime::Runtime, n: usize, how: Ours) -> f64 {
    rt.block_on(async {
        let tally = Tally::new(n);
        let root = Scope::root();
        let root_token = root.token();
        for i in 0..n as u64 {
            if let Ours::KeyedJobs = how {
                let tally = tally.clone();
                tokio::spawn(async move {
                    tally.started.fetch_add(1, Ordering::AcqRel);
                    let out = ours_job(i).await;
                    assert!(out.is_err());
                    tally.finish();
                });
                continue;
            }
            let scope = match how {
                Ours::KeyedJobs => unreachable!(),
                Ours::KeyedCancelAll => FAN.enter(i).expect("free key"),
                Ours::KeyedUnderParent => FAN.enter_child(i, &root_token).expect("free key"),
                Ours::AnonymousUnderParent => root.child(),
            };
            let tally = tally.clone();
            tokio::spawn(async move {
                tally.started.fetch_add(1, Ordering::AcqRel);
                let out = scope.run(pending::<()>()).await;
                assert!(out.is_err());
                tally.finish();
            });
        }
        tally.all_started().await;
        // A job enters its key on its first poll: one entering after the
        // cancel would wait forever.
        while FAN.len() < n && matches!(how, Ours::KeyedJobs) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let finished = tally.all_done.notified();
        common::perf_window(true);
        let t0 = Instant::now();
        match how {
            Ours::KeyedJobs | Ours::KeyedCancelAll => {
                FAN.cancel_all();
            }
            Ours::KeyedUnderParent | Ours::AnonymousUnderParent => {
                root.cancel();
            }
        }
        let called = t0.elapsed();
        finished.await;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        common::perf_window(false);
        if std::env::var_os("SC_BENCH_VERBOSE").is_some() {
            eprintln!("    cancel call returned after {called:.1?}, all done after {ms:.1} ms");
        }
        assert!(FAN.is_empty());
        ms
    })
}

/// One round by hand: `n` tasks, each awaiting a token; see [`Hand`].
fn hand_round(rt: &tokio::runtime::Runtime, n: usize, how: Hand) -> f64 {
    rt.block_on(async {
        let tally = Tally::new(n);
        let parent = CancellationToken::new();
        // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
        let map: Arc<BestMap> = Arc::new(calls::best_map());
        for i in 0..n as u64 {
            let tally = tally.clone();
            let token = match how {
                Hand::MapSnapshot => CancellationToken::new(),
                Hand::Children | Hand::MapParent => parent.child_token(),
            };
            if let Hand::Children = how {
                tokio::spawn(async move {
                    tally.started.fetch_add(1, Ordering::AcqRel);
                    token.cancelled().await;
                    drop(token);
                    tally.finish();
                });
                continue;
            }
            let map = map.clone();
            tokio::spawn(async move {
                tally.started.fetch_add(1, Ordering::AcqRel);
                let out = best_job(map, i, token).await;
                assert!(out.is_none());
                tally.finish();
            });
        }
        tally.all_started().await;
        // As for ours: every job's entry in place before the cancel.
        while map.len() < n && !matches!(how, Hand::Children) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let finished = tally.all_done.notified();
        common::perf_window(true);
        let t0 = Instant::now();
        match how {
            Hand::MapSnapshot => {
                // Cancelled outside the map's locks: a woken task removes
                // its own entry, which needs its shard's write lock.
                // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
                let tokens: Vec<CancellationToken> =
                    map.iter().map(|e| e.value().clone()).collect();
                for token in &tokens {
                    token.cancel();
                }
            }
            Hand::Children | Hand::MapParent => parent.cancel(),
        }
        let called = t0.elapsed();
        finished.await;
        common::perf_window(false);
        if std::env::var_os("SC_BENCH_VERBOSE").is_some() {
            eprintln!(
                "    hand: cancel call returned after {called:.1?}, all done after {:.1?}",
                t0.elapsed()
            );
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        assert!(map.is_empty());
        ms
    })
}

fn main() {
    let opts = Options::from_env();
    let n = opts.scaled(100_000);
    let rounds = opts.rounds(21);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows: Vec<Row> = Vec::new();
    let cases = [
        (
            "jobs-snapshot: keyed jobs (#[scoped_cancel(registry, key)] spawned), Registry::cancel_all vs best hand-written jobs, root tokens in a foldhash DashMap cancelled from a snapshot, each task removing its entry",
            Some(1.10),
            Ours::KeyedJobs,
            Hand::MapSnapshot,
        ),
        (
            "jobs-parent: the same keyed jobs vs best hand-written jobs whose tokens are children of one parent, parent.cancel(), each task removing its entry",
            Some(1.10),
            Ours::KeyedJobs,
            Hand::MapParent,
        ),
        (
            "scopes-snapshot: keyed scopes (Registry::enter, run in a task), cancel_all vs the same snapshot pattern",
            Some(1.10),
            Ours::KeyedCancelAll,
            Hand::MapSnapshot,
        ),
        (
            "child-scopes-parent: keyed child scopes (enter_child), parent scope cancelled vs the parent pattern",
            Some(1.10),
            Ours::KeyedUnderParent,
            Hand::MapParent,
        ),
        (
            "anon-children: anonymous child scopes, parent scope cancelled vs raw child tokens (no map), parent.cancel()",
            Some(1.10),
            Ours::AnonymousUnderParent,
            Hand::Children,
        ),
        (
            "keyed-vs-raw: keyed jobs, cancel_all vs raw child tokens in no map (not the same work: ours also removes 100,000 entries)",
            None,
            Ours::KeyedJobs,
            Hand::Children,
        ),
    ];
    for (name, target, how, hand) in cases {
        let name = name.replace("100,000", &n.to_string());
        if opts.wants(&name) {
            rows.push(paired(
                &name,
                "ms",
                target,
                1,
                rounds,
                || ours_round(&rt, n, how),
                || hand_round(&rt, n, hand),
            ));
        }
    }
    print_table(
        "Cancel fan-out: time from the cancel call until every task finished (multi-thread runtime, 2 workers)",
        &rows,
    );
}
