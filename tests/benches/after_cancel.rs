//! `Token::after_cancel`: registering a callback on a live token and
//! dropping the registration, against the hand-written equivalent: a task
//! spawned to await `token.cancelled()` and then call the callback, aborted
//! when the registration is dropped. Time per registration (ns); the bytes
//! per live registration are in the `live_memory` bench.
//!
//! - `live`: 5,000 registrations alive together on one live token, then
//!   all dropped. The hand-written side counts what its registrations
//!   cost until they are gone: spawning, the first poll of each task (which
//!   puts its waiter in the token; awaited by a task spawned after them, as
//!   the current-thread runtime runs tasks in order), the aborts, and the
//!   runtime dropping the aborted tasks.
//! - `brief`: each registration dropped at once; by hand a task spawned and
//!   aborted before it ever ran (its waiter never registered, the cheapest
//!   a task can be).
//!
//! Both callbacks capture the same 8 bytes (a `&'static` counter). One
//! current-thread runtime; batches of 5,000 × `SC_BENCH_SCALE`
//! registrations after 5 warm-up batches, so
//! `SC_BENCH_TARGET=after_cancel bash tests/benches/instructions.sh` counts
//! them.
//!
//! `cargo bench -p scoped-cancel-tests --bench after_cancel [-- FILTER | =ID ...]`

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{ns_per, paired, print_table, Options, Row};
use scoped_cancel::{AfterCancel, Scope, Token};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What every callback touches.
static HITS: AtomicUsize = AtomicUsize::new(0);

fn callback(hits: &'static AtomicUsize) -> impl FnOnce() + Send + 'static {
    move || {
        hits.fetch_add(1, Ordering::Relaxed);
    }
}

/// Ours: one registration.
fn ours_register(token: &Token) -> AfterCancel {
    token.after_cancel(callback(&HITS))
}

/// By hand: a task that waits for the cancel, then runs the callback.
fn hand_register(token: &CancellationToken) -> JoinHandle<()> {
    let token = token.clone();
    let f = callback(&HITS);
    tokio::spawn(async move {
        token.cancelled().await;
        f();
    })
}

/// Lets every task spawned so far run once: the current-thread runtime
/// runs its queue in order, so a task spawned now runs after them.
async fn run_queued() {
    tokio::spawn(async {}).await.expect("empty task");
}

/// Ours, `n` registrations alive together, then dropped: ns each.
fn ours_live(rt: &Runtime, token: &Token, held: &mut Vec<AfterCancel>, n: usize) -> f64 {
    ns_per(n, || {
        rt.block_on(async {
            for _ in 0..n {
                held.push(ours_register(token));
            }
            black_box(&held);
            held.clear();
        })
    })
}

/// By hand, `n` tasks alive together (each polled once), then aborted and
/// gone: ns each.
fn hand_live(
    rt: &Runtime,
    token: &CancellationToken,
    held: &mut Vec<JoinHandle<()>>,
    n: usize,
) -> f64 {
    ns_per(n, || {
        rt.block_on(async {
            for _ in 0..n {
                held.push(hand_register(token));
            }
            run_queued().await;
            black_box(&held);
            for handle in held.drain(..) {
                handle.abort();
            }
            run_queued().await;
        })
    })
}

/// Ours, each registration dropped at once: ns each.
fn ours_brief(rt: &Runtime, token: &Token, n: usize) -> f64 {
    ns_per(n, || {
        rt.block_on(async {
            for _ in 0..n {
                drop(black_box(ours_register(token)));
            }
        })
    })
}

/// By hand, each task aborted before it ran, then the runtime drops them.
fn hand_brief(rt: &Runtime, token: &CancellationToken, n: usize) -> f64 {
    ns_per(n, || {
        rt.block_on(async {
            for _ in 0..n {
                black_box(hand_register(token)).abort();
            }
            run_queued().await;
        })
    })
}

/// Outside the timings: both kinds of registration run their callback
/// once on cancel, and none after being dropped.
fn self_check(rt: &Runtime) {
    let alive = rt.metrics();
    rt.block_on(async {
        let scope = Scope::root();
        let token = CancellationToken::new();
        let before = HITS.load(Ordering::SeqCst);
        let dropped = (ours_register(&scope.token()), hand_register(&token));
        run_queued().await;
        drop(dropped.0);
        dropped.1.abort();
        let kept = (ours_register(&scope.token()), hand_register(&token));
        run_queued().await;
        scope.cancel();
        token.cancel();
        kept.1.await.expect("the task ran its callback");
        drop(kept.0);
        assert_eq!(HITS.load(Ordering::SeqCst) - before, 2);
        run_queued().await;
    });
    assert_eq!(alive.num_alive_tasks(), 0);
}

fn main() {
    let opts = Options::from_env();
    let rounds = opts.rounds(151);
    let warmup = 5;
    let n = opts.scaled(5_000);
    let rt = common::current_thread();
    self_check(&rt);

    // One live token per side for the whole run; the vectors that hold the
    // live registrations are allocated once.
    let scope = Scope::root();
    let ours_token = scope.token();
    let hand_token = CancellationToken::new();
    let mut ours_held: Vec<AfterCancel> = Vec::with_capacity(n);
    let mut hand_held: Vec<JoinHandle<()>> = Vec::with_capacity(n);

    let mut rows: Vec<Row> = Vec::new();
    let name = format!(
        "live: {n} after_cancel registrations alive on one token, then dropped vs {n} tasks awaiting cancelled() (polled once), then aborted, per registration"
    );
    if opts.wants(&name) {
        rows.push(paired(
            &name,
            "ns",
            Some(0.50),
            warmup,
            rounds,
            || ours_live(&rt, &ours_token, &mut ours_held, n),
            || hand_live(&rt, &hand_token, &mut hand_held, n),
        ));
    }
    let name = "brief: after_cancel dropped at once vs a task spawned and aborted before it runs, per registration";
    if opts.wants(name) {
        rows.push(paired(
            name,
            "ns",
            Some(0.50),
            warmup,
            rounds,
            || ours_brief(&rt, &ours_token, n),
            || hand_brief(&rt, &hand_token, n),
        ));
    }
    assert_eq!(
        rt.metrics().num_alive_tasks(),
        0,
        "a task outlived its batch"
    );
    print_table(
        "after_cancel: register and drop on a live token vs a task awaiting cancelled()",
        &rows,
    );
}
