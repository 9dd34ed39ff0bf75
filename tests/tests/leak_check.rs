//! The function form of the leak check (`testing::check`, `LeakCheck`): it
//! finds parked scopes and stuck tasks, names their file and line, shows keys
//! and states, waits out the grace period, and passes clean runs.

use std::sync::Mutex;
use std::time::Duration;

use scoped_cancel::testing::{self, LeakCheck};
use scoped_cancel::{Cause, Registry, Scope};
use tokio::runtime::Builder;

/// Scopes parked here never end: each test parks its own and looks only at
/// its own check's report.
static PARKED: Mutex<Vec<Scope>> = Mutex::new(Vec::new());

fn park(scope: Scope) {
    PARKED.lock().unwrap().push(scope);
}

/// For checks that must report a leak: the leaked scope or task can never
/// end, so the grace only decides how long the report takes.
fn short() -> LeakCheck {
    LeakCheck::new().grace(Duration::from_millis(100))
}

/// For checks that must pass: a check returns as soon as everything has
/// ended, so only a bug waits this out (tokio's task count lags a finished
/// task on the multi-thread runtime by a moment of its own).
fn long() -> LeakCheck {
    LeakCheck::new().grace(Duration::from_secs(20))
}

fn current_thread() -> Builder {
    Builder::new_current_thread()
}

fn multi_thread() -> Builder {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(2);
    builder
}

#[test]
fn a_parked_scope_is_reported_with_its_file_and_line() {
    let mut line = 0;
    let report = short()
        .run(&mut current_thread(), async {
            line = line!() + 1;
            let scope = Scope::builder().name("parked-root").build();
            park(scope);
        })
        .unwrap_err();
    assert_eq!(report.scopes().len(), 1, "{report}");
    assert_eq!(report.tasks(), 0);
    let scope = &report.scopes()[0];
    assert_eq!(scope.name(), "parked-root");
    assert_eq!(scope.file(), file!());
    assert_eq!(scope.line(), line);
    assert_eq!(scope.key(), None);
    assert!(!scope.is_cancelled());
    let text = report.to_string();
    assert!(text.contains(&format!("{}:{line}", file!())), "{text}");
    assert!(text.contains("parked-root at "), "{text}");
    assert!(text.contains(", live"), "{text}");
    assert!(report.waited() >= Duration::from_millis(100));
}

#[test]
fn a_stuck_task_is_reported() {
    let report = short()
        .run(&mut multi_thread(), async {
            tokio::spawn(std::future::pending::<()>());
        })
        .unwrap_err();
    assert!(report.scopes().is_empty(), "{report}");
    assert_eq!(report.tasks(), 1);
    assert!(
        report.to_string().contains("1 task(s) still alive"),
        "{report}"
    );
}

#[test]
fn a_stuck_task_holding_a_scope_reports_both() {
    let mut line = 0;
    let report = short()
        .run(&mut multi_thread(), async {
            line = line!() + 1;
            let scope = Scope::builder().name("held-by-task").build();
            tokio::spawn(async move {
                let _scope = scope;
                std::future::pending::<()>().await;
            });
        })
        .unwrap_err();
    assert_eq!(report.tasks(), 1, "{report}");
    assert_eq!(report.scopes().len(), 1, "{report}");
    assert_eq!(report.scopes()[0].line(), line);
}

#[test]
fn keyed_scopes_show_their_key() {
    static JOBS: Registry<String> = Registry::new();
    let report = short()
        .run(&mut current_thread(), async {
            park(JOBS.enter("job-7".to_string()).unwrap());
        })
        .unwrap_err();
    assert_eq!(report.scopes().len(), 1, "{report}");
    assert_eq!(report.scopes()[0].key(), Some("\"job-7\""));
    assert_eq!(report.scopes()[0].name(), "Registry::enter");
    assert!(
        report
            .to_string()
            .contains("Registry::enter (key \"job-7\") at "),
        "{report}"
    );
}

#[test]
fn anonymous_children_are_tracked_and_show_their_state() {
    let report = short()
        .run(&mut current_thread(), async {
            let root = Scope::builder().name("root").build();
            let child = Scope::builder().name("child").parent(&root).build();
            park(child);
            root.cancel();
            park(root);
        })
        .unwrap_err();
    let mut names: Vec<&str> = report.scopes().iter().map(|s| s.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["child", "root"], "{report}");
    for scope in report.scopes() {
        let expected = if scope.name() == "root" {
            Cause::Requested
        } else {
            Cause::Parent
        };
        assert_eq!(scope.cause(), Some(expected), "{report}");
    }
    assert!(
        report.to_string().contains("cancelled (") && report.to_string().contains("but not ended")
    );
}

#[test]
fn scopes_created_in_tasks_on_worker_threads_are_attributed() {
    let report = short()
        .run(&mut multi_thread(), async {
            tokio::spawn(async { park(Scope::builder().name("from-worker").build()) })
                .await
                .unwrap();
            tokio::task::spawn_blocking(|| park(Scope::builder().name("from-blocking").build()))
                .await
                .unwrap();
        })
        .unwrap_err();
    let mut names: Vec<&str> = report.scopes().iter().map(|s| s.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["from-blocking", "from-worker"], "{report}");
}

#[test]
fn scopes_created_on_threads_the_body_starts_belong_to_no_check() {
    let out = long().run(&mut current_thread(), async {
        std::thread::spawn(|| park(Scope::builder().name("foreign-thread").build()))
            .join()
            .unwrap();
    });
    assert!(out.is_ok(), "documented: other threads are not attributed");
}

#[test]
fn clean_runs_pass_and_return_the_body_output() {
    static JOBS: Registry<u64> = Registry::new();
    let out = long().run(&mut multi_thread(), async {
        let root = Scope::root();
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let scope = JOBS.enter(i).unwrap();
            let child = root.child();
            tasks.push(tokio::spawn(async move {
                let _child = child;
                scope.run(tokio::task::yield_now()).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        7
    });
    assert_eq!(out.unwrap(), 7);
    assert!(JOBS.is_empty());
}

/// The task ends the scope once the body has returned (the body's end
/// drops the sender it waits on): after the body, within the grace period,
/// with no clock involved.
#[test]
fn the_grace_period_lets_a_scope_end_a_little_after_the_body() {
    let check = LeakCheck::new().grace(Duration::from_secs(60));
    let out = check.run(&mut multi_thread(), async {
        let scope = Scope::builder().name("ends-late").build();
        let (body_alive, body_ended) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = body_ended.await;
            drop(scope);
        });
        // Dropped as the body returns.
        let _body_alive = body_alive;
    });
    let report = out.err();
    assert!(report.is_none(), "{}", report.unwrap());
}

/// The same scope, ended only when a signal comes that the grace period
/// never sees (sent after the check).
#[test]
fn without_enough_grace_the_same_scope_is_a_leak() {
    let check = LeakCheck::new().grace(Duration::from_millis(10));
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let report = check
        .run(&mut multi_thread(), async {
            let scope = Scope::builder().name("ends-too-late").build();
            tokio::spawn(async move {
                let _ = released.await;
                drop(scope);
            });
        })
        .unwrap_err();
    assert_eq!(report.scopes()[0].name(), "ends-too-late", "{report}");
    assert_eq!(report.tasks(), 1);
    drop(release);
}

#[test]
fn the_default_check_function_uses_the_default_grace() {
    let report = testing::check(&mut current_thread(), async {
        park(Scope::builder().name("default-grace").build());
    })
    .unwrap_err();
    assert!(report.waited() >= testing::DEFAULT_GRACE, "{report}");
    assert_eq!(report.scopes()[0].name(), "default-grace");
}

#[test]
fn step_by_step_use_with_an_own_runtime() {
    let check = short();
    let rt = check.instrument(&mut multi_thread()).build().unwrap();
    check.block_on(&rt, async {
        let scope = Scope::root();
        let task = scope.spawn(async { 1 });
        assert_eq!(task.await.unwrap().unwrap(), 1);
        // The runtime's task count lags the finished task: wait for it, so
        // that the short grace below has nothing left to wait for.
        let alive = scoped_cancel_support::alive_tasks(Duration::from_secs(20)).await;
        assert_eq!(alive, 0);
    });
    check.wait(&rt).unwrap();
    assert!(check.collector().is_empty());

    check.block_on(&rt, async {
        park(Scope::builder().name("second-round").build())
    });
    let report = check.wait(&rt).unwrap_err();
    assert_eq!(report.scopes()[0].name(), "second-round");
    assert_eq!(check.collector().scopes().len(), 1);
}

#[test]
fn wait_async_inside_the_runtime_does_not_count_its_own_task() {
    let rt = Builder::new_multi_thread().enable_all().build().unwrap();
    let check = std::sync::Arc::new(long());
    let result = rt.block_on({
        let check = check.clone();
        async move {
            tokio::spawn(async move {
                {
                    let _attached = check.attach_current_thread();
                    let scope = Scope::root();
                    tokio::spawn(scope.run(tokio::task::yield_now()));
                }
                check.wait_async().await
            })
            .await
            .unwrap()
        }
    });
    assert!(result.is_ok(), "{}", result.unwrap_err());
}

#[test]
fn a_panicking_body_unwinds_out_of_run() {
    let caught = std::panic::catch_unwind(|| {
        short().run(&mut current_thread(), async {
            park(Scope::root());
            panic!("the body's own panic");
        })
    });
    let payload = caught.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the body's own panic")
    );
}

#[test]
fn scopes_created_by_tasks_while_the_check_waits_are_attributed() {
    // On a current-thread runtime, tasks run on the thread that waits; on
    // the paused clock the task's sleep ends inside the grace period.
    let report = LeakCheck::new()
        .grace(Duration::from_millis(300))
        .run(&mut current_thread(), async {
            tokio::time::pause();
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                park(Scope::builder().name("parked-during-the-wait").build());
            });
        })
        .unwrap_err();
    assert_eq!(
        report.scopes()[0].name(),
        "parked-during-the-wait",
        "{report}"
    );
    assert_eq!(report.tasks(), 0, "{report}");
}
