//! Memory: live heap bytes per live keyed scope, counted by a global
//! allocator that adds up requested sizes (allocator overhead not included),
//! vs the hand-written token + `DashMap` entry.
//!
//! Both sides keep their guards in a pre-allocated `Vec` (not counted): a
//! guard lives inline in the caller's future. Their inline sizes are printed
//! too. Hash tables grow by doubling, so bytes per entry depend on the load
//! factor at each count: the table shows several counts.
//!
//! `cargo bench -p scoped-cancel-tests --bench memory`

mod common;

use common::{paired, print_table, Options, Row};
use dashmap::DashMap;
use scoped_cancel::{Registry, Scope};
use scoped_cancel_tests::CountingAlloc;
use tokio_util::sync::{CancellationToken, DropGuard};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new();

fn live() -> isize {
    GLOBAL.live_bytes()
}

/// Bytes per live scope with `n` keyed scopes of a fresh registry alive
/// (fresh, as the hand-written side's map is: tables never shrink).
fn ours(n: usize, parent: Option<&Scope>) -> f64 {
    let parent = parent.map(Scope::token);
    let mut scopes: Vec<Scope> = Vec::with_capacity(n);
    let mem: Registry<u64> = Registry::new();
    // Allocate the registry's storage (its shards) before counting, as
    // `DashMap::new()` does.
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

/// Bytes per live entry of the hand-written pattern: a child token of a
/// parent, a clone in a `DashMap<u64, CancellationToken>`, a drop guard.
fn hand(n: usize, parent: &CancellationToken) -> f64 {
    let mut guards: Vec<DropGuard> = Vec::with_capacity(n);
    // scoped-cancel-audit: allow(the hand-written baseline whose bytes per entry are measured)
    let map: DashMap<u64, CancellationToken> = DashMap::new();
    let before = live();
    for i in 0..n as u64 {
        let token = parent.child_token();
        map.insert(i, token.clone());
        guards.push(token.drop_guard());
    }
    let bytes = (live() - before) as f64 / n as f64;
    for i in 0..n as u64 {
        map.remove(&i);
    }
    drop(guards);
    bytes
}

fn main() {
    let opts = Options::from_env();
    let rounds = opts.rounds(3);
    let parent = CancellationToken::new();
    let root = Scope::root();
    let mut rows: Vec<Row> = Vec::new();
    for n in [1_000, 10_000, 100_000, 150_000] {
        let n = opts.scaled(n);
        let name = format!("{n} live keyed scopes vs child token + DashMap entry");
        if opts.wants(&name) {
            rows.push(paired(
                &name,
                "B",
                Some(1.10),
                1,
                rounds,
                || ours(n, None),
                || hand(n, &parent),
            ));
        }
        let name = format!("{n} live keyed child scopes (enter_child) vs the same");
        if opts.wants(&name) {
            rows.push(paired(
                &name,
                "B",
                Some(1.10),
                1,
                rounds,
                || ours(n, Some(&root)),
                || hand(n, &parent),
            ));
        }
    }
    print_table(
        "Memory: live heap bytes per live keyed scope (requested sizes)",
        &rows,
    );
    println!(
        "\nInline guard sizes (held in the caller's future, not on the heap): Scope {} B; \
         hand-written DropGuard {} B + the CancellationToken used for select {} B.",
        std::mem::size_of::<Scope>(),
        std::mem::size_of::<DropGuard>(),
        std::mem::size_of::<CancellationToken>(),
    );
}
