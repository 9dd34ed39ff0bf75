//! Races in the tree of scopes on real threads: children made, waiting and
//! ending while their parent is cancelled.
//!
//! Every scope the test asserts on is kept alive until after the parent's
//! cancel and the join, so only the parent's cancel can have cancelled it:
//! its cause must read `Parent`, never `ScopeExited`. Each child is
//! classified by flags the cancelling thread sets around `parent.cancel()`:
//! one made entirely before the cancel started had to be reached through
//! the parent's list; one whose making began after the cancel returned had
//! to be born cancelled. Both kinds must occur, as well as children made
//! while the cancel ran.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::{Cause, Scope, Token};

fn iterations() -> usize {
    scoped_cancel_support::stress_iterations(2_000)
}

/// When a child was made, relative to the parent's cancel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Made {
    /// Its making ended before `cancel` started: only the parent's list of
    /// children can tell it.
    Before,
    /// Its making started after `cancel` returned: born cancelled.
    After,
    /// Overlapping the cancel: either way, but cancelled in the end.
    During,
}

/// What the maker thread hands back: every child it kept, with its
/// grandchild, and when each was made. Kept alive until the asserts.
struct Kept {
    children: Vec<(Made, Scope, Option<Scope>)>,
    /// Children whose `is_cancelled()` was already true right after making.
    seen_cancelled_at_birth: Vec<bool>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_made_waiting_and_ending_while_their_parent_is_cancelled() {
    race_the_parents_cancel(false).await;
}

/// The same race, with every fifth child (and its grandchild) ending as
/// soon as it is made: those born cancelled then end while the parent's
/// cancel may not yet have taken its list of children. No place in that
/// list may be freed by them: every waiting task is still woken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_ending_at_once_while_their_parent_is_cancelled_hide_no_sibling() {
    race_the_parents_cancel(true).await;
}

/// Runs the race until each kind of child was seen enough (bounded);
/// `end_some`: every fifth child ends at once.
async fn race_the_parents_cancel(end_some: bool) {
    let mut counts = [0usize; 3];
    let mut runs = 0;
    let enough = |counts: &[usize; 3]| counts.iter().all(|&n| n >= 50);
    // Bounded: stops once each kind was seen enough, or after 10× the
    // iterations (then the assertion below fails and says which is missing).
    while runs < iterations() || (runs < 10 * iterations() && !enough(&counts)) {
        runs += 1;
        let parent = Scope::root();
        // Tasks waiting in child scopes (parked in their own nodes).
        let waiting: Vec<_> = (0..4)
            .map(|_| parent.spawn(std::future::pending::<()>()))
            .collect();
        let cancel_started = Arc::new(AtomicBool::new(false));
        let cancel_done = Arc::new(AtomicBool::new(false));
        let made_one = Arc::new(AtomicUsize::new(0));
        let token = parent.token();
        let maker = {
            let (started, done, made_one) = (
                cancel_started.clone(),
                cancel_done.clone(),
                made_one.clone(),
            );
            std::thread::spawn(move || make_children(token, end_some, &started, &done, &made_one))
        };
        // The maker is running (one child made): cancel while it makes more.
        while made_one.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        cancel_started.store(true, Ordering::SeqCst);
        assert!(parent.cancel());
        cancel_done.store(true, Ordering::SeqCst);
        let made = tokio::task::spawn_blocking(move || maker.join().unwrap())
            .await
            .unwrap();

        for ((when, child, grandchild), at_birth) in
            made.children.iter().zip(&made.seen_cancelled_at_birth)
        {
            // Alive until here: no scope's own end can have cancelled it.
            assert_eq!(child.token().cause(), Some(Cause::Parent), "{when:?}");
            if let Some(grandchild) = grandchild {
                assert_eq!(
                    grandchild.token().cause(),
                    Some(Cause::Parent),
                    "a grandchild missed the cancel ({when:?})"
                );
            }
            match when {
                Made::Before => assert!(!at_birth, "cancelled before the cancel started"),
                Made::After => assert!(at_birth, "made after the cancel, but not born cancelled"),
                Made::During => {}
            }
            counts[*when as usize] += 1;
        }
        drop(made);
        for task in waiting {
            let out = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("a waiting child task was never woken")
                .unwrap();
            // The child's call reports why its parent was cancelled.
            assert_eq!(out.unwrap_err().cause(), Cause::Requested);
        }
    }
    let [before, after, during] = counts;
    println!(
        "{runs} runs: {before} children made before the cancel, {after} after, {during} during"
    );
    assert!(
        enough(&counts),
        "the races did not happen enough in {runs} runs: {before} children made before the \
         cancel, {after} after it, {during} during it"
    );
}

/// Makes children of `token` (each with a grandchild, some of which end at
/// once, racing the cancel's walk of the tree): a few dozen before the
/// cancel starts, then on until a few were made after it returned; each
/// classified by the cancel's flags.
fn make_children(
    token: Token,
    end_some: bool,
    started: &AtomicBool,
    done: &AtomicBool,
    made_one: &AtomicUsize,
) -> Kept {
    let mut out = Kept {
        children: Vec::new(),
        seen_cancelled_at_birth: Vec::new(),
    };
    let mut after_done = 0;
    for n in 0.. {
        // Read before making: the cancel had returned before this began.
        let began_after = done.load(Ordering::SeqCst);
        let child = token.child().into_scope();
        let at_birth = child.is_cancelled();
        let grandchild = child.child();
        // Read after making: the cancel had not started when this ended.
        let ended_before = !started.load(Ordering::SeqCst);
        let when = match (ended_before, began_after) {
            (true, _) => Made::Before,
            (_, true) => Made::After,
            _ => Made::During,
        };
        // Every third grandchild ends at once: it leaves the child's list
        // while the cancel may be walking it.
        let grandchild = if n % 3 == 0 {
            drop(grandchild);
            None
        } else {
            Some(grandchild)
        };
        if end_some && n % 5 == 4 {
            drop((child, grandchild));
        } else {
            out.children.push((when, child, grandchild));
            out.seen_cancelled_at_birth.push(at_birth);
        }
        made_one.fetch_add(1, Ordering::SeqCst);
        // Enough made before the cancel: wait for it to start, then race it.
        if n >= 8 {
            while !started.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
        if began_after {
            after_done += 1;
            if after_done >= 3 {
                break;
            }
        }
    }
    out
}
