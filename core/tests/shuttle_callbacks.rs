//! Shuttle models of the callbacks on cancel, the links built on them and
//! task groups: the real code, its mutexes and atomics swapped for
//! shuttle's, explored over many random schedules. `cargo test --workspace`
//! runs them through `tests/models.rs`.
#![cfg(shuttle)]

use std::sync::Arc;

use scoped_cancel::{Cause, GroupError, Scope, TaskGroup};
use shuttle::sync::atomic::{AtomicUsize, Ordering};
use shuttle::thread;

const SCHEDULES: usize = 2_000;

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// A callback registered while another thread cancels the token runs
/// exactly once: found in the list by the cancel, or run at once by the
/// registration that saw the cause.
#[test]
fn registration_racing_cancel() {
    shuttle::check_random(
        || {
            let scope = Scope::root();
            let token = scope.token();
            let runs = counter();
            let canceller = thread::spawn(move || scope.cancel());
            let counted = runs.clone();
            let registration = token.after_cancel(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            assert!(canceller.join().unwrap());
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert!(!registration.stop(), "it has run");
        },
        SCHEDULES,
    );
}

/// `stop` racing the cancel: `true` exactly when the callback never runs.
#[test]
fn stop_racing_cancel() {
    shuttle::check_random(
        || {
            let scope = Scope::root();
            let token = scope.token();
            let runs = counter();
            let counted = runs.clone();
            let registration = token.after_cancel(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            let stopper = thread::spawn(move || registration.stop());
            scope.cancel();
            let stopped = stopper.join().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), usize::from(!stopped));
        },
        SCHEDULES,
    );
}

/// A linked scope ends while the token it is linked to is cancelled: its
/// cause is `Linked` or its own end, never both; and no registration of
/// the link is left in the other token (a later callback there is the only
/// one to run).
#[test]
fn link_whose_scope_ends_while_the_other_is_cancelled() {
    shuttle::check_random(
        || {
            let server = Scope::root();
            let server_token = server.token();
            let request = Scope::root();
            request.link(&server_token);
            let request_token = request.token();
            let canceller = thread::spawn(move || server.cancel());
            drop(request);
            canceller.join().unwrap();
            let cause = request_token.cause();
            assert!(
                matches!(cause, Some(Cause::Linked | Cause::ScopeExited)),
                "{cause:?}"
            );
        },
        SCHEDULES,
    );
}

/// A linked scope that ends leaves nothing in a live token: made and ended
/// on one thread while another thread registers and stops its own callback.
#[test]
fn links_and_registrations_on_one_token_from_two_threads() {
    shuttle::check_random(
        || {
            let long_lived = Scope::root();
            let token = long_lived.token();
            let other = {
                let token = token.clone();
                thread::spawn(move || {
                    let registration = token.after_cancel(|| {});
                    assert!(registration.stop());
                })
            };
            let short = Scope::root();
            short.link(&token);
            drop(short);
            other.join().unwrap();
            let runs = counter();
            let counted = runs.clone();
            let _probe = token.after_cancel(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            drop(long_lived);
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        },
        SCHEDULES,
    );
}

/// A fail-fast group's failing task races `join` and a `cancel` of the
/// group from another thread: `join` returns only once every task has
/// ended, with the failure or the cancel, never a value missing from `Ok`.
#[test]
fn group_failure_racing_join_and_cancel() {
    shuttle::check_random(
        || {
            let ended = counter();
            // Spawned from inside the executor, as a program does.
            let (out, canceller) = shuttle::future::block_on({
                let ended = ended.clone();
                async move {
                    let mut group = TaskGroup::<u32, &'static str>::new();
                    for i in 0..3u32 {
                        let ended = ended.clone();
                        group.spawn(async move {
                            struct End(Arc<AtomicUsize>);
                            impl Drop for End {
                                fn drop(&mut self) {
                                    self.0.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            let _end = End(ended);
                            shuttle::future::yield_now().await;
                            if i == 1 {
                                return Err("task 1 failed");
                            }
                            Ok(i)
                        });
                    }
                    let token = group.token();
                    let canceller = thread::spawn(move || token.cancel());
                    (group.join().await, canceller)
                }
            });
            assert_eq!(
                ended.load(Ordering::SeqCst),
                3,
                "join returned before a task ended"
            );
            match out {
                Err(GroupError::Failed(error)) => assert_eq!(error, "task 1 failed"),
                Err(GroupError::Cancelled(cancelled)) => {
                    assert_eq!(cancelled.cause(), Cause::Requested)
                }
                other => panic!("{other:?}"),
            }
            canceller.join().unwrap();
        },
        SCHEDULES,
    );
}
