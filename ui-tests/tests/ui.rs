//! The trybuild suite: `pass/` cases compile and run (each `main` asserts
//! real behaviour); `fail/` cases must fail with the committed `.stderr`.
//!
//! Snapshots are for the machine's stable rustc. After a deliberate change
//! to a diagnostic, regenerate them with
//! `TRYBUILD=overwrite cargo test -p scoped-cancel-ui-tests` and read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
