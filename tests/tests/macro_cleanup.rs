//! No exit of a `#[scoped_cancel]` call leaves a registry entry or a live
//! token: normal return, `?`, early return, panic, and the call's future
//! being dropped (outer timeout, `JoinHandle::abort`, a lost `select!`
//! branch, or a drop after any number of polls).

use std::future::{pending, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Token};
use tokio::time::{sleep, timeout};

#[derive(Debug, PartialEq)]
enum Failure {
    Cancelled,
    Parse,
}

impl From<Cancelled> for Failure {
    fn from(_: Cancelled) -> Self {
        Failure::Cancelled
    }
}

/// Where a body leaves its token, so the test can check how it ended.
/// One per test: tests run in parallel.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Option<Token>>>);

impl Seen {
    fn put(&self, token: &Token) {
        *self.0.lock().unwrap() = Some(token.clone());
    }

    fn token(&self) -> Token {
        self.0.lock().unwrap().clone().expect("the body ran")
    }
}

#[tokio::test]
async fn return_question_mark_and_early_return_clean_up() {
    static JOBS: Registry<u32> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = id, token = token)]
    async fn parse(id: u32, text: &str, seen: &Seen) -> Result<u32, Failure> {
        seen.put(&token);
        if text.is_empty() {
            return Ok(0);
        }
        let n = text.parse::<u32>().map_err(|_| Failure::Parse)?;
        Ok(n)
    }

    let seen = Seen::default();
    for (id, text, expected) in [
        (1, "5", Ok(5)),
        (2, "x", Err(Failure::Parse)),
        (3, "", Ok(0)),
    ] {
        assert_eq!(parse(id, text, &seen).await, expected);
        assert!(!JOBS.contains_key(&id));
        assert_eq!(seen.token().cause(), Some(Cause::ScopeExited));
    }
    assert!(JOBS.is_empty());
}

#[tokio::test]
async fn a_panicking_body_leaves_the_registry_empty() {
    static JOBS: Registry<u32> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = id, token = token)]
    async fn explode(id: u32, seen: Seen) -> Option<()> {
        seen.put(&token);
        tokio::task::yield_now().await;
        panic!("job {id} failed");
    }

    let seen = Seen::default();
    let err = tokio::spawn(explode(4, seen.clone())).await.unwrap_err();
    assert!(err.is_panic());
    assert!(JOBS.is_empty());
    assert_eq!(seen.token().cause(), Some(Cause::Panicked));
}

#[scoped_cancel(registry = jobs, key = id, token = token)]
async fn hang(jobs: &Registry<u32>, id: u32, seen: Seen) -> Result<(), Cancelled> {
    seen.put(&token);
    pending::<()>().await;
    Ok(())
}

#[tokio::test]
async fn an_outer_timeout_drops_the_call_and_its_scope() {
    let (jobs, seen) = (Registry::new(), Seen::default());
    assert!(
        timeout(Duration::from_millis(10), hang(&jobs, 5, seen.clone()))
            .await
            .is_err()
    );
    assert!(jobs.is_empty());
    assert_eq!(seen.token().cause(), Some(Cause::ScopeExited));
}

#[tokio::test]
async fn an_aborted_task_drops_its_scope() {
    static JOBS: Registry<u32> = Registry::new();
    let seen = Seen::default();
    let task = tokio::spawn(hang(&JOBS, 6, seen.clone()));
    while !JOBS.contains_key(&6) {
        tokio::task::yield_now().await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(JOBS.is_empty());
    assert_eq!(seen.token().cause(), Some(Cause::ScopeExited));
}

#[tokio::test]
async fn a_lost_select_branch_drops_its_scope() {
    let (jobs, seen) = (Registry::new(), Seen::default());
    tokio::select! {
        _ = hang(&jobs, 7, seen.clone()) => unreachable!("hang never finishes"),
        _ = sleep(Duration::from_millis(5)) => {}
    }
    assert!(jobs.is_empty());
    assert_eq!(seen.token().cause(), Some(Cause::ScopeExited));
}

#[test]
fn dropping_the_future_after_any_number_of_polls_cleans_up() {
    #[scoped_cancel(registry = jobs, key = id)]
    async fn steps(jobs: &Registry<u32>, id: u32, count: u32) -> Option<u32> {
        for _ in 0..count {
            tokio::task::yield_now().await;
        }
        Some(count)
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let jobs = Registry::new();
    let mut cx = Context::from_waker(Waker::noop());
    for polls in 0..6 {
        {
            let mut call = pin!(steps(&jobs, 8, 4));
            for _ in 0..polls {
                if let Poll::Ready(out) = call.as_mut().poll(&mut cx) {
                    assert_eq!(out, Some(4));
                }
            }
            assert_eq!(
                jobs.contains_key(&8),
                (1..5).contains(&polls),
                "after {polls} polls"
            );
        }
        assert!(jobs.is_empty(), "dropped after {polls} polls");
    }
}
