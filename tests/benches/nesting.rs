//! Nested calls: `#[scoped_cancel]` fns calling each other, each a child of
//! its caller through the ambient scope, vs hand-written tokio-util code
//! that threads the parent token through every call explicitly.
//!
//! Every batch runs inside one long-lived outer scope (ours: a `Scope`;
//! hand-written: a `CancellationToken`), so a row measures the nested calls
//! alone: depth 1 is one call under the outer scope, depth 3 a chain of
//! three. Bodies are immediately ready. The hand-written levels are the
//! careful baseline: `child_token`, a drop guard (our scope cancels its
//! token at the end too), and body-first `run_until_cancelled`.
//!
//! `cargo bench -p scoped-cancel-tests --bench nesting [-- FILTER...]`;
//! instruction counts: `SC_BENCH_TARGET=nesting bash tests/benches/instructions.sh depth`.

mod common;

use std::hint::black_box;

use common::{ns_per, paired, print_table, Options, Row};
use scoped_cancel::{scoped_cancel, Cancelled, Scope, Token};
use tokio_util::sync::CancellationToken;

#[scoped_cancel]
async fn leaf(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

#[scoped_cancel]
async fn middle(id: u64) -> Result<u64, Cancelled> {
    leaf(id).await
}

#[scoped_cancel]
async fn top(id: u64) -> Result<u64, Cancelled> {
    middle(id).await
}

/// Depth 1 with the parent threaded by hand, as before the ambient scope:
/// what the ambient lookup itself costs is the difference from `leaf`.
#[scoped_cancel(parent = parent)]
async fn leaf_explicit(id: u64, parent: &Token) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

async fn hand_leaf(parent: &CancellationToken, id: u64) -> Option<u64> {
    let token = parent.child_token();
    let _guard = token.clone().drop_guard();
    token
        .run_until_cancelled(async move { black_box(id) })
        .await
}

async fn hand_middle(parent: &CancellationToken, id: u64) -> Option<u64> {
    let token = parent.child_token();
    let _guard = token.clone().drop_guard();
    token
        .run_until_cancelled(hand_leaf(&token, id))
        .await
        .flatten()
}

async fn hand_top(parent: &CancellationToken, id: u64) -> Option<u64> {
    let token = parent.child_token();
    let _guard = token.clone().drop_guard();
    token
        .run_until_cancelled(hand_middle(&token, id))
        .await
        .flatten()
}

/// Times `n` sequential calls of `$future` inside the outer scope `$outer`
/// (ours: a `Scope` whose run is the current scope; hand: a token in scope).
macro_rules! ours {
    ($rt:expr, $n:expr, |$outer:ident, $i:ident| $future:expr) => {{
        let n = $n;
        ns_per(n, || {
            $rt.block_on(Scope::root().run(async {
                let $outer = Token::current().expect("inside the outer scope");
                for $i in 0..n as u64 {
                    let _ = black_box(common::call($future).await);
                }
            }))
            .expect("outer scope is never cancelled")
        })
    }};
}

macro_rules! hand {
    ($rt:expr, $n:expr, |$parent:ident, $i:ident| $future:expr) => {{
        let n = $n;
        ns_per(n, || {
            let $parent = CancellationToken::new();
            let _guard = $parent.clone().drop_guard();
            $rt.block_on(async {
                for $i in 0..n as u64 {
                    let _ = black_box(common::call($future).await);
                }
            })
        })
    }};
}

fn main() {
    let opts = Options::from_env();
    let rt = common::current_thread();
    // 5 warm-up batches + rounds of 5,000 × scale: instructions.sh counts on it.
    let n = opts.scaled(5_000);
    let rounds = opts.rounds(151);
    let warmup = 5;
    let mut rows: Vec<Row> = Vec::new();

    let mut case = |name: &str, ours: &mut dyn FnMut() -> f64, theirs: &mut dyn FnMut() -> f64| {
        if opts.wants(name) {
            rows.push(paired(name, "ns", Some(1.00), warmup, rounds, ours, theirs));
        }
    };

    case(
        "nested depth 1: #[scoped_cancel] under the current scope vs child_token+guard+run_until_cancelled(parent passed)",
        &mut || ours!(rt, n, |_outer, i| leaf(i)),
        &mut || hand!(rt, n, |parent, i| hand_leaf(&parent, i)),
    );
    case(
        "nested depth 3: three #[scoped_cancel] calls, each under its caller vs the same by hand, parent passed down",
        &mut || ours!(rt, n, |_outer, i| top(i)),
        &mut || hand!(rt, n, |parent, i| hand_top(&parent, i)),
    );

    case(
        "nested depth 1, parent = .. threaded by hand: #[scoped_cancel(parent)] vs the same hand-written",
        &mut || ours!(rt, n, |outer, i| leaf_explicit(i, &outer)),
        &mut || hand!(rt, n, |parent, i| hand_leaf(&parent, i)),
    );

    print_table("Nested calls (ns per outermost call)", &rows);
}
