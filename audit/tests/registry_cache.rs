//! The audit over the sources of every crate this workspace depends on, as
//! cargo's registry cache holds them: it must not crash, must report nothing
//! false, and its speed on one thread is printed (the floor asserted here is
//! deliberately low: this runs unoptimised and on shared machines; the real
//! figure comes from `cargo test --release -p scoped-cancel-audit --test
//! registry_cache -- --nocapture`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The manifest directories of all non-workspace packages in the build.
fn dependency_dirs() -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(workspace)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let dirs: BTreeSet<PathBuf> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !members.contains(p["id"].as_str().unwrap()))
        .map(|p| {
            Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf()
        })
        .collect();
    dirs.into_iter().collect()
}

/// `$CARGO_HOME/registry/src` (CARGO_HOME defaults to `~/.cargo`).
fn registry_src() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    home.join("registry").join("src")
}

/// `<package>/<path>` without the version: `tokio-util/src/lib.rs`.
fn short(file: &str, registry: &Path) -> String {
    let rel = Path::new(file)
        .strip_prefix(registry)
        .map(|r| r.components().skip(1).collect::<PathBuf>())
        .unwrap_or_else(|_| PathBuf::from(file));
    let rel = rel.to_string_lossy().replace('\\', "/");
    let (package, rest) = rel.split_once('/').unwrap_or((&rel, ""));
    let name = package
        .rsplit_once('-')
        .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))
        .map_or(package, |(n, _)| n);
    format!("{name}/{rest}")
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns).
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

#[test]
fn dependencies_in_the_registry_cache() {
    let registry = registry_src();
    let dirs = dependency_dirs();
    assert!(dirs.len() > 20, "found only {} dependency dirs", dirs.len());
    for dir in &dirs {
        assert!(
            dir.starts_with(&registry),
            "{} is not in the registry cache {}",
            dir.display(),
            registry.display()
        );
    }
    // Packages are split over the machine's threads; each thread audits its
    // share alone, as the binary does on one thread, and counts the CPU time
    // it used (wall time where Linux's per-thread count is missing): the
    // sum is what one core spends, however busy the machine is.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shares: Vec<Vec<PathBuf>> = (0..threads)
        .map(|t| {
            let mut files = Vec::new();
            for dir in dirs.iter().skip(t).step_by(threads) {
                scoped_cancel_audit::walk::rust_files(dir, &mut files).unwrap();
            }
            files
        })
        .collect();
    let results: Vec<(scoped_cancel_audit::Outcome, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|files| {
                s.spawn(move || {
                    let (cpu, start) = (thread_cpu_secs(), Instant::now());
                    let out = scoped_cancel_audit::audit_files(files);
                    let wall = start.elapsed().as_secs_f64();
                    let cpu = cpu.zip(thread_cpu_secs()).map(|(a, b)| b - a);
                    (out, cpu.unwrap_or(wall))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut out = scoped_cancel_audit::Outcome::default();
    let mut secs = 0.0;
    for (part, t) in results {
        out.findings.extend(part.findings);
        out.errors.extend(part.errors);
        out.files += part.files;
        out.lines += part.lines;
        secs += t;
    }
    let files: usize = shares.iter().map(Vec::len).sum();
    let rate = out.lines as f64 / secs;
    println!(
        "registry cache: {} packages, {} files, {} lines, {} findings, {} unparsable, \
         {:.2} s of one core's time = {:.0} lines/s",
        dirs.len(),
        out.files,
        out.lines,
        out.findings.len(),
        out.errors.len(),
        secs,
        rate
    );

    // Nothing in these crates keeps tokens in a collection: tokio-util, the
    // only one that names `CancellationToken`, holds its children through
    // its own tree nodes, and its tests only keep tokens in locals.
    let findings: Vec<String> = out
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}",
                f.rule.id(),
                short(&f.file, &registry),
                f.start.line
            )
        })
        .collect();
    assert_eq!(findings, Vec::<String>::new());

    // Files syn cannot parse are reported, and every other file is still
    // checked. Two kinds are expected: compile-fail fixtures under a crate's
    // `tests/ui` (invalid on purpose, e.g. pin-project's), and
    // signal-hook-registry's 2015-edition alias of a bare trait object
    // (`type Action = Fn(&siginfo_t) + Send + Sync;`). Anything else is a
    // parser gap to look at.
    let errors: BTreeSet<String> = out
        .errors
        .iter()
        .map(|e| short(&e.file, &registry))
        .collect();
    let unexpected: Vec<&String> = errors
        .iter()
        .filter(|file| {
            !file.contains("/tests/ui/") && file.as_str() != "signal-hook-registry/src/lib.rs"
        })
        .collect();
    assert!(unexpected.is_empty(), "unparsable: {unexpected:?}");
    if dirs.iter().any(|d| {
        d.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("signal-hook-registry-1."))
    }) {
        assert!(
            errors.contains("signal-hook-registry/src/lib.rs"),
            "{errors:?}"
        );
    }
    assert_eq!(out.files, files);
    assert!(out.lines > 100_000, "only {} lines scanned", out.lines);

    // A floor two orders below the release figure, so that only a real
    // slowdown (not a busy machine) fails it.
    assert!(rate > 2_000.0, "{rate:.0} lines/s");
}
