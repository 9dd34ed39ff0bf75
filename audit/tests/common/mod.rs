//! Helpers shared by the rule tests: run the audit on in-memory files.

#![allow(dead_code)]

use scoped_cancel_audit::audit_sources;

fn run(files: &[(&str, &str)]) -> scoped_cancel_audit::Outcome {
    let out = audit_sources(
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
    );
    assert!(out.errors.is_empty(), "parse errors: {:?}", out.errors);
    out
}

/// `rule file:line:col` per finding, in report order.
pub fn found(files: &[(&str, &str)]) -> Vec<String> {
    run(files)
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}:{}",
                f.rule.id(),
                f.file,
                f.start.line,
                f.start.column
            )
        })
        .collect()
}

/// `rule file:line:col message` per finding.
pub fn found_with_messages(files: &[(&str, &str)]) -> Vec<String> {
    run(files)
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}:{} {}",
                f.rule.id(),
                f.file,
                f.start.line,
                f.start.column,
                f.message
            )
        })
        .collect()
}

/// The marker of an allow comment, spelled out of pieces so that this test
/// source holds none itself.
pub const ALLOW: &str = concat!("scoped-cancel-audit", ": allow(");

/// A fresh directory holding a crate (`Cargo.toml` plus `files`), unique to
/// this test process and `name`.
pub fn temp_crate(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sca-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}
