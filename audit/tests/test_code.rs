//! Test code is not production: left out unless `--include-tests`.

mod common;

use common::temp_crate;
use scoped_cancel_audit::{audit_sources, audit_sources_with, Options};
use std::process::Command;

/// A file whose only leaks are in test code of every kind.
const LIB: &str = "
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;
pub struct Clean { n: u8 }
#[cfg(test)]
mod tests {
    use super::*;
    struct Fixture { live: HashMap<u8, CancellationToken> }
    #[test]
    fn a() { let mut f = Fixture { live: HashMap::new() }; f.live.insert(1, CancellationToken::new()); }
}
#[cfg(all(test, feature = \"slow\"))]
static SLOW: std::sync::Mutex<Vec<CancellationToken>> = std::sync::Mutex::new(Vec::new());
#[cfg(test)]
mod more_tests;
";

const MORE: &str = "pub struct Helper { all: Vec<tokio_util::sync::CancellationToken> }\n";

const INTEGRATION: &str =
    "struct Harness { tokens: Vec<tokio_util::sync::CancellationToken> }\nfn main() {}\n";

fn files() -> Vec<(String, String)> {
    [
        ("src/lib.rs", LIB),
        ("src/more_tests.rs", MORE),
        ("tests/it.rs", INTEGRATION),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect()
}

#[test]
fn cfg_test_items_test_fns_test_modules_and_tests_dirs_are_left_out() {
    let out = audit_sources(files());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let found: Vec<String> = out
        .findings
        .iter()
        .map(|f| format!("{}:{}", f.file, f.start.line))
        .collect();
    assert_eq!(found, Vec::<String>::new());
    assert_eq!(out.test_files, 2, "tests/it.rs and src/more_tests.rs");
}

#[test]
fn include_tests_checks_them() {
    let out = audit_sources_with(
        files(),
        Options {
            include_tests: true,
        },
    );
    let found: Vec<String> = out
        .findings
        .iter()
        .map(|f| format!("{} {}:{}", f.rule.id(), f.file, f.start.line))
        .collect();
    assert_eq!(
        found,
        [
            "token-in-collection src/lib.rs:8",
            "unguarded-insert src/lib.rs:10",
            "token-in-collection src/lib.rs:13",
            "token-in-collection src/more_tests.rs:1",
            "token-in-collection tests/it.rs:1",
        ]
    );
}

#[test]
fn the_flag_on_the_command_line() {
    let dir = temp_crate(
        "testcode",
        &[
            ("src/lib.rs", LIB),
            ("src/more_tests.rs", MORE),
            ("tests/it.rs", INTEGRATION),
        ],
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scoped-cancel-audit"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let default = run(&["."]);
    assert_eq!(default.status.code(), Some(0));
    let stderr = String::from_utf8(default.stderr).unwrap();
    assert!(
        stderr.contains("nothing found (1 files, 15 lines; 2 test files left out"),
        "{stderr}"
    );
    let all = run(&["--include-tests", "--format", "json", "."]);
    assert_eq!(all.status.code(), Some(1));
    assert_eq!(String::from_utf8(all.stdout).unwrap().lines().count(), 5);
    std::fs::remove_dir_all(dir).unwrap();
}
