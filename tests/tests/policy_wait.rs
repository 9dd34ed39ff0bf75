//! `Registry::enter_waiting`: FIFO per key, direct hand-off, dropped
//! waiters leave the queue (also while being handed the key), shutdown
//! refuses every waiter, and waiters sleep until the key is theirs.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use scoped_cancel::{Cause, EnterError, Registry, Scope};

fn iterations() -> usize {
    scoped_cancel_support::stress_iterations(2_000)
}

/// Polls once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// A generous bound for a wait that must end; only a bug reaches it.
const STUCK: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_free_key_is_taken_at_once() {
    let reg = Registry::<u64>::new();
    let mut wait = reg.enter_waiting(1);
    assert!(reg.contains_key(&1), "taken when called, not when polled");
    let Poll::Ready(Ok(scope)) = poll_once(&mut wait) else {
        panic!("a free key must be ready at once");
    };
    assert_eq!(reg.report()[0].name(), "Registry::enter_waiting");
    drop(scope);
    assert!(reg.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_get_the_key_in_arrival_order() {
    let reg = Arc::new(Registry::<u64>::new());
    let order = Arc::new(Mutex::new(Vec::new()));
    let holder = reg.enter(1).unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            // Queued here, in this order; the tasks then race to await.
            let wait = reg.enter_waiting(1);
            let order = order.clone();
            tokio::spawn(async move {
                let scope = wait.await.unwrap();
                order.lock().unwrap().push(i);
                tokio::task::yield_now().await;
                drop(scope);
            })
        })
        .collect();
    assert_eq!(reg.waiting(), 50);
    drop(holder);
    for task in tasks {
        tokio::time::timeout(STUCK, task).await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
    assert!(reg.is_empty());
    assert_eq!(reg.waiting(), 0);
}

#[tokio::test]
async fn the_key_is_never_free_between_holder_and_waiter() {
    let reg = Registry::<u64>::new();
    let holder = reg.enter(1).unwrap();
    let mut wait = reg.enter_waiting(1);
    drop(holder);
    // Handed over directly: a plain enter cannot slip in.
    assert!(matches!(reg.enter(1), Err(EnterError::Occupied(1))));
    let Poll::Ready(Ok(scope)) = poll_once(&mut wait) else {
        panic!("the waiter was handed the key");
    };
    assert!(!scope.is_cancelled());
    drop(scope);
    assert!(reg.is_empty());
}

#[tokio::test]
async fn a_dropped_waiter_leaves_the_queue() {
    let reg = Registry::<u64>::new();
    let holder = reg.enter(1).unwrap();
    let mut first = reg.enter_waiting(1);
    let second = reg.enter_waiting(1);
    let mut third = reg.enter_waiting(1);
    assert_eq!(reg.waiting(), 3);
    assert!(poll_once(&mut first).is_pending());
    drop(second);
    assert_eq!(reg.waiting(), 2);
    drop(holder);
    let Poll::Ready(Ok(scope)) = poll_once(&mut first) else {
        panic!("first in line");
    };
    assert!(poll_once(&mut third).is_pending());
    drop(scope);
    // The dropped second one is skipped: the third gets the key.
    let Poll::Ready(Ok(scope)) = poll_once(&mut third) else {
        panic!("third after first");
    };
    drop(scope);
    assert!(reg.is_empty());
    assert_eq!(reg.waiting(), 0);
}

#[tokio::test]
async fn a_waiter_dropped_after_being_handed_the_key_passes_it_on() {
    let reg = Registry::<u64>::new();
    let holder = reg.enter(1).unwrap();
    let first = reg.enter_waiting(1);
    let mut second = reg.enter_waiting(1);
    drop(holder); // `first` now holds the key, unpolled
    assert_eq!(format!("{first:?}"), r#"EnterWaiting { state: "granted" }"#);
    assert!(poll_once(&mut second).is_pending());
    drop(first);
    let Poll::Ready(Ok(scope)) = poll_once(&mut second) else {
        panic!("the key went on to the next waiter");
    };
    drop(scope);
    assert!(reg.is_empty());
}

/// A waiter dropped on one thread while the holder's exit hands it the key
/// on another: the key always reaches the next waiter, never stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiter_dropped_while_being_handed_the_key() {
    let reg = Arc::new(Registry::<u64>::new());
    let (mut granted_then_dropped, mut dropped_while_queued) = (0, 0);
    for _ in 0..iterations() {
        let holder = reg.enter(1).unwrap();
        let first = reg.enter_waiting(1);
        let next = reg.enter_waiting(1);
        let barrier = Arc::new(Barrier::new(2));
        let dropper = {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let state = format!("{first:?}");
                drop(first);
                state.contains("granted")
            })
        };
        barrier.wait();
        drop(holder);
        if dropper.join().unwrap() {
            granted_then_dropped += 1;
        } else {
            dropped_while_queued += 1;
        }
        let scope = tokio::time::timeout(STUCK, next).await.unwrap().unwrap();
        assert!(!scope.is_cancelled());
        assert_eq!(reg.len(), 1);
        drop(scope);
        assert!(reg.is_empty());
        assert_eq!(reg.waiting(), 0);
    }
    println!(
        "granted then dropped {granted_then_dropped}, dropped while queued {dropped_while_queued}"
    );
    assert!(
        granted_then_dropped > 0 && dropped_while_queued > 0,
        "the race never went both ways: {granted_then_dropped} / {dropped_while_queued}"
    );
}

/// `cancel(&k)` racing the holder's exit and the hand-off: it cancels at
/// most one of the two (whichever held the key when it looked), and
/// returns `true` exactly when it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiter_racing_cancel_by_key() {
    let reg = Arc::new(Registry::<u64>::new());
    let (mut hit_holder, mut hit_waiter, mut hit_none) = (0, 0, 0);
    for _ in 0..iterations() {
        let holder = reg.enter(1).unwrap();
        let holder_token = holder.token();
        let wait = reg.enter_waiting(1);
        let barrier = Arc::new(Barrier::new(2));
        let canceller = {
            let (reg, barrier) = (reg.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                reg.cancel(&1)
            })
        };
        barrier.wait();
        drop(holder);
        let scope = tokio::time::timeout(STUCK, wait).await.unwrap().unwrap();
        let cancelled = canceller.join().unwrap();
        let holder_hit = holder_token.cause() == Some(Cause::Requested);
        let waiter_hit = scope.token().cause() == Some(Cause::Requested);
        assert!(!(holder_hit && waiter_hit), "cancel hit two scopes");
        assert_eq!(cancelled, holder_hit || waiter_hit);
        match (holder_hit, waiter_hit) {
            (true, _) => hit_holder += 1,
            (_, true) => hit_waiter += 1,
            _ => hit_none += 1,
        }
        if !waiter_hit {
            assert!(!scope.is_cancelled());
        }
        drop(scope);
        assert!(reg.is_empty());
    }
    println!("hit holder {hit_holder}, hit waiter {hit_waiter}, hit none {hit_none}");
    assert!(
        hit_holder > 0 && hit_waiter > 0,
        "the race never went both ways: {hit_holder} / {hit_waiter} / {hit_none}"
    );
}

#[tokio::test]
async fn shutdown_refuses_every_queued_waiter_when_called() {
    let reg = Arc::new(Registry::<u64>::new());
    let holder = reg.enter(1).unwrap();
    let waiters: Vec<_> = (0..5).map(|_| tokio::spawn(reg.enter_waiting(1))).collect();
    let other = reg.enter(2).unwrap();
    let queued_on_2 = tokio::spawn(reg.enter_waiting(2));
    tokio::task::yield_now().await;
    assert_eq!(reg.waiting(), 6);
    let shutdown = reg.shutdown(Duration::from_secs(5)); // not awaited yet
    assert_eq!(
        reg.waiting(),
        0,
        "refused from the moment shutdown is called"
    );
    for waiter in waiters {
        assert!(matches!(
            waiter.await.unwrap(),
            Err(EnterError::ShuttingDown(1))
        ));
    }
    assert!(matches!(
        queued_on_2.await.unwrap(),
        Err(EnterError::ShuttingDown(2))
    ));
    // New waiters are refused at once, free key or not.
    assert!(matches!(
        reg.enter_waiting(3).await,
        Err(EnterError::ShuttingDown(3))
    ));
    assert_eq!(holder.token().cause(), Some(Cause::Shutdown));
    drop((holder, other));
    assert!(shutdown.await.is_clean());
    assert!(reg.is_empty());
}

/// Shutdown racing a hand-off: every waiter is either refused, or handed
/// the key before the shutdown's snapshot and then cancelled by it. None
/// ends up holding a live, un-cancelled scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_racing_a_hand_off() {
    let reg = Arc::new(Registry::<u64>::new());
    let (mut refused, mut handed) = (0, 0);
    for _ in 0..iterations() / 2 {
        reg.reopen();
        let holder = reg.enter(1).unwrap();
        let wait = reg.enter_waiting(1);
        let barrier = Arc::new(Barrier::new(2));
        let leaver = {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                drop(holder);
            })
        };
        barrier.wait();
        let shutdown = reg.shutdown(Duration::from_secs(20));
        leaver.join().unwrap();
        match tokio::time::timeout(STUCK, wait).await.unwrap() {
            Err(EnterError::ShuttingDown(1)) => refused += 1,
            Ok(scope) => {
                assert_eq!(scope.token().cause(), Some(Cause::Shutdown));
                handed += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(shutdown.await.is_clean());
        assert!(reg.is_empty());
    }
    println!("refused {refused}, handed then cancelled {handed}");
    assert!(
        refused > 0 && handed > 0,
        "the race never went both ways: {refused} / {handed}"
    );
}

/// Lets every task that is ready run (current-thread runtime): a woken
/// waiter would be polled before this returns.
async fn let_others_run() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

/// Several waiters, each in its own task that counts its polls: a waiter is
/// polled once to queue and once more when the key is handed to it, and
/// never while another waiter is given the key. A wake-all would poll every
/// queued waiter at each hand-off.
#[tokio::test]
async fn waiters_sleep_until_the_key_is_theirs() {
    const WAITERS: usize = 4;
    let reg = Arc::new(Registry::<u64>::new());
    let holder = reg.enter(1).unwrap();
    let polls: Vec<Arc<AtomicUsize>> = (0..WAITERS).map(|_| Arc::default()).collect();
    let waiters: Vec<_> = polls
        .iter()
        .map(|polls| {
            let mut wait = reg.enter_waiting(1);
            let polls = polls.clone();
            // Its own task, so that only its own wake-ups poll it.
            tokio::spawn(std::future::poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::SeqCst);
                std::pin::Pin::new(&mut wait).poll(cx)
            }))
        })
        .collect();
    let_others_run().await;
    let counts = || {
        polls
            .iter()
            .map(|p| p.load(Ordering::SeqCst))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(), [1; WAITERS], "polled again while queued");
    drop(holder);
    for (turn, waiter) in waiters.into_iter().enumerate() {
        let scope: Scope = waiter.await.unwrap().unwrap();
        let_others_run().await;
        // Done: twice each (queued, then handed the key); queued: once.
        let expected: Vec<usize> = (0..WAITERS)
            .map(|w| if w <= turn { 2 } else { 1 })
            .collect();
        assert_eq!(
            counts(),
            expected,
            "turn {turn}: a waiter woken out of turn"
        );
        drop(scope);
    }
    assert!(reg.is_empty());
    assert_eq!(reg.waiting(), 0);
}

#[test]
fn reports_show_waiters_per_key() {
    let reg = Registry::<u64>::new();
    let holder = reg.enter(4).unwrap();
    let lone = reg.enter(5).unwrap();
    let first = reg.enter_waiting(4);
    let second = reg.enter_waiting(4);
    let report = reg.report();
    let info = report.iter().find(|i| *i.key() == 4).unwrap();
    assert_eq!(info.waiting(), 2);
    assert!(info.oldest_wait().is_some());
    assert!(info.to_string().contains(", 2 waiting (oldest "), "{info}");
    let info = report.iter().find(|i| *i.key() == 5).unwrap();
    assert_eq!(info.waiting(), 0);
    assert_eq!(info.oldest_wait(), None);
    assert!(!info.to_string().contains("waiting"), "{info}");
    drop((first, second, holder, lone));
    assert!(reg.is_empty());
}

/// A waiter stuck behind a holder that never ends is a live call: the leak
/// check lists it, with the key it waits for.
#[test]
fn leak_check_counts_a_stuck_waiter() {
    use scoped_cancel::testing::LeakCheck;

    static JOBS: Registry<u64> = Registry::new();
    let check = LeakCheck::new().grace(Duration::from_millis(20));
    let rt = check
        .instrument(&mut tokio::runtime::Builder::new_current_thread())
        .build()
        .unwrap();
    // The holder is entered outside the check; only the waiter belongs to it.
    let holder = JOBS.enter(8).unwrap();
    let attached = check.attach_current_thread();
    let wait = Scope::builder()
        .name("jobs::queued")
        .enter_waiting(&JOBS, 8);
    drop(attached);
    let report = check.wait(&rt).unwrap_err();
    assert_eq!(report.scopes().len(), 1, "{report}");
    let stuck = &report.scopes()[0];
    assert_eq!(stuck.name(), "jobs::queued");
    assert_eq!(stuck.key(), Some("8, waiting for it"));
    assert!(
        report.to_string().contains("(key 8, waiting for it)"),
        "{report}"
    );
    drop(wait);
    check.wait(&rt).unwrap();
    drop(holder);
    assert!(JOBS.is_empty());
}
