//! Races between a scope's exit, `cancel(&k)`, re-entering the same key,
//! `cancel_all` and `shutdown`, on many threads, with invariants checked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scoped_cancel::{Cause, EnterError, Registry, Token};

const KEYS: u64 = 4;

/// A tiny deterministic generator, so failures replay with the same seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn iterations() -> usize {
    scoped_cancel_support::stress_iterations(20_000)
}

/// `cancel` returns `true` exactly for the cancellations it caused, and
/// `cancel_all` counts exactly its own: checked by comparing the calls'
/// results with the causes every token ended with. The enterers run on
/// until each kind of ending has happened (bounded), so a run where the
/// threads never overlapped cannot pass.
#[test]
fn cancel_results_match_recorded_causes_under_contention() {
    let reg = Arc::new(Registry::<u64>::new());
    let stop = Arc::new(AtomicBool::new(false));
    let requested = Arc::new(AtomicUsize::new(0));
    let shutdowns = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(Mutex::new(Vec::<Token>::new()));

    let enterers: Vec<_> = (0..2)
        .map(|t| {
            let (reg, tokens) = (reg.clone(), tokens.clone());
            let (requested, shutdowns) = (requested.clone(), shutdowns.clone());
            std::thread::spawn(move || {
                let mut rng = XorShift(0x9E37_79B9 + t);
                let overlapped = || {
                    requested.load(Ordering::Relaxed) > 0 && shutdowns.load(Ordering::Relaxed) > 0
                };
                for i in 0..50 * iterations() {
                    if i >= iterations() && overlapped() {
                        break;
                    }
                    let key = rng.next() % KEYS;
                    if let Ok(scope) = reg.enter(key) {
                        tokens.lock().unwrap().push(scope.token());
                        if rng.next() % 4 == 0 {
                            std::thread::yield_now();
                        }
                        drop(scope);
                    }
                }
            })
        })
        .collect();
    let canceller = {
        let (reg, stop, requested) = (reg.clone(), stop.clone(), requested.clone());
        std::thread::spawn(move || {
            let mut key = 0;
            while !stop.load(Ordering::Relaxed) {
                key = (key + 1) % KEYS;
                if reg.cancel(&key) {
                    requested.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let sweeper = {
        let (reg, stop, shutdowns) = (reg.clone(), stop.clone(), shutdowns.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                shutdowns.fetch_add(reg.cancel_all(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(50));
            }
        })
    };
    for e in enterers {
        e.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    canceller.join().unwrap();
    sweeper.join().unwrap();

    assert!(reg.is_empty());
    let tokens = tokens.lock().unwrap();
    assert!(!tokens.is_empty());
    let count = |cause: Cause| tokens.iter().filter(|t| t.cause() == Some(cause)).count();
    assert!(tokens.iter().all(Token::is_cancelled));
    // The races happened: cancels by key and by cancel_all hit live scopes,
    // and other scopes ended on their own.
    assert!(
        requested.load(Ordering::Relaxed) > 0,
        "no cancel hit a live scope"
    );
    assert!(
        shutdowns.load(Ordering::Relaxed) > 0,
        "no cancel_all hit a live scope"
    );
    assert!(count(Cause::ScopeExited) > 0, "no scope ended on its own");
    assert_eq!(count(Cause::Requested), requested.load(Ordering::Relaxed));
    assert_eq!(count(Cause::Shutdown), shutdowns.load(Ordering::Relaxed));
    assert_eq!(
        count(Cause::Requested) + count(Cause::Shutdown) + count(Cause::ScopeExited),
        tokens.len(),
        "no other cause is possible here"
    );
}

/// While scopes enter, exit and get cancelled on many tasks, a watcher checks
/// invariant 3 continuously: a key that is absent implies the last scope
/// published for it is cancelled (the guard cancels before it unlinks).
///
/// The watcher must also have looked inside that window: it counts the
/// entries it finds whose scope has already ended (cause `ScopeExited`,
/// recorded only by the guard's drop) but which are still linked, i.e. a
/// guard caught between its cancel and its unlink. A watcher that samples
/// too coarsely to land there could not see the reverse order either.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn absent_key_implies_its_last_scope_is_cancelled() {
    static REG: Registry<u64> = Registry::new();
    let last: Arc<Vec<Mutex<Option<Token>>>> =
        Arc::new((0..KEYS).map(|_| Mutex::new(None)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicUsize::new(0));
    let in_window = Arc::new(AtomicUsize::new(0));
    // Races that must have happened: re-entries of a key that an earlier
    // scope held, and cancels (by key, by cancel_all) that hit a live scope.
    let reentries = Arc::new(AtomicUsize::new(0));
    let hits = Arc::new(AtomicUsize::new(0));

    let watcher = {
        let (last, done, checks) = (last.clone(), done.clone(), checks.clone());
        let in_window = in_window.clone();
        std::thread::spawn(move || {
            let mut round = 0u32;
            while !done.load(Ordering::Relaxed) {
                // A report now and then: it takes every shard's lock, and the
                // check below should run as often as it can.
                round = round.wrapping_add(1);
                if round % 4 == 0 {
                    let exiting = REG
                        .report()
                        .iter()
                        .filter(|info| info.cause() == Some(Cause::ScopeExited))
                        .count();
                    in_window.fetch_add(exiting, Ordering::Relaxed);
                }
                for key in 0..KEYS {
                    // Read the token first, then the key: if the key is gone,
                    // the scope that published this token has ended.
                    let token = last[key as usize].lock().unwrap().clone();
                    if let Some(token) = token {
                        if !REG.contains_key(&key) {
                            assert!(
                                token.is_cancelled(),
                                "key {key} absent but its scope is live"
                            );
                            checks.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
    };

    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            let (last, reentries, hits) = (last.clone(), reentries.clone(), hits.clone());
            tokio::spawn(async move {
                let mut rng = XorShift(0xDEAD_BEEF ^ (t + 1));
                for _ in 0..iterations() / 2 {
                    let key = rng.next() % KEYS;
                    let scope = match REG.enter(key) {
                        Ok(scope) => scope,
                        Err(EnterError::Occupied(_)) => {
                            tokio::task::yield_now().await;
                            continue;
                        }
                        Err(e) => panic!("unexpected {e}"),
                    };
                    let previous = last[key as usize].lock().unwrap().replace(scope.token());
                    if previous.is_some() {
                        reentries.fetch_add(1, Ordering::Relaxed);
                    }
                    match rng.next() % 5 {
                        0 => drop(scope),
                        1 => {
                            if REG.cancel(&key) {
                                hits.fetch_add(1, Ordering::Relaxed);
                            }
                            drop(scope);
                        }
                        2 => {
                            let run = scope.run(tokio::task::yield_now());
                            let _ = run.await;
                        }
                        3 => {
                            let run = scope.run(std::future::pending::<()>());
                            let _ = tokio::time::timeout(Duration::from_micros(10), run).await;
                        }
                        _ => {
                            hits.fetch_add(REG.cancel_all(), Ordering::Relaxed);
                            drop(scope);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();

    assert!(REG.is_empty());
    assert!(REG.report().is_empty());
    for slot in last.iter() {
        assert!(slot
            .lock()
            .unwrap()
            .as_ref()
            .is_none_or(Token::is_cancelled));
    }
    assert!(
        checks.load(Ordering::Relaxed) > 0,
        "the watcher never checked anything"
    );
    println!(
        "{} checks of absent keys, {} entries seen between their guard's cancel and unlink",
        checks.load(Ordering::Relaxed),
        in_window.load(Ordering::Relaxed)
    );
    assert!(
        in_window.load(Ordering::Relaxed) > 0,
        "the watcher never saw a guard between its cancel and its unlink"
    );
    assert!(
        reentries.load(Ordering::Relaxed) > 0,
        "no key was re-entered"
    );
    assert!(
        hits.load(Ordering::Relaxed) > 0,
        "no cancel hit a live scope"
    );
}

/// An `enter` racing `shutdown` is either refused or cancelled by it: right
/// after `shutdown` returns its future, every live entry is cancelled, and
/// no enter that starts afterwards succeeds. Each round calls `shutdown`
/// only once both threads hold scopes and are still entering (no head-start
/// sleep), so every round catches live scopes; across the rounds, some
/// enters must have been refused while the call was still under way.
#[test]
fn enter_racing_shutdown_is_refused_or_cancelled() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut raced = 0;
    for round in 0..200 {
        let reg = Arc::new(Registry::<u64>::new());
        let called = Arc::new(AtomicBool::new(false));
        let entered = Arc::new(AtomicUsize::new(0));
        let early_refusals = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2u64)
            .map(|t| {
                let (reg, called) = (reg.clone(), called.clone());
                let (entered, early_refusals) = (entered.clone(), early_refusals.clone());
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    let mut key = t * 1_000_000;
                    loop {
                        let after_shutdown = called.load(Ordering::SeqCst);
                        key += 1;
                        match reg.enter(key) {
                            Ok(scope) => {
                                assert!(!after_shutdown, "entered after shutdown was called");
                                if held.is_empty() {
                                    entered.fetch_add(1, Ordering::SeqCst);
                                }
                                held.push(scope);
                            }
                            Err(EnterError::ShuttingDown(_)) => {
                                if after_shutdown {
                                    return held;
                                }
                                early_refusals.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                })
            })
            .collect();
        // Both threads hold a scope and keep entering.
        while entered.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
        let wait = reg.shutdown(Duration::from_millis(1));
        called.store(true, Ordering::SeqCst);
        let live = reg.report();
        assert!(
            live.iter()
                .all(|info| info.cause() == Some(Cause::Shutdown)),
            "round {round}: a live scope escaped shutdown"
        );
        let held: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert!(held
            .iter()
            .all(|s| s.token().cause() == Some(Cause::Shutdown)));
        assert_eq!(held.len(), live.len());
        assert!(
            held.len() >= 2,
            "round {round}: shutdown caught no live scope"
        );
        raced += early_refusals.load(Ordering::SeqCst);
        let report = runtime.block_on(wait);
        assert_eq!(
            report.stragglers().len(),
            held.len(),
            "stragglers are exactly the held scopes"
        );
        drop(held);
        assert!(reg.is_empty());
    }
    assert!(
        raced > 0,
        "no enter ever ran while shutdown was being called"
    );
}
