//! `#[scoped_cancel::test(timeout = "..")]`: a test still running at its
//! timeout fails with the tree of its scopes (which scope waits, where it
//! was made, since when) instead of hanging.

use std::future::pending;
use std::time::Duration;

use scoped_cancel::{shield, Scope, TaskGroup};

/// The body of a hung test: a named job whose group has a task stuck in a
/// shield, and a task that waits for ever.
async fn hung() {
    let job = Scope::builder().name("export job").build();
    job.run(async {
        let mut group = TaskGroup::<(), ()>::new();
        group.spawn(async {
            let _ = shield(Duration::MAX, pending::<()>()).await;
            Ok(())
        });
        group.join().await.ok();
    })
    .await
    .ok();
}

fn failure_of(test: scoped_cancel::__private::testing::Test) -> String {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test.run(hung())))
        .expect_err("a hung test must fail");
    scoped_cancel_tests::panic_text(&*panic).to_owned()
}

#[test]
fn a_hung_test_fails_at_its_timeout_with_the_tree_of_its_scopes() {
    let test = scoped_cancel::__private::testing::Test::current_thread()
        .timeout_nanos(Duration::from_millis(300).as_nanos() as u64);
    let message = scoped_cancel_tests::with_quiet_panics("test timed out", || failure_of(test));
    assert!(
        message.starts_with("test timed out: still running after its timeout of 300ms"),
        "{message}"
    );
    // The tree: the job, its group under it, the task under the group, the
    // shield under the task, marked.
    let tree = &message[message.find("scope tree:").expect(&message)..];
    let lines: Vec<&str> = tree.lines().skip(1).collect();
    let at = |name: &str| lines.iter().position(|l| l.contains(name)).expect(name);
    let depth = |name: &str| lines[at(name)].find('-').unwrap() / 2;
    assert_eq!(depth("export job"), 0, "{tree}");
    assert_eq!(depth("TaskGroup::new"), 1, "{tree}");
    assert_eq!(depth("TaskGroup::spawn"), 2, "{tree}");
    assert!(
        lines[at("scoped_cancel::shield")].contains("[shield]"),
        "{tree}"
    );
    assert!(
        lines[at("export job")].contains(file!()),
        "where it was made: {tree}"
    );
    assert!(lines[at("export job")].contains(", live"), "{tree}");
}

#[scoped_cancel::test(timeout = "30s", grace = "100ms")]
async fn a_test_within_its_timeout_passes() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[scoped_cancel::test(timeout = "1s")]
#[should_panic(expected = "test timed out")]
async fn the_attribute_fails_a_hung_test() {
    tokio::time::pause();
    hung().await;
}
