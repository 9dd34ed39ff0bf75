//! Tracking under concurrency: scopes created on runtime workers, ended on
//! other threads, some outliving their tokens' scopes, while another thread
//! keeps taking reports. A collector must list exactly the scopes still
//! alive, whatever the interleaving: each report taken while scopes come and
//! go lies between the scopes surely alive throughout it and those possibly
//! alive at some point of it, and the final one is exact.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use scoped_cancel::testing::Collector;
use scoped_cancel::{Registry, Scope, Token};
use tokio::sync::mpsc;

static REG: Registry<u64> = Registry::new();

const TASKS: u64 = 4;
const PER_TASK: u64 = 5_000;
/// Every this-many-th scope is parked until the end.
const PARK_EVERY: u64 = 97;

/// Scopes whose making or ending has started, and has finished.
#[derive(Default)]
struct Counts {
    made_started: AtomicUsize,
    made: AtomicUsize,
    ending: AtomicUsize,
    ended: AtomicUsize,
}

#[test]
fn a_collector_lists_exactly_the_live_scopes_under_cross_thread_ends() {
    let collector = Collector::new();
    let rt = collector
        .instrument(tokio::runtime::Builder::new_multi_thread().worker_threads(2))
        .build()
        .unwrap();
    let parked: Arc<Mutex<Vec<Scope>>> = Arc::default();
    let tokens: Arc<Mutex<Vec<Token>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));

    let counts = Arc::new(Counts::default());

    // A reader taking reports all along. Every listed scope is one of ours,
    // and a report lists at least the scopes made before it started and not
    // yet ending when it finished, and at most those whose making had begun
    // when it finished and that had not ended when it started.
    let reader = {
        let (collector, done, counts) = (collector.clone(), done.clone(), counts.clone());
        std::thread::spawn(move || {
            let (mut reports, mut busy) = (0u32, 0u32);
            while !done.load(Ordering::Acquire) {
                let made_before = counts.made.load(Ordering::SeqCst);
                let ended_before = counts.ended.load(Ordering::SeqCst);
                let listed = collector.scopes();
                let ending_after = counts.ending.load(Ordering::SeqCst);
                let started_after = counts.made_started.load(Ordering::SeqCst);
                for scope in &listed {
                    assert!(
                        ["stress::keyed", "stress::anonymous"].contains(&scope.name()),
                        "{scope}"
                    );
                }
                let at_least = made_before.saturating_sub(ending_after);
                let at_most = started_after - ended_before;
                assert!(
                    (at_least..=at_most).contains(&listed.len()),
                    "report {reports} listed {} scopes, expected {at_least}..={at_most}",
                    listed.len()
                );
                reports += 1;
                busy += u32::from(at_least > 0);
            }
            (reports, busy)
        })
    };

    rt.block_on(async {
        // Scopes are ended by a consumer task, usually on the other worker.
        let (tx, mut rx) = mpsc::channel::<Scope>(64);
        let consumer = tokio::spawn({
            let counts = counts.clone();
            async move {
                while let Some(scope) = rx.recv().await {
                    counts.ending.fetch_add(1, Ordering::SeqCst);
                    drop(scope);
                    counts.ended.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        });
        let producers: Vec<_> = (0..TASKS)
            .map(|t| {
                let (tx, parked, tokens) = (tx.clone(), parked.clone(), tokens.clone());
                let counts = counts.clone();
                tokio::spawn(async move {
                    for i in 0..PER_TASK {
                        let n = t * PER_TASK + i;
                        counts.made_started.fetch_add(1, Ordering::SeqCst);
                        let scope = if n % 2 == 0 {
                            Scope::builder()
                                .name("stress::keyed")
                                .enter(&REG, n)
                                .unwrap()
                        } else {
                            Scope::builder().name("stress::anonymous").build()
                        };
                        counts.made.fetch_add(1, Ordering::SeqCst);
                        if n % 10 == 0 {
                            // A token that outlives its scope: not a live scope.
                            tokens.lock().unwrap().push(scope.token());
                        }
                        if n % PARK_EVERY == 0 {
                            parked.lock().unwrap().push(scope);
                        } else {
                            tx.send(scope).await.unwrap();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for producer in producers {
            producer.await.unwrap();
        }
        consumer.await.unwrap();
    });
    done.store(true, Ordering::Release);
    let (reports, busy) = reader.join().unwrap();
    println!("{reports} reports, {busy} of them with scopes surely alive");
    assert!(busy > 0, "no report was taken while scopes were alive");

    let parked_count = parked.lock().unwrap().len();
    assert_eq!(parked_count as u64, (TASKS * PER_TASK).div_ceil(PARK_EVERY));
    assert_eq!(collector.len(), parked_count, "exactly the parked scopes");
    assert_eq!(
        REG.len(),
        parked
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name() == "stress::keyed")
            .count()
    );
    parked.lock().unwrap().clear();
    assert!(collector.is_empty());
    assert!(REG.is_empty());
    // Tokens of ended scopes are cancelled and never listed.
    let tokens = std::mem::take(&mut *tokens.lock().unwrap());
    assert!(tokens.iter().all(Token::is_cancelled));
    assert!(collector.is_empty());
    drop(tokens);
    assert!(collector.is_empty());
}
