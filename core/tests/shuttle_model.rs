//! Shuttle models of the registry's synchronisation: the real registry code,
//! with its mutexes and atomics (and the tracker's record lists and a
//! node's `ended` flag) swapped for shuttle's, explored over many random
//! schedules. `cargo test --workspace` runs them through `tests/models.rs`;
//! by hand:
//! `RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle cargo test -p scoped-cancel --test shuttle_model`.
#![cfg(shuttle)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::testing::Collector;
use scoped_cancel::{Cause, EnterError, Registry};
use shuttle::sync::atomic::{AtomicUsize, Ordering};
use shuttle::thread;

const SCHEDULES: usize = 2_000;

/// A scope exits and its key is re-entered while another thread cancels the
/// key: `cancel` returns `true` exactly when one of the two scopes ends with
/// `Requested`, and never for both.
#[test]
fn cancel_racing_exit_and_reentry() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let first = reg.enter(1).expect("free");
            let first_token = first.token();
            let canceller = {
                let reg = reg.clone();
                thread::spawn(move || reg.cancel(&1))
            };
            drop(first);
            let second = reg.enter(1).expect("the old guard released the key");
            let second_token = second.token();
            let cancelled = canceller.join().unwrap();
            drop(second);
            let requested = [&first_token, &second_token]
                .iter()
                .filter(|t| t.cause() == Some(Cause::Requested))
                .count();
            assert_eq!(requested, usize::from(cancelled));
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}

/// While a guard drops, a reader that finds the key absent finds the token
/// cancelled (the guard cancels before it unlinks).
#[test]
fn absent_key_implies_cancelled_token() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let scope = reg.enter(1).expect("free");
            let token = scope.token();
            let reader = {
                let reg = reg.clone();
                thread::spawn(move || {
                    if !reg.contains_key(&1) {
                        assert!(token.is_cancelled());
                    }
                })
            };
            drop(scope);
            reader.join().unwrap();
        },
        SCHEDULES,
    );
}

/// An enter racing shutdown is refused, or entered and cancelled by it.
#[test]
fn enter_racing_shutdown() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let _warm = reg.len();
            let enterer = {
                let reg = reg.clone();
                thread::spawn(move || reg.enter(1))
            };
            drop(reg.shutdown(Duration::ZERO));
            match enterer.join().unwrap() {
                Ok(scope) => assert_eq!(scope.token().cause(), Some(Cause::Shutdown)),
                Err(err) => assert!(matches!(err, EnterError::ShuttingDown(1))),
            }
        },
        SCHEDULES,
    );
}

/// Two threads enter the same key: at most one scope is live at a time
/// (each holder counts itself in while it holds the scope, and no schedule
/// may see two), and a refused enter leaves the live scope untouched.
#[test]
fn one_live_scope_per_key() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let holders = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (reg, holders) = (reg.clone(), holders.clone());
                    thread::spawn(move || match reg.enter(7) {
                        Ok(scope) => {
                            let token = scope.token();
                            let others = holders.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(others, 0, "two live scopes hold one key");
                            thread::yield_now();
                            assert!(
                                !token.is_cancelled(),
                                "a refused enter touched the live scope"
                            );
                            // Counted out before the scope releases the key.
                            holders.fetch_sub(1, Ordering::SeqCst);
                            drop(scope);
                            Some(token)
                        }
                        Err(_) => None,
                    })
                })
                .collect();
            let winners: Vec<_> = threads
                .into_iter()
                .filter_map(|t| t.join().unwrap())
                .collect();
            // A winner may have exited before the other tried: then both win in turn.
            assert!(!winners.is_empty());
            assert!(winners
                .iter()
                .all(|t| t.cause() == Some(Cause::ScopeExited)));
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}

/// A tracked keyed scope ends while another thread takes a leak report:
/// a report that no longer lists the scope implies its key is free (the
/// scope unlinks before it marks its node ended), and once the drop has
/// returned no report lists it.
#[test]
fn a_report_without_the_scope_implies_its_key_is_free() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let collector = Collector::new();
            let _attached = collector.attach_current_thread();
            let scope = reg.enter(1).expect("free");
            assert_eq!(collector.len(), 1);
            let reporter = {
                let (reg, collector) = (reg.clone(), collector.clone());
                thread::spawn(move || {
                    if collector.is_empty() {
                        assert!(!reg.contains_key(&1), "not listed, but the key is held");
                    }
                })
            };
            drop(scope);
            assert!(collector.is_empty());
            reporter.join().unwrap();
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}

/// A waker that records that it was woken.
struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Polls `fut` once with a waker that sets a flag; returns whether it was
/// ready and the flag.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> (bool, Arc<Flag>) {
    let flag = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    let waker = std::task::Waker::from(flag.clone());
    let ready = fut
        .poll(&mut std::task::Context::from_waker(&waker))
        .is_ready();
    (ready, flag)
}

/// Polls `run` once while `canceller` (a thread that cancels its token)
/// runs: either that poll already ends it, or the cancel woke the waker it
/// parked (no lost wake-up) and the next poll ends it with `cause`.
fn run_ends_with_its_cause<F>(run: F, canceller: thread::JoinHandle<bool>, cause: Cause)
where
    F: Future<Output = Result<(), scoped_cancel::Cancelled>>,
{
    let mut run = std::pin::pin!(run);
    let (ready, flag) = poll_once(run.as_mut());
    assert!(canceller.join().unwrap());
    if ready {
        return;
    }
    assert!(
        flag.0.load(std::sync::atomic::Ordering::SeqCst),
        "lost wake-up"
    );
    let waker = std::task::Waker::from(flag.clone());
    match run
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker))
    {
        std::task::Poll::Ready(Err(e)) => assert_eq!(e.cause(), cause),
        _ => panic!("a cancelled scope's run must end with its cause"),
    }
}

/// A root scope's `Run` parks its waker in the node while another thread
/// cancels the token: either the poll sees the cause, or the cancel wakes
/// the parked waker (no lost wake-up), and the next poll returns the cause.
#[test]
fn root_run_parking_racing_cancel() {
    shuttle::check_random(
        || {
            let scope = scoped_cancel::Scope::root();
            let token = scope.token();
            let canceller = thread::spawn(move || token.cancel());
            let run = scope.run(std::future::pending::<()>());
            run_ends_with_its_cause(run, canceller, Cause::Requested);
        },
        SCHEDULES,
    );
}

/// A root's tokio-util token is made on first use (here by `cancelled()`)
/// while another thread cancels: the new token is cancelled either by its
/// maker (who sees the cause) or by the canceller (who sees it made).
#[test]
fn root_lazy_token_racing_cancel() {
    shuttle::check_random(
        || {
            let scope = scoped_cancel::Scope::root();
            let token = scope.token();
            let waiter = scope.token();
            let canceller = thread::spawn(move || token.cancel());
            let mut cancelled = std::pin::pin!(waiter.cancelled());
            let (ready, flag) = poll_once(cancelled.as_mut());
            assert!(canceller.join().unwrap());
            if !ready {
                assert!(
                    flag.0.load(std::sync::atomic::Ordering::SeqCst),
                    "lost wake-up"
                );
            }
            assert!(waiter.cancellation_token().is_cancelled());
            drop(scope);
        },
        SCHEDULES,
    );
}

/// A child is made under a scope while another thread cancels the scope:
/// the child is either in the list the cancel takes or sees the cause and
/// is born cancelled; either way it ends cancelled with `Parent`.
#[test]
fn child_made_racing_parent_cancel() {
    shuttle::check_random(
        || {
            let parent = scoped_cancel::Scope::root();
            let token = parent.token();
            let canceller = thread::spawn(move || token.cancel());
            let child = parent.child();
            let grandchild = child.child();
            assert!(canceller.join().unwrap());
            for scope in [&child, &grandchild] {
                assert!(
                    scope.token().is_cancelled(),
                    "a child missed its parent's cancel"
                );
                assert_eq!(scope.token().cause(), Some(Cause::Parent));
            }
        },
        SCHEDULES,
    );
}

/// A child scope's `Run` parks its waker in the child's node while another
/// thread cancels the parent: the parent's cancel reaches the child and
/// wakes the parked waker, or the poll sees the cause (no lost wake-up).
#[test]
fn child_run_parking_racing_parent_cancel() {
    shuttle::check_random(
        || {
            let parent = scoped_cancel::Scope::root();
            let child = parent.child();
            let token = parent.token();
            let canceller = thread::spawn(move || token.cancel());
            let run = child.run(std::future::pending::<()>());
            // The child's call reports why its parent was cancelled.
            run_ends_with_its_cause(run, canceller, Cause::Requested);
        },
        SCHEDULES,
    );
}

/// A child's tokio-util token is made on first use while another thread
/// cancels the parent: the new token is cancelled by its maker or by the
/// parent's cancel reaching the child.
#[test]
fn child_lazy_token_racing_parent_cancel() {
    shuttle::check_random(
        || {
            let parent = scoped_cancel::Scope::root();
            let child = parent.child();
            let token = parent.token();
            let waiter = child.token();
            let canceller = thread::spawn(move || token.cancel());
            let handed_out = waiter.cancellation_token();
            assert!(canceller.join().unwrap());
            assert!(
                handed_out.is_cancelled(),
                "a token handed out missed the cancel"
            );
            drop((child, parent));
        },
        SCHEDULES,
    );
}

/// Children end (their scopes drop, leaving the parent's list) and a new
/// child takes a freed place while the parent is cancelled: every child
/// ends cancelled with a cause it can have, and the new one is cancelled
/// whether it took its place before the cancel took the list or after.
#[test]
fn children_ending_racing_parent_cancel() {
    shuttle::check_random(
        || {
            let parent = scoped_cancel::Scope::root();
            let a = parent.child();
            let b = parent.child();
            let (ta, tb) = (a.token(), b.token());
            let parent_token = parent.token();
            let ender = thread::spawn(move || {
                drop(a);
                parent_token.child().into_scope()
            });
            let token = parent.token();
            let canceller = thread::spawn(move || token.cancel());
            drop(b);
            let late = ender.join().unwrap();
            assert!(canceller.join().unwrap());
            for t in [ta, tb] {
                assert!(t.is_cancelled());
                assert!(matches!(
                    t.cause(),
                    Some(Cause::Parent | Cause::ScopeExited)
                ));
            }
            assert_eq!(
                late.token().cause(),
                Some(Cause::Parent),
                "a child in a reused place missed the cancel"
            );
        },
        SCHEDULES,
    );
}

/// A child born cancelled (made after its parent's cause is recorded, but
/// before the parent's cancel has taken its list of children) and dropped
/// at once must not free a place in that list: the sibling made before the
/// cancel, alive throughout, still reads `Parent` afterwards.
#[test]
fn child_born_cancelled_and_dropped_racing_parent_cancel() {
    shuttle::check_random(
        || {
            let parent = scoped_cancel::Scope::root();
            let sibling = parent.child();
            let token = parent.token();
            let churner = thread::spawn(move || {
                for _ in 0..2 {
                    drop(token.child().into_scope());
                }
            });
            let token = parent.token();
            let canceller = thread::spawn(move || token.cancel());
            churner.join().unwrap();
            assert!(canceller.join().unwrap());
            assert_eq!(
                sibling.token().cause(),
                Some(Cause::Parent),
                "a child dropped during the cancel hid its sibling from it"
            );
        },
        SCHEDULES,
    );
}
