//! Per-call overhead: ours vs the hand-written tokio-util pattern, one
//! current-thread runtime, sequential calls whose body is immediately ready.
//!
//! `cargo bench -p scoped-cancel-tests --bench overhead [-- FILTER...]`

mod common;

use std::hint::black_box;
use std::sync::mpsc;

use common::calls::{self, Hand, REG};
use common::{ns_per, paired, print_table, Options, Row};
use scoped_cancel::testing::Collector;
use scoped_cancel::Scope;

/// Times `n` sequential calls inside one `block_on`: ns per call. Each
/// call's future is polled through [`common::call`], whose poll is never
/// inlined into the timing loop: ours and the hand-written code are then
/// compiled alike, whatever number of cases share a fn (inlining decisions
/// otherwise moved single cases by ±10 %).
macro_rules! timed {
    ($rt:expr, $n:expr, |$i:ident| $future:expr) => {{
        let n = $n;
        ns_per(n, || {
            $rt.block_on(async {
                for $i in 0..n as u64 {
                    let _ = black_box(common::call($future).await);
                }
            })
        })
    }};
}

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
    let hand = Hand::new();
    let mut rows: Vec<Row> = Vec::new();

    let mut case = |name: &str,
                    target: f64,
                    ours: &mut dyn FnMut() -> f64,
                    theirs: &mut dyn FnMut() -> f64| {
        if opts.wants(name) {
            rows.push(paired(
                name,
                "ns",
                Some(target),
                warmup,
                rounds,
                ours,
                theirs,
            ));
        }
    };

    case(
        "keyed: #[scoped_cancel(registry, key)] vs DashMap+child_token+guard+select",
        1.00,
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
        &mut || timed!(rt, n, |i| calls::hand_keyed(&hand, i)),
    );
    case(
        "keyed + timeout: #[scoped_cancel(registry, key, timeout)] vs the same in tokio::time::timeout",
        1.00,
        &mut || timed!(rt, n, |i| calls::macro_keyed_timeout(i)),
        &mut || timed!(rt, n, |i| calls::hand_keyed_timeout(&hand, i)),
    );
    case(
        "anonymous: #[scoped_cancel] vs child_token+guard+select",
        1.05,
        &mut || timed!(rt, n, |i| calls::macro_anonymous(i)),
        &mut || timed!(rt, n, |i| calls::hand_anonymous(&hand.parent, i)),
    );
    let root = Scope::root();
    let root_token = root.token();
    case(
        "anonymous, parent = ..: #[scoped_cancel(parent)] vs child_token+guard+select",
        1.05,
        &mut || timed!(rt, n, |i| calls::macro_anonymous_child(i, &root_token)),
        &mut || timed!(rt, n, |i| calls::hand_anonymous(&hand.parent, i)),
    );
    case(
        "Registry::enter + drop vs child_token+DashMap insert/remove+guard",
        1.00,
        &mut || ns_per(n, || (0..n as u64).for_each(calls::ours_enter_drop)),
        &mut || {
            ns_per(n, || {
                (0..n as u64).for_each(|i| calls::hand_enter_drop(&hand, i))
            })
        },
    );
    case(
        "Registry::enter(k)?.run(fut) vs DashMap+child_token+guard+select",
        1.00,
        &mut || timed!(rt, n, |i| calls::ours_registry_run(i)),
        &mut || timed!(rt, n, |i| calls::hand_keyed(&hand, i)),
    );
    case(
        "Scope::root().run(fut) vs child_token+guard+select",
        1.05,
        &mut || timed!(rt, n, |i| Scope::root().run(async move { black_box(i) })),
        &mut || timed!(rt, n, |i| calls::hand_anonymous(&hand.parent, i)),
    );
    case(
        "cancelled call: Scope::root(), cancel, run(pending) vs child_token, cancel, guard+select",
        1.05,
        &mut || timed!(rt, n, |_i| calls::ours_cancelled()),
        &mut || timed!(rt, n, |_i| calls::hand_cancelled(&hand.parent)),
    );
    case(
        "tracking on: keyed, this thread's Collector records every scope vs off",
        1.05,
        &mut || {
            let collector = Collector::new();
            let attached = collector.attach_current_thread();
            let ns = timed!(rt, n, |i| calls::macro_keyed(i));
            drop(attached);
            ns
        },
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
    );
    case(
        "tracking on: anonymous, this thread's Collector records every scope vs off",
        1.05,
        &mut || {
            let collector = Collector::new();
            let attached = collector.attach_current_thread();
            let ns = timed!(rt, n, |i| calls::macro_anonymous(i));
            drop(attached);
            ns
        },
        &mut || timed!(rt, n, |i| calls::macro_anonymous(i)),
    );
    let elsewhere = Elsewhere::start();
    case(
        "tracking elsewhere: keyed, a Collector attached to another thread only vs off",
        1.05,
        &mut || {
            elsewhere.set(true);
            let ns = timed!(rt, n, |i| calls::macro_keyed(i));
            elsewhere.set(false);
            ns
        },
        &mut || timed!(rt, n, |i| calls::macro_keyed(i)),
    );
    drop(root);
    assert!(REG.is_empty());
    print_table("Per-call overhead (current-thread runtime)", &rows);
}
