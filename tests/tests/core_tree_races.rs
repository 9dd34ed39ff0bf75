//! Races in the tree of scopes on real threads: children made, waiting and
//! ending while their parent is cancelled. Every child must end cancelled,
//! every task must finish, and both orders (a child made before the cancel
//! and reached by it, a child made after it and born cancelled) must occur.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::{Cause, Scope};

fn iterations() -> usize {
    scoped_cancel_support::stress_iterations(2_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_made_waiting_and_ending_while_their_parent_is_cancelled() {
    let reached = Arc::new(AtomicUsize::new(0));
    let born_cancelled = Arc::new(AtomicUsize::new(0));
    let mut runs = 0;
    // Bounded: stops once both orders were seen enough, or after 10× the
    // iterations (then the assertions below fail and say which is missing).
    while runs < iterations()
        || (runs < 10 * iterations()
            && (reached.load(Ordering::SeqCst) < 100
                || born_cancelled.load(Ordering::SeqCst) < 100))
    {
        runs += 1;
        let parent = Scope::root();
        // Tasks waiting in child scopes (parked in their own nodes).
        let waiting: Vec<_> = (0..4)
            .map(|_| parent.spawn(std::future::pending::<()>()))
            .collect();
        // A thread making children, and nested children, while the parent
        // is cancelled on this one.
        let token = parent.token();
        let (reached2, born2) = (reached.clone(), born_cancelled.clone());
        let maker = std::thread::spawn(move || {
            let mut kept = Vec::new();
            for n in 0..8 {
                let child = token.child().into_scope();
                let grandchild = child.child();
                if child.token().is_cancelled() {
                    born2.fetch_add(1, Ordering::SeqCst);
                } else {
                    reached2.fetch_add(1, Ordering::SeqCst);
                }
                // Some end on their own, racing the parent's cancel.
                if n % 3 == 0 {
                    drop(grandchild);
                    kept.push((child.token(), None));
                } else {
                    kept.push((child.token(), Some(grandchild)));
                }
                drop(child);
            }
            kept.into_iter()
                .map(|(token, grandchild)| (token, grandchild.map(|g| g.token())))
                .collect::<Vec<_>>()
        });
        std::thread::yield_now();
        assert!(parent.cancel());
        let made = tokio::task::spawn_blocking(move || maker.join().unwrap())
            .await
            .unwrap();
        for (child, grandchild) in made {
            assert!(child.is_cancelled());
            assert!(matches!(
                child.cause(),
                Some(Cause::Parent | Cause::ScopeExited)
            ));
            if let Some(grandchild) = grandchild {
                assert!(grandchild.is_cancelled(), "a grandchild missed the cancel");
            }
        }
        for task in waiting {
            let out = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("a waiting child task was never woken")
                .unwrap();
            // The child's call reports why its parent was cancelled.
            assert_eq!(out.unwrap_err().cause(), Cause::Requested);
        }
    }
    let (reached, born) = (
        reached.load(Ordering::SeqCst),
        born_cancelled.load(Ordering::SeqCst),
    );
    assert!(
        reached > 0 && born > 0,
        "the races did not happen: {reached} children reached by the cancel, {born} born cancelled, in {runs} runs"
    );
}
