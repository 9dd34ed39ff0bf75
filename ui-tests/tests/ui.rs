//! The trybuild suite: `pass/` cases compile and run (each `main` asserts
//! real behaviour); `fail/` cases must be rejected.
//!
//! On the pinned toolchain ([`PINNED`], stable 1.95.0) every fail case must
//! match its committed `.stderr` exactly. On any other rustc (nightly, the
//! declared rust-version 1.85, a newer stable) messages may be worded or
//! placed a little differently, so the check is looser but still strict
//! about what matters: every pass case compiles and runs, every fail case
//! is rejected, and each error of its snapshot appears again — same error
//! code, same line of the case, same key words (see [`loose`]).
//! `SCOPED_CANCEL_UI=exact` or `=loose` forces either mode.
//!
//! Every pass case starts with `#![deny(warnings)]`: a warning there may be
//! one the macro's expansion would cause in users' code, so it fails.
//!
//! Regenerate the snapshots on the pinned toolchain only (ui-tests/README.md):
//! `TRYBUILD=overwrite cargo +1.95.0 test -p scoped-cancel-ui-tests`, then
//! read the diff.

#[path = "support/loose.rs"]
mod loose;

use std::path::PathBuf;

/// The toolchain the `.stderr` snapshots are made with.
const PINNED: &str = "rustc 1.95.0 ";

/// The rustc this crate (and so every case) is compiled with.
const RUSTC: &str = env!("UI_RUSTC_VERSION");

fn exact_mode() -> bool {
    match std::env::var("SCOPED_CANCEL_UI").as_deref() {
        Ok("exact") => true,
        Ok("loose") => false,
        _ => RUSTC.starts_with(PINNED) && !RUSTC.contains("-nightly") && !RUSTC.contains("-beta"),
    }
}

#[test]
fn ui() {
    if exact_mode() {
        let cases = trybuild::TestCases::new();
        cases.pass("tests/ui/pass/*.rs");
        cases.compile_fail("tests/ui/fail/*.rs");
        return;
    }
    eprintln!("{RUSTC} is not the pinned {PINNED}: checking fail cases loosely");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let problems = loose::check(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui"),
        &target.join("ui-loose"),
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) on {RUSTC}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_pass_case_denies_warnings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui/pass");
    let mut lax = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/ui/pass is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).expect("a pass case is readable");
            if !text
                .lines()
                .any(|line| line.starts_with("#![deny(warnings"))
            {
                lax.push(path.display().to_string());
            }
        }
    }
    assert!(
        lax.is_empty(),
        "pass cases without #![deny(warnings)]: {lax:?}"
    );
}
