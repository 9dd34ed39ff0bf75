//! Memory: live heap bytes per live keyed job, as a user pays it, counted
//! by a global allocator that adds up requested sizes (allocator overhead
//! not included).
//!
//! A job is a keyed call spawned as a task and waiting for cancellation:
//! the task (tokio's header, the call's future, the trailer), the token, the
//! registry entry. Ours: `tokio::spawn(job(reg, id))` with
//! `#[scoped_cancel(registry = reg, key = id)] async fn job(..)`; best
//! hand-written: the same call written with a foldhash `DashMap`, `entry()`,
//! a root token, a cancel-then-remove guard and `run_until_cancelled`;
//! naive (labelled): a child of one parent token in a SipHash `DashMap`,
//! cloned `DropGuard`, `select!`. Every round starts from a fresh registry
//! or map (tables never shrink), cancels everything at the end (ours
//! `cancel_all`, by hand a snapshot of the map's tokens, each cancelled),
//! waits for every task to finish, drops the registry or map, and checks
//! that the heap is back where the round started: the bench fails if not.
//!
//! A second table holds the scopes alone, without a task or future: a
//! `Registry::enter` guard vs the hand-written guard, kept in a
//! pre-allocated `Vec` (not counted), as a guard lives inline in a future.
//!
//! `cargo bench -p scoped-cancel-tests --bench memory`

mod common;

use std::cell::Cell;
use std::future::pending;
use std::sync::Arc;

use common::calls::{self, BestMap, KeyGuard};
use common::jobs;
use common::{paired, print_table, Options, Row};
use dashmap::DashMap;
use scoped_cancel::{Registry, Scope};
use scoped_cancel_tests::CountingAlloc;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new();

fn live() -> isize {
    GLOBAL.live_bytes()
}

// The jobs themselves: `common/jobs.rs` (`--bench live_memory` measures
// the same ones).

/// The naive hand-written job.
async fn naive_job(
    map: Arc<DashMap<u64, CancellationToken>>,
    parent: CancellationToken,
    id: u64,
) -> Option<()> {
    calls::naive_keyed_in(&map, &parent, id, pending::<()>()).await
}

thread_local! {
    /// The largest heap residue (bytes) a measured round left behind.
    static RESIDUE: Cell<isize> = const { Cell::new(0) };
}

/// Yields until `done()` holds.
async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

/// One round of `n` jobs: spawns them, waits until all are registered,
/// measures, cancels them all, waits for every task to end, and records the
/// heap left over. Returns bytes per live job.
fn jobs_round(
    rt: &Runtime,
    n: usize,
    spawn: &dyn Fn(u64),
    len: &dyn Fn() -> usize,
    cancel_all: &dyn Fn(),
) -> f64 {
    let before = live();
    let per_job = rt.block_on(async {
        for i in 0..n as u64 {
            spawn(i);
        }
        until(|| len() == n).await;
        let per_job = (live() - before) as f64 / n as f64;
        cancel_all();
        let metrics = tokio::runtime::Handle::current().metrics();
        until(|| metrics.num_alive_tasks() == 0).await;
        per_job
    });
    assert_eq!(len(), 0);
    per_job
}

/// `jobs_round` for ours, with a fresh registry.
fn ours_jobs(rt: &Runtime, n: usize) -> f64 {
    let before = live();
    let reg: Arc<Registry<u64>> = Arc::new(Registry::new());
    let per_job = jobs_round(
        rt,
        n,
        &|i| drop(rt.spawn(jobs::ours(reg.clone(), i))),
        &|| reg.len(),
        &|| {
            reg.cancel_all();
        },
    );
    drop(reg);
    note_residue(live() - before);
    per_job
}

/// `jobs_round` for the best hand-written code, with a fresh map.
fn best_jobs(rt: &Runtime, n: usize) -> f64 {
    let before = live();
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    let map: Arc<BestMap> = Arc::new(calls::best_map());
    let per_job = jobs_round(
        rt,
        n,
        &|i| drop(rt.spawn(jobs::best(map.clone(), i))),
        &|| map.len(),
        &|| snapshot_cancel(map.iter().map(|e| e.value().clone()).collect()),
    );
    drop(map);
    note_residue(live() - before);
    per_job
}

/// `jobs_round` for the naive hand-written code, with a fresh map.
fn naive_jobs(rt: &Runtime, n: usize) -> f64 {
    let before = live();
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    let map: Arc<DashMap<u64, CancellationToken>> = Arc::new(DashMap::new());
    let parent = CancellationToken::new();
    let per_job = jobs_round(
        rt,
        n,
        &|i| drop(rt.spawn(naive_job(map.clone(), parent.clone(), i))),
        &|| map.len(),
        &|| parent.cancel(),
    );
    drop(map);
    drop(parent);
    note_residue(live() - before);
    per_job
}

/// Cancels a snapshot of tokens outside the map's locks (a task woken by its
/// token removes its own entry, which needs the shard's write lock).
fn snapshot_cancel(tokens: Vec<CancellationToken>) {
    for token in &tokens {
        token.cancel();
    }
}

fn note_residue(bytes: isize) {
    RESIDUE.with(|r| {
        if bytes.abs() > r.get().abs() {
            r.set(bytes)
        }
    });
}

/// Bytes per live keyed scope alone (no task), `n` alive in a fresh registry.
fn ours_scopes(n: usize, parent: Option<&Scope>) -> f64 {
    let parent = parent.map(Scope::token);
    let mut scopes: Vec<Scope> = Vec::with_capacity(n);
    let mem: Registry<u64> = Registry::new();
    // Allocate the registry's storage (its shards) before counting, as
    // `DashMap::with_hasher` does.
    drop(mem.enter(u64::MAX).expect("free key"));
    let before = live();
    for i in 0..n as u64 {
        scopes.push(match &parent {
            None => mem.enter(i).expect("free key"),
            Some(parent) => mem.enter_child(i, parent).expect("free key"),
        });
    }
    let bytes = (live() - before) as f64 / n as f64;
    drop(scopes);
    assert!(mem.is_empty());
    bytes
}

/// Bytes per live hand-written guard: a token (root, or a child of
/// `parent`) in a fresh foldhash `DashMap` and its guard.
fn best_scopes(n: usize, parent: Option<&CancellationToken>) -> f64 {
    let map = calls::best_map();
    let mut guards: Vec<KeyGuard<'_>> = Vec::with_capacity(n);
    let before = live();
    for i in 0..n as u64 {
        let token = match parent {
            None => CancellationToken::new(),
            Some(parent) => parent.child_token(),
        };
        guards.push(calls::best_enter(&map, i, token).expect("free key"));
    }
    let bytes = (live() - before) as f64 / n as f64;
    drop(guards);
    assert!(map.is_empty());
    bytes
}

fn main() {
    let opts = Options::from_env();
    let rounds = opts.rounds(5);
    let rt = common::current_thread();
    let sizes = [1_000, 10_000, 100_000].map(|n| opts.scaled(n));
    // Grow the runtime's run queue to the largest batch once, outside any
    // round: it keeps its capacity, which is the runtime's, not a job's.
    rt.block_on(async {
        for _ in 0..sizes[2] {
            drop(tokio::spawn(async {}));
        }
        let metrics = tokio::runtime::Handle::current().metrics();
        until(|| metrics.num_alive_tasks() == 0).await;
    });
    let mut rows: Vec<Row> = Vec::new();
    for n in sizes {
        let name = format!("jobs-{n}: {n} live keyed jobs (task + future + token + entry), ours vs best hand-written");
        if opts.wants(&name) {
            rows.push(paired(
                &name,
                "B",
                Some(1.10),
                1,
                rounds,
                || ours_jobs(&rt, n),
                || best_jobs(&rt, n),
            ));
        }
        let name = format!("naive-jobs-{n}: {n} live keyed jobs, ours vs NAIVE (child of one parent, SipHash DashMap, cloned DropGuard)");
        if opts.wants(&name) {
            rows.push(paired(
                &name,
                "B",
                None,
                1,
                rounds,
                || ours_jobs(&rt, n),
                || naive_jobs(&rt, n),
            ));
        }
    }
    let residue = RESIDUE.with(Cell::get);
    print_table(
        "Memory: live heap bytes per live keyed job (requested sizes)",
        &rows,
    );
    println!(
        "\nHeap after every measured round, all jobs cancelled and ended, registry or map dropped: \
         {residue:+} B against the round's start (largest difference seen; 0 = back to baseline)."
    );
    let reg: Arc<Registry<u64>> = Arc::new(Registry::new());
    // scoped-cancel-audit: allow(the hand-written baseline this bench measures against)
    let map: Arc<BestMap> = Arc::new(calls::best_map());
    println!(
        "Future sizes (inside the task): ours {} B, best hand-written {} B.",
        std::mem::size_of_val(&jobs::ours(reg, 0)),
        std::mem::size_of_val(&jobs::best(map, 0)),
    );

    let mut scope_rows: Vec<Row> = Vec::new();
    let parent = CancellationToken::new();
    let root = Scope::root();
    for n in [10_000, 100_000] {
        let n = opts.scaled(n);
        let name = format!("scopes-{n}: {n} live keyed scopes alone (no task) vs best guard (root token + foldhash DashMap entry)");
        if opts.wants(&name) {
            scope_rows.push(paired(
                &name,
                "B",
                None,
                1,
                rounds,
                || ours_scopes(n, None),
                || best_scopes(n, None),
            ));
        }
        let name = format!("child-scopes-{n}: {n} live keyed child scopes (enter_child) vs best guard with a child token");
        if opts.wants(&name) {
            scope_rows.push(paired(
                &name,
                "B",
                None,
                1,
                rounds,
                || ours_scopes(n, Some(&root)),
                || best_scopes(n, Some(&parent)),
            ));
        }
    }
    print_table(
        "Memory: live heap bytes per live keyed scope alone, no task (requested sizes)",
        &scope_rows,
    );
    println!(
        "\nInline guard sizes (held in the caller's future, not on the heap): Scope {} B; \
         hand-written KeyGuard {} B.",
        std::mem::size_of::<Scope>(),
        std::mem::size_of::<KeyGuard<'static>>(),
    );
    assert_eq!(
        residue, 0,
        "the heap did not return to its baseline after cancel_all"
    );
}
