//! Tracking under concurrency: scopes created on runtime workers, ended on
//! other threads, some outliving their tokens' scopes, while another thread
//! keeps taking reports. A collector must list exactly the scopes still
//! alive, whatever the interleaving.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use scoped_cancel::testing::Collector;
use scoped_cancel::{Registry, Scope, Token};
use tokio::sync::mpsc;

static REG: Registry<u64> = Registry::new();

const TASKS: u64 = 4;
const PER_TASK: u64 = 5_000;
/// Every this-many-th scope is parked until the end.
const PARK_EVERY: u64 = 97;

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

    // A reader taking reports all along; every listed scope is one of ours.
    let reader = {
        let (collector, done) = (collector.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reports = 0u32;
            while !done.load(Ordering::Acquire) {
                for scope in collector.scopes() {
                    assert!(
                        ["stress::keyed", "stress::anonymous"].contains(&scope.name()),
                        "{scope}"
                    );
                }
                reports += 1;
            }
            reports
        })
    };

    rt.block_on(async {
        // Scopes are ended by a consumer task, usually on the other worker.
        let (tx, mut rx) = mpsc::channel::<Scope>(64);
        let consumer = tokio::spawn(async move {
            while let Some(scope) = rx.recv().await {
                drop(scope);
                tokio::task::yield_now().await;
            }
        });
        let producers: Vec<_> = (0..TASKS)
            .map(|t| {
                let (tx, parked, tokens) = (tx.clone(), parked.clone(), tokens.clone());
                tokio::spawn(async move {
                    for i in 0..PER_TASK {
                        let n = t * PER_TASK + i;
                        let scope = if n % 2 == 0 {
                            REG.enter_named(n, "stress::keyed").unwrap()
                        } else {
                            Scope::root_named("stress::anonymous")
                        };
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
    assert!(reader.join().unwrap() > 0);

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
