//! `Token::current()` is the innermost scope whose future this task is
//! polling: set per poll and restored after it (across `.await`s, between
//! `select!`/`join!` branches, after a panic, while the body drops), carried
//! by `Scope::spawn` and not by a plain `tokio::spawn`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use scoped_cancel::{scoped_cancel, Scope, Token};

/// Polls `fut` once with a no-op waker.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    fut.poll(&mut cx)
}

#[tokio::test]
async fn no_scope_outside_any_run() {
    assert_eq!(Token::current(), None);
}

#[tokio::test]
async fn restored_across_awaits_while_other_work_runs() {
    // On one thread, two scopes take turns: each sees only itself after
    // every `.await`, and the thread between polls sees neither.
    let a = Scope::root();
    let b = Scope::root();
    let (ta, tb) = (a.token(), b.token());
    let body = |me: Token| async move {
        for _ in 0..100 {
            assert_eq!(Token::current().as_ref(), Some(&me));
            tokio::task::yield_now().await;
        }
    };
    let (ra, rb) = tokio::join!(a.run(body(ta.clone())), b.run(body(tb.clone())));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(Token::current(), None);
}

#[tokio::test]
async fn join_and_select_branches_see_only_their_own_scope() {
    let outer = Scope::root();
    let outer_token = outer.token();
    let seen = outer
        .run(async {
            let left = Scope::root();
            let left_token = left.token();
            let (in_left, in_plain) = tokio::join!(
                left.run(async {
                    tokio::task::yield_now().await;
                    Token::current()
                }),
                async {
                    tokio::task::yield_now().await;
                    Token::current()
                },
            );
            assert_eq!(in_left.unwrap(), Some(left_token));
            let right = Scope::root();
            let right_token = right.token();
            let raced = tokio::select! {
                biased;
                out = right.run(async {
                    tokio::task::yield_now().await;
                    Token::current()
                }) => out.unwrap(),
                _ = std::future::pending::<()>() => None,
            };
            assert_eq!(raced, Some(right_token));
            (in_plain, Token::current())
        })
        .await
        .unwrap();
    // The plain branch and the code after both see the enclosing scope.
    assert_eq!(seen.0.as_ref(), Some(&outer_token));
    assert_eq!(seen.1.as_ref(), Some(&outer_token));
}

#[test]
fn restored_after_a_panicking_poll() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let outer = Scope::root();
    let outer_token = outer.token();
    let mut outer_run = pin!(outer.run(async {
        let inner = Scope::root();
        let mut inner_run = pin!(inner.run(async {
            panic!("the body fails");
        }));
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _ = poll_once(inner_run.as_mut());
        }));
        assert!(caught.is_err());
        // The inner scope's poll unwound: the outer scope is current again.
        Token::current()
    }));
    let caught = scoped_cancel_tests::with_quiet_panics(|| poll_once(outer_run.as_mut()));
    match caught {
        Poll::Ready(out) => assert_eq!(out.unwrap(), Some(outer_token)),
        Poll::Pending => panic!("the outer body does not wait"),
    }
    assert_eq!(Token::current(), None);
}

#[test]
fn restored_when_the_outermost_poll_panics() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let mut run = pin!(Scope::root().run(async {
        assert!(Token::current().is_some());
        panic!("the body fails");
    }));
    let caught = scoped_cancel_tests::with_quiet_panics(|| {
        std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(run.as_mut())))
    });
    assert!(caught.is_err());
    assert_eq!(Token::current(), None);
}

/// Records the current scope when dropped.
struct SeesOnDrop(Arc<Mutex<Option<Option<Token>>>>);

impl Drop for SeesOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(Token::current());
    }
}

#[tokio::test]
async fn the_body_drops_inside_its_scope() {
    let seen = Arc::new(Mutex::new(None));
    let scope = Scope::root();
    let token = scope.token();
    let guard = SeesOnDrop(seen.clone());
    let mut run = Box::pin(scope.run(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }));
    assert!(poll_once(run.as_mut()).is_pending());
    drop(run);
    assert_eq!(seen.lock().unwrap().clone(), Some(Some(token)));
    assert_eq!(Token::current(), None);
}

#[tokio::test]
async fn scope_spawn_carries_the_child_it_made() {
    let scope = Scope::root();
    let parent = scope.token();
    let current = scope
        .spawn(async {
            tokio::task::yield_now().await;
            Token::current()
        })
        .await
        .unwrap()
        .unwrap()
        .expect("a spawned scope's task has a current scope");
    assert_ne!(current, parent);
    // It is the child `spawn` made: ended with the task, not with the parent.
    assert!(current.is_cancelled());
    assert!(!parent.is_cancelled());
}

#[tokio::test]
async fn a_plain_tokio_spawn_does_not_carry_it() {
    let scope = Scope::root();
    let seen = scope
        .run(async {
            assert!(Token::current().is_some());
            tokio::spawn(async { Token::current() }).await.unwrap()
        })
        .await
        .unwrap();
    assert_eq!(seen, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_task_sees_its_own_scope_on_every_thread() {
    // Tasks migrate between workers at `.await`s; each poll must find its
    // own scope current, whatever ran on that thread before.
    #[scoped_cancel(token = token, on_cancel = 0)]
    async fn check(rounds: u32) -> u32 {
        let mut ok = 0;
        for _ in 0..rounds {
            if Token::current().as_ref() == Some(&token) {
                ok += 1;
            }
            tokio::task::yield_now().await;
        }
        ok
    }

    let tasks: Vec<_> = (0..64).map(|_| tokio::spawn(check(200))).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
}
