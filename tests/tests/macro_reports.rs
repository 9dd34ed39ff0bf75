//! Reports name `#[scoped_cancel]` scopes after their fn (or `name = ..`)
//! and point at the annotated fn's file and the line of its name; the key
//! expression is borrowed, not moved.

use std::future::pending;

use scoped_cancel::{scoped_cancel, Cancelled, Registry, ScopeInfo};
use tokio::sync::oneshot;

static JOBS: Registry<String> = Registry::new();

const DEFAULT_LINE: u32 = line!() + 2;
#[scoped_cancel(registry = JOBS, key = name)]
async fn default_named(
    name: String,
    report: oneshot::Sender<Vec<ScopeInfo<String>>>,
) -> Result<String, Cancelled> {
    report.send(JOBS.report()).unwrap();
    // `key = name` borrowed `name`: it is still ours to return.
    Ok(name)
}

const CUSTOM_LINE: u32 = line!() + 6;
#[scoped_cancel(
    registry = JOBS,
    key = name,
    name = "reports: custom"
)]
async fn custom_named(name: String) -> Result<(), Cancelled> {
    pending::<()>().await;
    let _ = name;
    Ok(())
}

#[tokio::test]
async fn the_default_name_is_the_fn_path_with_its_file_and_line() {
    let (tx, rx) = oneshot::channel();
    let out = default_named("a".to_owned(), tx).await;
    assert_eq!(out.unwrap(), "a");
    let report = rx.await.unwrap();
    let info = report
        .iter()
        .find(|info| info.key() == "a")
        .expect("scope listed");
    assert_eq!(info.name(), concat!(module_path!(), "::default_named"));
    assert_eq!(info.file(), file!());
    assert_eq!(info.line(), DEFAULT_LINE);
    assert!(!info.is_cancelled());
}

#[tokio::test]
async fn a_given_name_shows_in_reports_and_shutdown_stragglers() {
    static OTHER: Registry<u8> = Registry::new();

    #[scoped_cancel(registry = OTHER, key = 1, cooperative, token = _deaf)]
    async fn straggler() {
        pending::<()>().await;
    }

    #[scoped_cancel(
        registry = OTHER,
        key = 2,
        cooperative,
        token = _deaf,
        name = "reports: named straggler"
    )]
    async fn named_straggler() {
        pending::<()>().await;
    }

    let call = tokio::spawn(custom_named("b".to_owned()));
    while !JOBS.contains_key("b") {
        tokio::task::yield_now().await;
    }
    let info = JOBS
        .report()
        .into_iter()
        .find(|info| info.key() == "b")
        .unwrap();
    assert_eq!(info.name(), "reports: custom");
    assert_eq!((info.file(), info.line()), (file!(), CUSTOM_LINE));
    assert!(format!("{info}").contains("reports: custom"), "{info}");
    call.abort();
    let _ = call.await;
    assert!(!JOBS.contains_key("b"));

    // Cooperative bodies that never look at their token outlive shutdown:
    // the report names them, by their given name or their fn's path.
    let deaf = tokio::spawn(straggler());
    let named = tokio::spawn(named_straggler());
    while OTHER.len() < 2 {
        tokio::task::yield_now().await;
    }
    // They never end by themselves, so any grace gives the same report.
    let report = OTHER.shutdown(std::time::Duration::ZERO).await;
    let mut names: Vec<(u8, &str)> = report
        .stragglers()
        .iter()
        .map(|s| (*s.key(), s.name()))
        .collect();
    names.sort();
    // `module_path!()` does not include the enclosing test fn.
    assert_eq!(
        names,
        [
            (1, concat!(module_path!(), "::straggler")),
            (2, "reports: named straggler")
        ]
    );
    assert!(
        report
            .to_string()
            .contains("reports: named straggler (key 2) at"),
        "{report}"
    );
    deaf.abort();
    named.abort();
    let _ = (deaf.await, named.await);
    assert!(OTHER.is_empty());
}
