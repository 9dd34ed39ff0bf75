//! Per-call overhead: ours vs hand-written tokio-util code, one
//! current-thread runtime, sequential calls. Each case runs with a body that
//! is ready at once (`instant`) and one that yields once first (`wait`, so
//! both sides register a waiter on their token). Baselines: the best
//! hand-written code (`best`) and what people often write (`naive`); see
//! `common/calls.rs`.
//!
//! `cargo bench -p scoped-cancel-tests --bench overhead [-- FILTER | =ID ...]`

mod common;

use std::hint::black_box;
use std::sync::mpsc;

use common::calls::{self, Naive, REG};
use common::{ns_per, paired, print_table, timed, Options, Row};
use scoped_cancel::testing::Collector;
use scoped_cancel::Scope;
use tokio_util::sync::CancellationToken;

/// A thread that attaches a collector to itself on request: what a test
/// running in parallel looks like to this thread.
struct Elsewhere {
    tx: mpsc::Sender<bool>,
    ack: mpsc::Receiver<()>,
}

impl Elsewhere {
    fn start() -> Elsewhere {
        let (tx, rx) = mpsc::channel::<bool>();
        let (ack_tx, ack) = mpsc::channel();
        std::thread::spawn(move || {
            let collector = Collector::new();
            let mut guard = None;
            for on in rx {
                guard = None;
                if on {
                    guard = Some(collector.attach_current_thread());
                }
                let _ = ack_tx.send(());
            }
            drop(guard);
        });
        Elsewhere { tx, ack }
    }

    fn set(&self, on: bool) {
        self.tx.send(on).expect("helper alive");
        self.ack.recv().expect("helper alive");
    }
}

fn main() {
    let opts = Options::from_env();
    let rt = common::current_thread();
    let n = opts.scaled(5_000);
    let rounds = opts.rounds(151);
    let warmup = 5;
    let best = calls::best_map();
    let naive = Naive::new();
    let mut rows: Vec<Row> = Vec::new();

    let mut case = |name: &str,
                    target: Option<f64>,
                    ours: &mut dyn FnMut() -> f64,
                    theirs: &mut dyn FnMut() -> f64| {
        if opts.wants(name) {
            rows.push(paired(name, "ns", target, warmup, rounds, ours, theirs));
        }
    };
    let wait = calls::wait_once;

    // Against the best hand-written code.
    case(
        "keyed-instant: #[scoped_cancel(registry, key)] vs best (DashMap+foldhash, entry(), guard, run_until_cancelled), instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
        &mut || timed!(rt, n, |i| calls::best_keyed(&best, i, async move { black_box(i) })),
    );
    case(
        "keyed-wait: the same, body waits once",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed_wait(i)),
        &mut || timed!(rt, n, |i| calls::best_keyed(&best, i, wait(i))),
    );
    case(
        "keyed-instant-select: #[scoped_cancel(registry, key)] vs best with a biased select!, body first, instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
        &mut || timed!(rt, n, |i| calls::best_keyed_select(&best, i, async move { black_box(i) })),
    );
    case(
        "keyed-wait-select: the same, body waits once",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed_wait(i)),
        &mut || timed!(rt, n, |i| calls::best_keyed_select(&best, i, wait(i))),
    );
    case(
        "keyed-timeout-instant: #[scoped_cancel(registry, key, timeout)] vs best in tokio::time::timeout, instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed_timeout(i)),
        &mut || timed!(rt, n, |i| calls::best_keyed_timeout(&best, i, async move { black_box(i) })),
    );
    case(
        "keyed-timeout-wait: the same, body waits once",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed_timeout_wait(i)),
        &mut || timed!(rt, n, |i| calls::best_keyed_timeout(&best, i, wait(i))),
    );
    let request = Scope::root();
    let request_token = request.token();
    let request_ct = CancellationToken::new();
    case(
        "keyed-child-instant: #[scoped_cancel(registry, key, parent)] vs best with parent.child_token(), both under a per-request parent, instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed_child(i, &request_token)),
        &mut || timed!(rt, n, |i| calls::best_keyed_child(&best, &request_ct, i, async move { black_box(i) })),
    );
    case(
        "keyed-child-wait: the same, body waits once",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_keyed_child_wait(i, &request_token)),
        &mut || {
            timed!(rt, n, |i| calls::best_keyed_child(
                &best,
                &request_ct,
                i,
                wait(i)
            ))
        },
    );
    case(
        "anon-instant: #[scoped_cancel] vs best (root token, drop_guard_ref, run_until_cancelled), instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_anonymous(i)),
        &mut || timed!(rt, n, |i| calls::best_anonymous(async move { black_box(i) })),
    );
    case(
        "anon-wait: the same, body waits once",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_anonymous_wait(i)),
        &mut || timed!(rt, n, |i| calls::best_anonymous(wait(i))),
    );
    case(
        "anon-instant-select: #[scoped_cancel] vs best with a biased select!, body first, instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_anonymous(i)),
        &mut || timed!(rt, n, |i| calls::best_anonymous_select(async move { black_box(i) })),
    );
    case(
        "anon-wait-select: the same, body waits once",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_anonymous_wait(i)),
        &mut || timed!(rt, n, |i| calls::best_anonymous_select(wait(i))),
    );
    case(
        "anon-child-instant: #[scoped_cancel(parent)] vs best with parent.child_token(), instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::macro_anonymous_child(i, &request_token)),
        &mut || timed!(rt, n, |i| calls::best_anonymous_child(&request_ct, async move { black_box(i) })),
    );
    case(
        "anon-child-wait: the same, body waits once",
        Some(1.00),
        &mut || {
            timed!(rt, n, |i| calls::macro_anonymous_child_wait(
                i,
                &request_token
            ))
        },
        &mut || timed!(rt, n, |i| calls::best_anonymous_child(&request_ct, wait(i))),
    );
    case(
        "enter-drop: Registry::enter + drop vs best entry() + guard drop (cancel, remove)",
        Some(1.00),
        &mut || ns_per(n, || (0..n as u64).for_each(calls::ours_enter_drop)),
        &mut || {
            ns_per(n, || {
                (0..n as u64).for_each(|i| calls::best_enter_drop(&best, i))
            })
        },
    );
    case(
        "registry-run: Registry::enter(k)?.run(fut) vs best keyed, instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| calls::ours_registry_run(i)),
        &mut || {
            timed!(rt, n, |i| calls::best_keyed(&best, i, async move {
                black_box(i)
            }))
        },
    );
    case(
        "root-run: Scope::root().run(fut) vs best anonymous, instant body",
        Some(1.00),
        &mut || timed!(rt, n, |i| Scope::root().run(async move { black_box(i) })),
        &mut || {
            timed!(rt, n, |i| calls::best_anonymous(
                async move { black_box(i) }
            ))
        },
    );
    case(
        "cancelled: Scope::root(), cancel, run(pending) vs best: new token, cancel, run_until_cancelled(pending)",
        Some(1.00),
        &mut || timed!(rt, n, |_i| calls::ours_cancelled()),
        &mut || timed!(rt, n, |_i| calls::best_cancelled()),
    );

    // Against what people often write (no target: for orientation only).
    case(
        "naive-keyed-instant: #[scoped_cancel(registry, key)] vs NAIVE (SipHash DashMap, child of a shared parent, cloned DropGuard, select! cancelled() first), instant body",
        None,
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
        &mut || timed!(rt, n, |i| calls::naive_keyed(&naive, i, async move { black_box(i) })),
    );
    case(
        "naive-keyed-wait: the same, body waits once",
        None,
        &mut || timed!(rt, n, |i| calls::macro_keyed_wait(i)),
        &mut || timed!(rt, n, |i| calls::naive_keyed(&naive, i, wait(i))),
    );
    case(
        "naive-anon-instant: #[scoped_cancel] vs NAIVE (child of a shared parent, cloned DropGuard, select! cancelled() first), instant body",
        None,
        &mut || timed!(rt, n, |i| calls::macro_anonymous(i)),
        &mut || timed!(rt, n, |i| calls::naive_anonymous(&naive.parent, async move { black_box(i) })),
    );
    case(
        "naive-anon-wait: the same, body waits once",
        None,
        &mut || timed!(rt, n, |i| calls::macro_anonymous_wait(i)),
        &mut || timed!(rt, n, |i| calls::naive_anonymous(&naive.parent, wait(i))),
    );
    case(
        "naive-enter-drop: Registry::enter + drop vs NAIVE child_token + insert + DropGuard + remove",
        None,
        &mut || ns_per(n, || (0..n as u64).for_each(calls::ours_enter_drop)),
        &mut || {
            ns_per(n, || {
                (0..n as u64).for_each(|i| calls::naive_enter_drop_in(&naive.map, &naive.parent, i))
            })
        },
    );

    // Tracking: ours with a collector recording every scope vs ours without.
    let tracked = |f: &mut dyn FnMut() -> f64| {
        let collector = Collector::new();
        let attached = collector.attach_current_thread();
        let ns = f();
        drop(attached);
        ns
    };
    case(
        "track-keyed-instant: tracking on (this thread's Collector records every scope) vs off, keyed, instant body",
        Some(1.10),
        &mut || tracked(&mut || timed!(rt, n, |i| calls::macro_keyed(i))),
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
    );
    case(
        "track-keyed-wait: the same, body waits once",
        Some(1.10),
        &mut || tracked(&mut || timed!(rt, n, |i| calls::macro_keyed_wait(i))),
        &mut || timed!(rt, n, |i| calls::macro_keyed_wait(i)),
    );
    case(
        "track-anon-instant: tracking on vs off, anonymous, instant body",
        Some(1.10),
        &mut || tracked(&mut || timed!(rt, n, |i| calls::macro_anonymous(i))),
        &mut || timed!(rt, n, |i| calls::macro_anonymous(i)),
    );
    case(
        "track-anon-wait: the same, body waits once",
        Some(1.10),
        &mut || tracked(&mut || timed!(rt, n, |i| calls::macro_anonymous_wait(i))),
        &mut || timed!(rt, n, |i| calls::macro_anonymous_wait(i)),
    );
    let elsewhere = Elsewhere::start();
    case(
        "track-elsewhere: a Collector attached to another thread only (a parallel test) vs none, keyed, instant body",
        Some(1.10),
        &mut || {
            elsewhere.set(true);
            let ns = timed!(rt, n, |i| calls::macro_keyed(i));
            elsewhere.set(false);
            ns
        },
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
    );
    drop(request);
    assert!(REG.is_empty());
    assert!(best.is_empty());
    print_table("Per-call overhead (current-thread runtime)", &rows);
}
