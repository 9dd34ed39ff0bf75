//! `shield(timeout, fut)` that is never cancelled, against what it replaces
//! when nothing cancels: `tokio::time::timeout(timeout, fut)` of the same
//! future. Per call, one current-thread runtime, sequential calls (the
//! per-call benches' shape: 5,000 calls per batch, 5 warm-up batches, so
//! `SC_BENCH_TARGET=shield bash tests/benches/instructions.sh` counts them).
//!
//! Bodies: `instant` (ready at its first poll) and `wait` (pending once,
//! woken at once: both sides then arm their timer). The `in-scope` rows run
//! the whole batch inside one enclosing `Scope::run` on both sides, where
//! a shield also tells the enclosing race that it is running.
//!
//! `cargo bench -p scoped-cancel-tests --bench shield [-- FILTER | =ID ...]`

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::calls::wait_once;
use common::{ns_per, paired, print_table, timed, Options, Row};
use scoped_cancel::{shield, Scope};

const LIMIT: Duration = Duration::from_secs(30);

/// `n` sequential calls made by `one`, inside one enclosing scope: ns per
/// call (the enclosing scope is made once per batch, on both sides).
fn in_scope<F: std::future::Future>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    one: impl Fn(u64) -> F,
) -> f64 {
    ns_per(n, || {
        rt.block_on(Scope::root().run(async {
            for i in 0..n as u64 {
                let _ = black_box(common::call(one(i)).await);
            }
        }))
        .expect("the enclosing scope is never cancelled");
    })
}

fn main() {
    let opts = Options::from_env();
    let rt = common::current_thread();
    let n = opts.scaled(5_000);
    let rounds = opts.rounds(151);
    let warmup = 5;

    // Outside the timings: both sides return the body's value.
    rt.block_on(async {
        assert_eq!(shield(LIMIT, wait_once(7)).await, Ok(7));
        assert_eq!(tokio::time::timeout(LIMIT, wait_once(7)).await, Ok(7));
    });

    let mut rows: Vec<Row> = Vec::new();
    let mut case = |name: &str, ours: &mut dyn FnMut() -> f64, theirs: &mut dyn FnMut() -> f64| {
        if opts.wants(name) {
            rows.push(paired(name, "ns", Some(1.10), warmup, rounds, ours, theirs));
        }
    };
    case(
        "shield-instant: shield(30s, fut) vs tokio::time::timeout(30s, fut), body ready at once",
        &mut || timed!(rt, n, |i| shield(LIMIT, async move { black_box(i) })),
        &mut || {
            timed!(rt, n, |i| tokio::time::timeout(LIMIT, async move {
                black_box(i)
            }))
        },
    );
    case(
        "shield-wait: the same, body waits once",
        &mut || timed!(rt, n, |i| shield(LIMIT, wait_once(i))),
        &mut || timed!(rt, n, |i| tokio::time::timeout(LIMIT, wait_once(i))),
    );
    case(
        "shield-in-scope-instant: the same inside an enclosing Scope::run, body ready at once",
        &mut || in_scope(&rt, n, |i| shield(LIMIT, async move { black_box(i) })),
        &mut || {
            in_scope(&rt, n, |i| {
                tokio::time::timeout(LIMIT, async move { black_box(i) })
            })
        },
    );
    case(
        "shield-in-scope-wait: the same inside an enclosing Scope::run, body waits once",
        &mut || in_scope(&rt, n, |i| shield(LIMIT, wait_once(i))),
        &mut || in_scope(&rt, n, |i| tokio::time::timeout(LIMIT, wait_once(i))),
    );
    print_table(
        "shield, never cancelled, vs tokio::time::timeout: ns per call",
        &rows,
    );
}
