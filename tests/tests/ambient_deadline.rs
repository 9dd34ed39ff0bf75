//! `Token::deadline()` / `remaining()`: the earliest deadline of a scope and
//! its ancestors, inherited by every kind of child, never extended by a
//! child's longer timeout, and read on tokio's (here paused) clock.

use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn current() -> Token {
    Token::current().expect("called inside a scope")
}

#[tokio::test(start_paused = true)]
async fn no_deadline_without_a_timeout() {
    let scope = Scope::root();
    assert_eq!(scope.token().deadline(), None);
    assert_eq!(scope.token().remaining(), None);
    let inside = scope.run(async { current().deadline() }).await.unwrap();
    assert_eq!(inside, None);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_sets_the_deadline_at_the_first_poll() {
    let scope = Scope::root();
    let token = scope.token();
    let run = scope.run_timeout(2 * SECOND, async { current().remaining() });
    // Not started yet: no deadline, and waiting does not use up the budget.
    assert_eq!(token.deadline(), None);
    tokio::time::advance(5 * SECOND).await;
    let started = Instant::now();
    assert_eq!(run.await.unwrap(), Some(2 * SECOND));
    assert_eq!(token.deadline(), Some(started + 2 * SECOND));
}

#[scoped_cancel(token = token)]
async fn no_timeout_of_its_own(token_out: &mut Option<Token>) {
    *token_out = Some(token);
}

#[scoped_cancel(timeout = "60s", token = token)]
async fn longer_timeout() -> Option<Instant> {
    token.deadline()
}

#[scoped_cancel(timeout = "100ms", token = token)]
async fn shorter_timeout() -> Option<Instant> {
    token.deadline()
}

/// When the caller started, and the deadlines its three callees saw.
type Seen = (Instant, Option<Instant>, Option<Instant>, Option<Instant>);

#[scoped_cancel(timeout = "2s")]
async fn caller() -> Result<Seen, Cancelled> {
    let start = Instant::now();
    let mut plain = None;
    no_timeout_of_its_own(&mut plain).await;
    Ok((
        start,
        plain.and_then(|t| t.deadline()),
        longer_timeout().await,
        shorter_timeout().await,
    ))
}

#[tokio::test(start_paused = true)]
async fn nested_calls_inherit_and_never_extend_the_deadline() {
    let (start, plain, longer, shorter) = caller().await.unwrap();
    assert_eq!(plain, Some(start + 2 * SECOND), "inherited");
    assert_eq!(longer, Some(start + 2 * SECOND), "not extended by 60s");
    assert_eq!(
        shorter,
        Some(start + Duration::from_millis(100)),
        "shortened"
    );
}

#[tokio::test(start_paused = true)]
async fn the_caller_deadline_ends_a_longer_nested_call_as_parent() {
    #[scoped_cancel(timeout = "60s", token = token)]
    async fn slow(seen: tokio::sync::oneshot::Sender<Token>) -> Result<(), Cancelled> {
        seen.send(token).unwrap();
        tokio::time::sleep(120 * SECOND).await;
        Ok(())
    }

    let start = Instant::now();
    let (seen, nested) = tokio::sync::oneshot::channel();
    let out = Scope::root()
        .run_timeout(SECOND, async { slow(seen).await })
        .await;
    // The outer run reports its own deadline...
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(Instant::now(), start + SECOND);
    // ...and the nested call was cancelled by it, as a child: `Parent`,
    // since its own 60 s never came (and not `ScopeExited`, which its end
    // would have recorded had the caller's cancel not reached it first).
    let nested = nested.await.unwrap();
    assert_eq!(nested.deadline(), Some(start + SECOND));
    assert_eq!(nested.cause(), Some(Cause::Parent));
}

#[tokio::test(start_paused = true)]
async fn remaining_is_zero_once_the_deadline_passed() {
    let budget = Instant::now() + SECOND;
    let token = Scope::root()
        .run_deadline(budget, async { current() })
        .await
        .unwrap();
    assert_eq!(token.remaining(), Some(SECOND));
    tokio::time::advance(3 * SECOND).await;
    assert_eq!(token.remaining(), Some(Duration::ZERO));
    assert_eq!(token.deadline(), Some(budget));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_already_passed_ends_the_call_at_once() {
    let past = Instant::now();
    tokio::time::advance(SECOND).await;
    let out = Scope::root()
        .run_deadline(past, std::future::pending::<()>())
        .await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
}

#[test]
fn remaining_never_panics_outside_a_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let token = rt
        .block_on(Scope::root().run_timeout(SECOND, async { current() }))
        .unwrap();
    drop(rt);
    let left = token.remaining().unwrap();
    assert!(left <= SECOND);
}

#[tokio::test(start_paused = true)]
async fn every_kind_of_child_inherits_the_deadline() {
    static JOBS: Registry<u8> = Registry::new();

    let scope = Scope::root();
    let start = Instant::now();
    let expected = Some(start + SECOND);
    let deadlines = scope
        .run_timeout(SECOND, async {
            let here = current();
            let holder = here.child().into_scope();
            let spawned = holder
                .spawn(async { current().deadline() })
                .await
                .unwrap()
                .unwrap();
            let keyed = JOBS.enter_child(1, &here).unwrap();
            [
                here.child().deadline(),
                holder.child().token().deadline(),
                spawned,
                keyed.token().deadline(),
                // Adopted foreign tokens have no deadline of ours.
                Token::adopt(&here.cancellation_token()).deadline(),
            ]
        })
        .await
        .unwrap();
    assert_eq!(deadlines, [expected, expected, expected, expected, None]);
}

#[tokio::test(start_paused = true)]
async fn a_later_absolute_deadline_does_not_extend_either() {
    let start = Instant::now();
    let deadline = Scope::root()
        .run_timeout(SECOND, async {
            let child = current().child().into_scope();
            child
                .run_deadline(start + 10 * SECOND, async { current().deadline() })
                .await
                .unwrap()
        })
        .await
        .unwrap();
    assert_eq!(deadline, Some(start + SECOND));
}
