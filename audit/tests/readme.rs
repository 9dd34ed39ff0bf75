//! The example of this crate's README: the audit's output on the job
//! registry before the rewrite is the committed snapshot the README quotes,
//! and the rewrite compiles, works, and is clean.

mod common;

#[path = "readme/after.rs"]
mod after;

use after::{Job, JobError, JobRegistry};
use scoped_cancel::Cause;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const BEFORE: &str = include_str!("readme/before.rs.txt");
const AFTER: &str = include_str!("readme/after.rs");

/// Compares with a committed file; `SCA_BLESS=1` rewrites it instead.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/readme")
        .join(name);
    if std::env::var_os("SCA_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "snapshot {name} differs (SCA_BLESS=1 to accept)"
    );
}

#[test]
fn before_output_is_the_readme_snapshot() {
    let dir = common::temp_crate("readme-before", &[("src/registry.rs", BEFORE)]);
    let out = Command::new(env!("CARGO_BIN_EXE_scoped-cancel-audit"))
        .arg("src")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    snapshot("before.human.txt", &String::from_utf8(out.stdout).unwrap());
    let json = Command::new(env!("CARGO_BIN_EXE_scoped-cancel-audit"))
        .args(["--format", "json", "src"])
        .current_dir(&dir)
        .output()
        .unwrap();
    snapshot("before.json.txt", &String::from_utf8(json.stdout).unwrap());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn after_is_clean() {
    let out = scoped_cancel_audit::audit_sources(vec![("src/registry.rs".into(), AFTER.into())]);
    assert!(out.errors.is_empty() && out.findings.is_empty(), "{out:?}");
}

#[tokio::test]
async fn after_runs_and_cancels_by_id() {
    let jobs = JobRegistry::default();
    assert!(!jobs.cancel(1), "nothing runs yet");
    let report = jobs.run(1, Job(42)).await.unwrap();
    assert_eq!(report.0, 42);
    assert!(!jobs.cancel(1), "the scope ended with the call");
}

#[tokio::test]
async fn after_cancels_a_running_job_by_id() {
    let jobs = Arc::new(JobRegistry::default());
    let task = tokio::spawn({
        let jobs = jobs.clone();
        async move { jobs.run(7, Job(0)).await }
    });
    // The scope is entered when the task first polls the call.
    while !jobs.cancel(7) {
        tokio::task::yield_now().await;
    }
    match task.await.unwrap() {
        Err(JobError::Cancelled(c)) => assert_eq!(c.cause(), Cause::Requested),
        Ok(_) => panic!("a cancelled job reported success"),
    }
    assert!(!jobs.cancel(7), "the entry left with the scope");
}

#[test]
fn readme_quotes_the_snapshot() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let output = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readme/before.human.txt"),
    )
    .unwrap();
    assert!(
        readme.contains(BEFORE),
        "README's job registry differs from readme/before.rs.txt"
    );
    assert!(
        readme.contains(output.trim_end()),
        "README's audit output differs from readme/before.human.txt"
    );
}
