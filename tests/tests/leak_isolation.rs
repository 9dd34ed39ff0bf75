//! Isolation: many clean tests run in parallel with leaky ones in this one
//! binary. The leaky ones park scopes in a static that outlives them, so a
//! clean test that saw another test's scopes would fail (no false positives),
//! and each leaky test's report lists exactly its own scope.

use std::sync::Mutex;
use std::time::Duration;

use scoped_cancel::testing::LeakCheck;
use scoped_cancel::{Registry, Scope};
use tokio::runtime::Builder;

static PARKED: Mutex<Vec<Scope>> = Mutex::new(Vec::new());
static JOBS: Registry<(u32, u32)> = Registry::new();

fn park(scope: Scope) {
    PARKED.lock().unwrap().push(scope);
}

/// Busy, clean work: keyed and anonymous scopes, tasks on the runtime, and
/// a few short sleeps so that it overlaps the leaky tests' grace periods.
/// It returns once the runtime counts none of its tasks alive (tokio's
/// count lags a finished task on the multi-thread runtime; waiting for it
/// here keeps the reports' task counts exact whatever the machine's speed).
async fn clean_work(test: u32) {
    work(test).await;
    let alive = scoped_cancel_support::alive_tasks(Duration::from_secs(20)).await;
    assert_eq!(alive, 0, "the clean work's tasks did not finish");
}

async fn work(test: u32) {
    let root = Scope::builder().name("clean-root").build();
    for round in 0..5u32 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20u32 {
            let scope = JOBS.enter((test, round * 100 + i)).unwrap();
            let child = Scope::builder().name("clean-child").parent(&root).build();
            set.spawn(async move {
                let _child = child;
                scope.run(tokio::task::yield_now()).await
            });
        }
        while let Some(out) = set.join_next().await {
            out.unwrap().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

macro_rules! clean_tests {
    ($($name:ident = $n:literal,)*) => {$(
        #[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
        async fn $name() {
            clean_work($n).await;
        }
    )*};
}

macro_rules! clean_current_thread_tests {
    ($($name:ident = $n:literal,)*) => {$(
        #[scoped_cancel::test]
        async fn $name() {
            clean_work($n).await;
        }
    )*};
}

/// Each runs a `#[scoped_cancel::test]` (ignored as a test of its own,
/// called here) and checks its panic: exactly one scope, its own, named.
macro_rules! leaky_macro_tests {
    ($($name:ident = $n:literal,)*) => {$(
        mod $name {
            use super::*;

            #[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "100ms")]
            #[ignore = "called by the test of the same name"]
            pub async fn leaky() {
                if !is_wrapped() {
                    return;
                }
                clean_work($n).await;
                park(Scope::builder().name(stringify!($name)).build());
            }
        }

        #[test]
        fn $name() {
            assert_reports_only_its_own_scope(&leak_report_of($name::leaky), stringify!($name));
        }
    )*};
}

std::thread_local! {
    /// Set while a test calls its ignored helper.
    static WRAPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `false` when the harness runs a helper as a test (`--include-ignored`):
/// it then returns at once without leaking.
fn is_wrapped() -> bool {
    WRAPPED.with(std::cell::Cell::get)
}

/// Calls an ignored leaky helper and returns its panic message.
fn leak_report_of(helper: fn()) -> String {
    WRAPPED.with(|w| w.set(true));
    let out = std::panic::catch_unwind(helper);
    WRAPPED.with(|w| w.set(false));
    let payload = out.expect_err("the leak check did not fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .expect("a formatted report")
}

/// The report names exactly one scope, `name`, and no task.
fn assert_reports_only_its_own_scope(message: &str, name: &str) {
    assert!(
        message.starts_with("leak check failed: 1 scope(s) and 0 task(s) still alive"),
        "{message}"
    );
    let scopes: Vec<&str> = message
        .lines()
        .filter(|line| line.starts_with("  - "))
        .collect();
    assert_eq!(scopes.len(), 1, "{message}");
    assert!(
        scopes[0].starts_with(&format!("  - {name} at {}:", file!())),
        "{message}"
    );
}

macro_rules! leaky_checked_tests {
    ($($name:ident = $n:literal,)*) => {$(
        #[test]
        fn $name() {
            let check = LeakCheck::new().grace(Duration::from_millis(100));
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(2);
            let report = check
                .run(&mut builder, async {
                    clean_work($n).await;
                    park(JOBS.enter(($n, u32::MAX)).unwrap());
                    park(Scope::builder().name(stringify!($name)).build());
                })
                .unwrap_err();
            let mut seen: Vec<String> = report
                .scopes()
                .iter()
                .map(|s| format!("{}|{}", s.name(), s.key().unwrap_or("-")))
                .collect();
            seen.sort();
            let expected = vec![
                format!("Registry::enter|({}, {})", $n, u32::MAX),
                format!("{}|-", stringify!($name)),
            ];
            assert_eq!(seen, expected, "{report}");
            assert_eq!(report.tasks(), 0, "{report}");
        }
    )*};
}

clean_tests! {
    clean_00 = 0, clean_01 = 1, clean_02 = 2, clean_03 = 3, clean_04 = 4,
    clean_05 = 5, clean_06 = 6, clean_07 = 7, clean_08 = 8, clean_09 = 9,
    clean_10 = 10, clean_11 = 11, clean_12 = 12, clean_13 = 13, clean_14 = 14,
    clean_15 = 15, clean_16 = 16, clean_17 = 17, clean_18 = 18, clean_19 = 19,
}

clean_current_thread_tests! {
    clean_ct_00 = 20, clean_ct_01 = 21, clean_ct_02 = 22, clean_ct_03 = 23, clean_ct_04 = 24,
    clean_ct_05 = 25, clean_ct_06 = 26, clean_ct_07 = 27, clean_ct_08 = 28, clean_ct_09 = 29,
    clean_ct_10 = 30, clean_ct_11 = 31, clean_ct_12 = 32, clean_ct_13 = 33, clean_ct_14 = 34,
}

leaky_macro_tests! {
    leaky_macro_00 = 300, leaky_macro_01 = 301, leaky_macro_02 = 302, leaky_macro_03 = 303,
    leaky_macro_04 = 304,
}

leaky_checked_tests! {
    leaky_checked_00 = 100, leaky_checked_01 = 101, leaky_checked_02 = 102,
    leaky_checked_03 = 103, leaky_checked_04 = 104, leaky_checked_05 = 105,
    leaky_checked_06 = 106, leaky_checked_07 = 107,
}

/// More concurrency than the harness gives (it runs as many tests at once
/// as there are cores): sixteen checks at once, every other one leaky, each
/// seeing only its own scope.
#[test]
fn sixteen_concurrent_checks_see_only_their_own_scopes() {
    static NAMES: [&str; 16] = [
        "t00", "t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11", "t12",
        "t13", "t14", "t15",
    ];
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(NAMES.len()));
    let threads: Vec<_> = (0..NAMES.len())
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let check = LeakCheck::new().grace(Duration::from_millis(100));
                let mut builder = if i % 4 == 0 {
                    Builder::new_current_thread()
                } else {
                    let mut b = Builder::new_multi_thread();
                    b.worker_threads(2);
                    b
                };
                let out = check.run(&mut builder, async move {
                    barrier.wait();
                    clean_work(200 + i as u32).await;
                    if i % 2 == 1 {
                        park(Scope::builder().name(NAMES[i]).build());
                    }
                });
                (i, out)
            })
        })
        .collect();
    for thread in threads {
        let (i, out) = thread.join().unwrap();
        match out {
            Ok(()) => assert_eq!(i % 2, 0, "leaky check {i} passed"),
            Err(report) => {
                assert_eq!(i % 2, 1, "clean check {i} failed: {report}");
                let names: Vec<&str> = report.scopes().iter().map(|s| s.name()).collect();
                assert_eq!(names, [NAMES[i]], "{report}");
            }
        }
    }
}
