//! Shuttle models of the per-key policies: `enter_replacing` and the wait
//! queue of `enter_waiting`, on the real registry code with its mutexes and
//! atomics swapped for shuttle's. Run with
//! `RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle cargo test -p scoped-cancel --test shuttle_policy`.
//! A waiter that is never woken shows as a deadlock in `block_on`.
#![cfg(shuttle)]

use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::{Cause, EnterError, Registry};
use shuttle::future::block_on;
use shuttle::thread;

const SCHEDULES: usize = 2_000;

/// The holder exits while two replaces race: one replacement holds the key
/// at the end, the other is `Superseded`, the holder's exit removed
/// nothing, and the key is free once the winner ends.
#[test]
fn replaces_racing_each_other_and_the_holders_exit() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let holder = reg.enter(1).expect("free");
            let holder_token = holder.token();
            let leaver = thread::spawn(move || drop(holder));
            let replacers: Vec<_> = (0..2)
                .map(|_| {
                    let reg = reg.clone();
                    thread::spawn(move || reg.enter_replacing(1).expect("not shutting down"))
                })
                .collect();
            leaver.join().unwrap();
            let scopes: Vec<_> = replacers.into_iter().map(|t| t.join().unwrap()).collect();
            let live: Vec<_> = scopes.iter().filter(|s| !s.is_cancelled()).collect();
            assert_eq!(live.len(), 1, "exactly one holder at the end");
            for scope in &scopes {
                if scope.is_cancelled() {
                    assert_eq!(scope.token().cause(), Some(Cause::Superseded));
                }
            }
            assert!(matches!(
                holder_token.cause(),
                Some(Cause::ScopeExited | Cause::Superseded)
            ));
            assert_eq!(reg.len(), 1, "a stale guard removed the new entry");
            assert!(reg.cancel(&1));
            assert_eq!(live[0].token().cause(), Some(Cause::Requested));
            drop(scopes);
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}

/// The holder exits while the first waiter's future is dropped (queued or
/// already handed the key): the second waiter always gets the key.
#[test]
fn waiter_dropped_while_being_handed_the_key() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let holder = reg.enter(1).expect("free");
            let first = reg.enter_waiting(1);
            let second = reg.enter_waiting(1);
            let leaver = thread::spawn(move || drop(holder));
            let dropper = thread::spawn(move || drop(first));
            let scope = block_on(second).expect("handed on, never stuck");
            leaver.join().unwrap();
            dropper.join().unwrap();
            assert!(!scope.is_cancelled());
            assert_eq!(reg.len(), 1);
            assert_eq!(reg.waiting(), 0);
            drop(scope);
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}

/// Two waiters queued in order, each awaited on its own thread while the
/// holder exits: they hold the key one after the other, first come first
/// served, and never both at once.
#[test]
fn waiters_take_turns_in_order() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let turns = Arc::new(shuttle::sync::Mutex::new(Vec::new()));
            let holder = reg.enter(1).expect("free");
            let waiters: Vec<_> = (0..2)
                .map(|i| {
                    let wait = reg.enter_waiting(1);
                    let turns = turns.clone();
                    thread::spawn(move || {
                        let scope = block_on(wait).expect("granted");
                        turns.lock().unwrap().push(i);
                        thread::yield_now();
                        drop(scope);
                    })
                })
                .collect();
            thread::yield_now();
            drop(holder);
            for waiter in waiters {
                waiter.join().unwrap();
            }
            assert_eq!(*turns.lock().unwrap(), [0, 1]);
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}

/// Shutdown racing a hand-off: the waiter is refused, or it was handed the
/// key before shutdown looked and is then cancelled by it; never live.
#[test]
fn waiter_racing_shutdown() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let holder = reg.enter(1).expect("free");
            let wait = reg.enter_waiting(1);
            let leaver = thread::spawn(move || drop(holder));
            let stopper = {
                let reg = reg.clone();
                thread::spawn(move || drop(reg.shutdown(Duration::ZERO)))
            };
            match block_on(wait) {
                Ok(scope) => {
                    stopper.join().unwrap();
                    assert_eq!(scope.token().cause(), Some(Cause::Shutdown));
                }
                Err(err) => assert!(matches!(err, EnterError::ShuttingDown(1))),
            }
            leaver.join().unwrap();
            assert_eq!(reg.waiting(), 0);
        },
        SCHEDULES,
    );
}

/// `cancel(&k)` racing the holder's exit and the hand-off cancels at most
/// one of the two scopes, and says so truthfully.
#[test]
fn waiter_racing_cancel_by_key() {
    shuttle::check_random(
        || {
            let reg = Arc::new(Registry::<u64>::new());
            let holder = reg.enter(1).expect("free");
            let holder_token = holder.token();
            let wait = reg.enter_waiting(1);
            let canceller = {
                let reg = reg.clone();
                thread::spawn(move || reg.cancel(&1))
            };
            let leaver = thread::spawn(move || drop(holder));
            let scope = block_on(wait).expect("granted");
            let cancelled = canceller.join().unwrap();
            leaver.join().unwrap();
            let hits = [holder_token.cause(), scope.token().cause()]
                .iter()
                .filter(|c| **c == Some(Cause::Requested))
                .count();
            assert_eq!(hits, usize::from(cancelled));
            drop(scope);
            assert!(reg.is_empty());
        },
        SCHEDULES,
    );
}
