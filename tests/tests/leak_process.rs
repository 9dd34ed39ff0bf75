//! Process-wide listing: with `track_process(true)`, every scope of the
//! process is listed by `live_scopes()`, from any thread, anonymous or keyed,
//! together with the scopes that per-runtime collectors hold. One test fn:
//! the switch is process-global.

use std::time::Duration;

use scoped_cancel::testing::{self, LeakCheck};
use scoped_cancel::{Registry, Scope};
use tokio::runtime::Builder;

fn names() -> Vec<String> {
    let mut names: Vec<String> = testing::live_scopes()
        .iter()
        .map(|s| match s.key() {
            Some(key) => format!("{}[{key}]", s.name()),
            None => s.name().to_string(),
        })
        .collect();
    names.sort();
    names
}

#[test]
fn process_wide_tracking_lists_every_live_scope() {
    static JOBS: Registry<&'static str> = Registry::new();

    // Off: nothing is recorded.
    assert!(!testing::is_tracking_process());
    let before = Scope::builder().name("before").build();
    assert!(names().is_empty());

    testing::track_process(true);
    assert!(testing::is_tracking_process());
    let main_scope = Scope::builder().name("main-thread").build();
    let keyed = JOBS.enter("alpha").unwrap();
    let from_thread = std::thread::spawn(|| Scope::builder().name("other-thread").build())
        .join()
        .unwrap();
    assert_eq!(
        names(),
        ["Registry::enter[\"alpha\"]", "main-thread", "other-thread"]
    );
    let listed = testing::live_scopes();
    let main = listed.iter().find(|s| s.name() == "main-thread").unwrap();
    assert_eq!(main.file(), file!());
    assert!(
        main.to_string().starts_with("main-thread at tests/"),
        "{main}"
    );

    // A check's runtime records into its own collector, which the process
    // listing also shows while it is alive; the check sees only its own.
    let check = LeakCheck::new().grace(Duration::from_millis(50));
    let rt = check
        .instrument(Builder::new_multi_thread().worker_threads(1))
        .build()
        .unwrap();
    let in_runtime = check.block_on(&rt, async {
        let scope = tokio::spawn(async { Scope::builder().name("in-runtime").build() })
            .await
            .unwrap();
        // The runtime's task count lags the finished task: wait for it, so
        // that the waits below judge scopes only.
        let alive = scoped_cancel_support::alive_tasks(Duration::from_secs(20)).await;
        assert_eq!(alive, 0);
        scope
    });
    assert_eq!(check.collector().len(), 1);
    assert!(names().contains(&"in-runtime".to_string()));
    let report = check.wait(&rt).unwrap_err();
    assert_eq!(report.scopes().len(), 1, "{report}");
    drop(in_runtime);
    check.wait(&rt).unwrap();

    // Ended scopes leave the listing; switching off stops new records but
    // keeps listing those already recorded until they end.
    drop(from_thread);
    testing::track_process(false);
    let after = Scope::builder().name("after").build();
    assert_eq!(names(), ["Registry::enter[\"alpha\"]", "main-thread"]);
    drop((keyed, main_scope, before, after));
    assert!(names().is_empty());
}
