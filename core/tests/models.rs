//! Runs the shuttle models (`shuttle_model.rs`, `shuttle_policy.rs` for
//! the per-key policies, `shuttle_callbacks.rs` for callbacks on cancel,
//! links and task groups) as part of `cargo test`.
//!
//! The models need the crate compiled with `--cfg shuttle` (its mutexes and
//! atomics become shuttle's), which a normal build cannot provide: a cfg is
//! crate-wide, and shuttle's primitives panic outside a model. So this test
//! runs cargo once more, with `RUSTFLAGS="--cfg shuttle"` and its own target
//! directory (`<target>/shuttle`), and fails with the models' output if any
//! model fails. Its cost: a build of the crate and its dependencies in that
//! directory (about a minute of CPU cold, a few seconds warm) and the
//! models' run (about 5 s in debug). `SCOPED_CANCEL_SKIP_MODELS=1` skips it
//! (say so when you do: the race guarantees are proved there).
#![cfg(not(shuttle))]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn shuttle_models_pass() {
    if std::env::var_os("SCOPED_CANCEL_SKIP_MODELS").is_some() {
        eprintln!("shuttle models skipped (SCOPED_CANCEL_SKIP_MODELS is set)");
        return;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("shuttle");
    let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    rustflags.push_str(" --cfg shuttle");
    // The same cargo (and, through rustup's environment, the same
    // toolchain) as the run that built this test.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let out = Command::new(cargo)
        // A relative CARGO_TARGET_DIR means the same as for the outer run.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "test",
            "--test",
            "shuttle_model",
            "--test",
            "shuttle_policy",
            "--test",
            "shuttle_callbacks",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("RUSTFLAGS", rustflags.trim())
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the shuttle models failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Every model ran: none was filtered out or compiled away.
    let passed: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("test ") && line.ends_with(" ... ok"))
        .collect();
    assert!(
        passed.len() >= 10,
        "too few models ran:\n{stdout}\n{stderr}"
    );
    for line in passed {
        println!("{line}");
    }
}
