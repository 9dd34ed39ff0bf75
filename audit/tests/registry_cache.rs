//! The audit over the sources of every crate this workspace depends on, as
//! cargo's registry cache holds them: it must not crash, must report nothing
//! false, and its speed per CPU-second is printed (the floor asserted here is
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

/// CPU time (user and system) this process has used, from
/// `/proc/self/stat`, in clock ticks of 1/100 s.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
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
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shares: Vec<Vec<PathBuf>> = (0..threads)
        .map(|t| {
            let mut files = Vec::new();
            for dir in dirs.iter().skip(t).step_by(threads) {
                let (found, errors) = scoped_cancel_audit::walk::rust_files(dir);
                assert_eq!(errors, [], "walking {}", dir.display());
                files.extend(found);
            }
            files
        })
        .collect();
    let all: Vec<PathBuf> = shares.iter().flatten().cloned().collect();
    // The audit runs once over everything (it spreads the crates over its
    // own scan threads); the CPU time the process spends on it is what one
    // core would, however busy the machine is. Test code is checked too:
    // the stricter run.
    let (cpu, start) = (process_cpu_secs(), Instant::now());
    let out = scoped_cancel_audit::audit_files_with(
        &all,
        scoped_cancel_audit::Options {
            include_tests: true,
        },
    );
    let wall = start.elapsed().as_secs_f64();
    let secs = cpu
        .zip(process_cpu_secs())
        .map_or(wall, |(a, b)| b - a)
        .max(0.01);
    let rate = out.lines as f64 / secs;
    println!(
        "registry cache: {} packages, {} files, {} lines, {} findings, {} unparsable, \
         {:.2} s of CPU ({:.2} s wall) = {:.0} lines per CPU-second",
        dirs.len(),
        out.files,
        out.lines,
        out.findings.len(),
        out.errors.len(),
        secs,
        wall,
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

    // The audit parses only crates that name a token (there is nothing to
    // find in the others), so the parser's coverage is checked here, on
    // every file. Two kinds of file are expected not to parse: compile-fail
    // fixtures under a crate's `tests/ui` (invalid on purpose, e.g.
    // pin-project's), and signal-hook-registry's 2015-edition alias of a
    // bare trait object (`type Action = Fn(&siginfo_t) + Send + Sync;`).
    // Anything else is a parser gap to look at.
    let mut errors: BTreeSet<String> = out
        .errors
        .iter()
        .map(|e| short(&e.file, &registry))
        .collect();
    let unparsable: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(s, move || {
                        share
                            .iter()
                            .filter(|f| {
                                std::fs::read_to_string(f)
                                    .is_ok_and(|t| syn::parse_file(&t).is_err())
                            })
                            .cloned()
                            .collect::<Vec<_>>()
                    })
                    .unwrap()
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    errors.extend(
        unparsable
            .iter()
            .map(|f| short(&f.to_string_lossy(), &registry)),
    );
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
    assert_eq!(out.files, all.len());
    assert!(out.lines > 100_000, "only {} lines scanned", out.lines);

    // A floor far below the release figure, so that only a real slowdown
    // (not a busy machine) fails it.
    assert!(rate > 2_000.0, "{rate:.0} lines/s");
}
