//! Task groups: a fail-fast `TaskGroup` of N tasks, spawned and joined,
//! against the best hand-written equivalent: a `tokio::task::JoinSet` and
//! one root `CancellationToken`, each task raced with
//! `run_until_cancelled` on a clone of the token, the join loop cancelling
//! the token on the first error (or panic) and putting values back in
//! spawn order. Cost per task (ns), N = 10 and 1,000.
//!
//! Bodies (the same `async fn` on both sides): `instant` (`Ok` at once),
//! `wait` (pending once, woken at once: `calls::wait_once`, as in the
//! per-call benches; `yield_now` would add the driver's park to both
//! sides), `fail` (the last task spawned fails at once, every other one
//! waits until it is cancelled: the cancel path).
//!
//! Runtimes: a current-thread runtime (`ct-*`, the batch in `block_on`)
//! and a multi-thread runtime with 2 workers (`mt-*`, the batch runs in a
//! task, so its spawns go to a worker's queue, as in a server).
//!
//! Batches hold 5,000 tasks × `SC_BENCH_SCALE` (500 groups of 10, or 5 of
//! 1,000), after 5 warm-up batches: the shape `instructions.sh` expects
//! (`SC_BENCH_TARGET=groups bash tests/benches/instructions.sh =ct-10-instant`).
//!
//! `cargo bench -p scoped-cancel-tests --bench groups [-- FILTER | =ID ...]`

mod common;

use std::hint::black_box;

use common::calls::wait_once;
use common::{ns_per, paired, print_table, Options, Row};
use scoped_cancel::{GroupError, TaskGroup};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The error a failing task returns.
#[derive(Debug, PartialEq)]
struct Fail;

/// What every task of a group does.
#[derive(Clone, Copy, PartialEq)]
enum Body {
    Instant,
    Wait,
    /// The last task fails at once; the others wait until cancelled.
    FailLast,
}

impl Body {
    fn name(self) -> &'static str {
        match self {
            Body::Instant => "instant",
            Body::Wait => "wait",
            Body::FailLast => "fail",
        }
    }
}

/// A task's body, the same future type on both sides.
async fn body(kind: Body, i: usize, n: usize) -> Result<u64, Fail> {
    match kind {
        Body::Instant => Ok(black_box(i as u64)),
        Body::Wait => Ok(wait_once(i as u64).await),
        Body::FailLast if i + 1 == n => Err(Fail),
        Body::FailLast => std::future::pending().await,
    }
}

/// Ours: a fail-fast group of `n` tasks, joined.
async fn ours_group(kind: Body, n: usize) -> Result<Vec<u64>, GroupError<Fail>> {
    let mut group = TaskGroup::new();
    for i in 0..n {
        group.spawn(body(kind, i, n));
    }
    group.join().await
}

/// The best hand-written group: `JoinSet` + one root token cancelled on
/// the first failure; values kept in spawn order.
async fn hand_group(kind: Body, n: usize) -> Result<Vec<u64>, Fail> {
    let token = CancellationToken::new();
    let mut set = JoinSet::new();
    for i in 0..n {
        let token = token.clone();
        set.spawn(async move { (i, token.run_until_cancelled(body(kind, i, n)).await) });
    }
    let mut values: Vec<Option<u64>> = vec![None; n];
    let mut failure = None;
    let mut panic = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Some(Ok(value)))) => values[i] = Some(value),
            Ok((_, Some(Err(error)))) => {
                if failure.is_none() && panic.is_none() {
                    token.cancel();
                    failure = Some(error);
                }
            }
            // Cancelled by the token.
            Ok((_, None)) => {}
            Err(error) => {
                if failure.is_none() && panic.is_none() && error.is_panic() {
                    token.cancel();
                    panic = Some(error.into_panic());
                }
            }
        }
    }
    if let Some(payload) = panic {
        std::panic::resume_unwind(payload);
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(values
            .into_iter()
            .map(|v| v.expect("every task returned"))
            .collect()),
    }
}

/// Checks a group's outcome (cheap: the length and the ends).
fn check<E: std::fmt::Debug>(kind: Body, n: usize, out: Result<Vec<u64>, E>) {
    match (kind, out) {
        (Body::FailLast, Err(_)) => {}
        (Body::FailLast, Ok(_)) => panic!("a failing group returned Ok"),
        (_, Ok(values)) => {
            assert_eq!(values.len(), n);
            assert_eq!((values[0], values[n - 1]), (0, n as u64 - 1));
        }
        (_, Err(error)) => panic!("group failed: {error:?}"),
    }
}

/// Times `groups` groups of `n` tasks, one after the other: ns per task.
/// On a multi-thread runtime the batch runs in a task of its own.
fn batch(rt: &Runtime, multi: bool, ours: bool, kind: Body, groups: usize, n: usize) -> f64 {
    let work = async move {
        for _ in 0..groups {
            if ours {
                let out = black_box(ours_group(kind, n).await);
                check(kind, n, out);
            } else {
                let out = black_box(hand_group(kind, n).await);
                check(kind, n, out);
            }
        }
    };
    ns_per(groups * n, || {
        if multi {
            rt.block_on(async { tokio::spawn(work).await.expect("batch task") })
        } else {
            rt.block_on(work)
        }
    })
}

/// A sanity pass outside the timings: both sides return the values in
/// spawn order and fail with the failing task's error.
fn self_check(rt: &Runtime) {
    rt.block_on(async {
        let n = 50;
        let expected: Vec<u64> = (0..n as u64).collect();
        for kind in [Body::Instant, Body::Wait] {
            assert_eq!(ours_group(kind, n).await.expect("ours"), expected);
            assert_eq!(hand_group(kind, n).await, Ok(expected.clone()));
        }
        assert!(matches!(
            ours_group(Body::FailLast, n).await,
            Err(GroupError::Failed(Fail))
        ));
        assert_eq!(hand_group(Body::FailLast, n).await, Err(Fail));
    });
}

fn main() {
    let opts = Options::from_env();
    let rounds = opts.rounds(151);
    let warmup = 5;
    let tasks = opts.scaled(5_000);
    let mut rows: Vec<Row> = Vec::new();
    for (prefix, is_multi, label) in [
        ("ct", false, "current-thread"),
        ("mt", true, "multi-thread, 2 workers"),
    ] {
        // Made only when one of its cases runs: idle workers of an unused
        // runtime would still move callgrind's counts of the other cases.
        let mut runtime = None;
        for n in [10, 1_000] {
            let groups = (tasks / n).max(1);
            for kind in [Body::Instant, Body::Wait, Body::FailLast] {
                let what = match kind {
                    Body::Instant => "each task Ok at once",
                    Body::Wait => "each task waits once",
                    Body::FailLast => "the last task fails, the others are cancelled",
                };
                let name = format!(
                    "{prefix}-{n}-{}: fail-fast TaskGroup of {n} vs JoinSet + one token, {what}, {label}, per task",
                    kind.name()
                );
                if opts.wants(&name) {
                    let rt = runtime.get_or_insert_with(|| {
                        let rt = if is_multi {
                            tokio::runtime::Builder::new_multi_thread()
                                .worker_threads(2)
                                .enable_time()
                                .build()
                                .expect("runtime")
                        } else {
                            common::current_thread()
                        };
                        self_check(&rt);
                        rt
                    });
                    rows.push(paired(
                        &name,
                        "ns",
                        Some(1.00),
                        warmup,
                        rounds,
                        || batch(rt, is_multi, true, kind, groups, n),
                        || batch(rt, is_multi, false, kind, groups, n),
                    ));
                }
            }
        }
    }
    print_table(
        "Task groups: ns per task, fail-fast TaskGroup vs JoinSet + CancellationToken",
        &rows,
    );
}
