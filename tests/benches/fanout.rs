//! Cancel fan-out: 100,000 live scopes, each awaited by its own task, are
//! cancelled at once; the time measured runs from the cancel call until the
//! last task has finished (its scope ended and, for keyed scopes, its entry
//! removed). Hand-written: 100,000 child tokens of one parent, each awaited
//! by a task, and `parent.cancel()`.
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

use common::{paired, print_table, Options, Row};
use dashmap::DashMap;
use scoped_cancel::{Registry, Scope};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

static FAN: Registry<u64> = Registry::new();

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
            let scope = match how {
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
        let finished = tally.all_done.notified();
        common::perf_window(true);
        let t0 = Instant::now();
        match how {
            Ours::KeyedCancelAll => {
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

/// One round by hand: child tokens of one parent, `parent.cancel()`. With
/// `map`, each token is also indexed in it and its task removes the entry
/// when it ends (the hand-written keyed pattern).
fn hand_round(
    rt: &tokio::runtime::Runtime,
    n: usize,
    map: Option<&Arc<DashMap<u64, CancellationToken>>>,
) -> f64 {
    rt.block_on(async {
        let tally = Tally::new(n);
        let parent = CancellationToken::new();
        for i in 0..n as u64 {
            let token = parent.child_token();
            let map = map.cloned();
            if let Some(map) = &map {
                // scoped-cancel-audit: allow(baseline; each task removes its entry)
                map.insert(i, token.clone());
            }
            let tally = tally.clone();
            tokio::spawn(async move {
                tally.started.fetch_add(1, Ordering::AcqRel);
                token.cancelled().await;
                if let Some(map) = map {
                    map.remove(&i);
                }
                drop(token);
                tally.finish();
            });
        }
        tally.all_started().await;
        let finished = tally.all_done.notified();
        common::perf_window(true);
        let t0 = Instant::now();
        parent.cancel();
        let called = t0.elapsed();
        finished.await;
        common::perf_window(false);
        if std::env::var_os("SC_BENCH_VERBOSE").is_some() {
            eprintln!(
                "    hand: cancel call returned after {called:.1?}, all done after {:.1?}",
                t0.elapsed()
            );
        }
        t0.elapsed().as_secs_f64() * 1e3
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
    // scoped-cancel-audit: allow(the hand-written baseline, emptied by its tasks)
    let map: Arc<DashMap<u64, CancellationToken>> = Arc::new(DashMap::new());
    let cases = [
        (
            "keyed scopes, Registry::cancel_all",
            Ours::KeyedCancelAll,
            None,
        ),
        (
            "keyed child scopes, parent scope cancelled",
            Ours::KeyedUnderParent,
            None,
        ),
        (
            "anonymous child scopes, parent scope cancelled",
            Ours::AnonymousUnderParent,
            None,
        ),
        (
            "keyed scopes, Registry::cancel_all",
            Ours::KeyedCancelAll,
            Some(&map),
        ),
        (
            "keyed child scopes, parent scope cancelled",
            Ours::KeyedUnderParent,
            Some(&map),
        ),
    ];
    for (what, how, map) in cases {
        let theirs = match map {
            None => "child tokens",
            Some(_) => "child tokens in a DashMap, removed by their task",
        };
        let name = format!("fan-out ({n} tasks): {what} vs {theirs}, parent.cancel()");
        if opts.wants(&name) {
            rows.push(paired(
                &name,
                "ms",
                Some(1.10),
                1,
                rounds,
                || ours_round(&rt, n, how),
                || hand_round(&rt, n, map),
            ));
        }
    }
    assert!(map.is_empty());
    print_table(
        "Cancel fan-out: time from the cancel call until every task finished (multi-thread runtime, 2 workers)",
        &rows,
    );
}
