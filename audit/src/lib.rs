//! `scoped-cancel-audit`: finds the cancellation-token leak in code that does
//! not use `scoped-cancel` yet.
//!
//! It reads Rust sources with `syn` (no compilation, no type checking) and
//! reports three patterns:
//!
//! - `token-in-collection`: a collection whose elements hold a
//!   `tokio_util::sync::CancellationToken` (or a `DropGuard` of one),
//!   declared as a field, a static (also in `lazy_static!` /
//!   `thread_local!`), a type alias or a local;
//! - `unguarded-insert`: an insert of such a token whose matching removal is
//!   not guaranteed on every exit, directly or through a registry's
//!   `register`/`unregister` pair of fns;
//! - `scope-dropped-at-once`: in code that uses `scoped-cancel`, a token
//!   taken from a scope that ends in the same statement
//!   (`Token::new().into_scope().token()`) and kept: it is already cancelled.
//!
//! Without name resolution it works on names: `use ... as` renames, type
//! aliases and the structs and enums of the scanned crate are followed; types
//! from other crates are known only by a fixed list of wrappers and
//! collections. See `scoped-cancel-audit --help` and the crate's README.
//!
//! ```
//! let out = scoped_cancel_audit::audit_sources(vec![(
//!     "src/lib.rs".to_owned(),
//!     "struct App { jobs: dashmap::DashMap<u64, tokio_util::sync::CancellationToken> }".to_owned(),
//! )]);
//! assert_eq!(out.findings.len(), 1);
//! assert_eq!(out.findings[0].rule.id(), "token-in-collection");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod diag;
mod names;
mod nesting;
mod rules;
mod sarif;
pub mod source;
mod static_macros;
mod suppress;
mod testcode;
mod types;
pub mod walk;

use diag::Finding;
use source::{ParseError, Parsed, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use nesting::MAX_NESTING;

/// What one run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Sorted by file, line and column.
    pub findings: Vec<Finding>,
    /// Files that could not be read or parsed, sorted by file; the others
    /// were checked.
    pub errors: Vec<ParseError>,
    /// Files read (test files left out are not counted).
    pub files: usize,
    /// Lines of those files.
    pub lines: usize,
    /// Test files left out (see [`Options::include_tests`]).
    pub test_files: usize,
}

/// How to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also check test code: `#[cfg(test)]` items, `#[test]` fns and the
    /// files of a crate's `tests/` directory.
    pub include_tests: bool,
}

/// Each scan thread's stack: parsing and visiting recurse once per level of
/// a file's tree, which `nesting` bounds; this holds that bound with a wide
/// margin in debug builds. Untouched stack costs no memory.
const STACK_SIZE: usize = 256 << 20;

/// Text that a file must contain for the crate to be parsed at all: without
/// it there is nothing to find (allow comments are still checked). The
/// token rules need a token type's name; `scope-dropped-at-once` needs a
/// `.token()` call.
const NEEDLES: &[&str] = &["CancellationToken", "DropGuard", ".token()"];

/// Checks files read from disk, with default [`Options`].
pub fn audit_files(files: &[PathBuf]) -> Outcome {
    audit_files_with(files, Options::default())
}

/// Checks files read from disk. Files are grouped by the crate they belong
/// to (nearest `Cargo.toml`), so that a crate's own types are followed
/// across its files but names never leak from one crate to another.
pub fn audit_files_with(files: &[PathBuf], options: Options) -> Outcome {
    let mut roots = walk::RootCache::default();
    let mut groups: BTreeMap<Option<PathBuf>, Vec<&PathBuf>> = BTreeMap::new();
    for file in files {
        groups.entry(roots.crate_root(file)).or_default().push(file);
    }
    let groups: Vec<_> = groups.into_iter().collect();
    run_groups(groups.len(), |i, outcome| {
        let (root, files) = &groups[i];
        let mut sources = Vec::new();
        for path in files {
            if !options.include_tests {
                let (rel, known) = match root.as_deref().map(|r| path.strip_prefix(r)) {
                    Some(Ok(rel)) => (rel, true),
                    _ => (path.as_path(), false),
                };
                if testcode::is_test_path(rel, known) {
                    outcome.test_files += 1;
                    continue;
                }
            }
            let display = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => sources.push(Source { display, text }),
                Err(e) => outcome.errors.push(ParseError {
                    file: display,
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        audit_group(sources, options, outcome);
    })
}

/// Checks in-memory sources `(path, text)` as the files of one crate, with
/// default [`Options`].
pub fn audit_sources(sources: Vec<(String, String)>) -> Outcome {
    audit_sources_with(sources, Options::default())
}

/// Checks in-memory sources `(path, text)` as the files of one crate; a path
/// with a `tests` directory in it is test code.
pub fn audit_sources_with(sources: Vec<(String, String)>, options: Options) -> Outcome {
    let group = Mutex::new(Some(sources));
    run_groups(1, |_, outcome| {
        let sources = group.lock().map(|mut g| g.take()).unwrap_or_default();
        let mut kept = Vec::new();
        for (display, text) in sources.into_iter().flatten() {
            if !options.include_tests && testcode::is_test_path(Path::new(&display), false) {
                outcome.test_files += 1;
            } else {
                kept.push(Source { display, text });
            }
        }
        audit_group(kept, options, outcome);
    })
}

/// Runs `work` for groups `0..n` on scan threads (one per core, each with a
/// large stack), and merges their outcomes.
fn run_groups(n: usize, work: impl Fn(usize, &mut Outcome) + Sync) -> Outcome {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n)
        .max(1);
    let next = AtomicUsize::new(0);
    let merged = Mutex::new(Outcome::default());
    let failed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .name("scoped-cancel-audit".into())
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(s, || {
                        let mut outcome = Outcome::default();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            // A bug must not cost the other crates their scan.
                            let mut part = Outcome::default();
                            let ran =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    work(i, &mut part)
                                }));
                            if ran.is_err() {
                                part.errors.push(ParseError {
                                    file: String::new(),
                                    line: 0,
                                    column: 0,
                                    message: format!(
                                        "internal error while checking crate group {i}; its \
                                         files were not checked"
                                    ),
                                });
                            }
                            outcome.findings.append(&mut part.findings);
                            outcome.errors.append(&mut part.errors);
                            outcome.files += part.files;
                            outcome.lines += part.lines;
                            outcome.test_files += part.test_files;
                            // Spans of this group are no longer needed: free
                            // proc-macro2's map of them.
                            proc_macro2::extra::invalidate_current_thread_spans();
                        }
                        if let Ok(mut m) = merged.lock() {
                            m.findings.append(&mut outcome.findings);
                            m.errors.append(&mut outcome.errors);
                            m.files += outcome.files;
                            m.lines += outcome.lines;
                            m.test_files += outcome.test_files;
                        }
                    })
            })
            .collect();
        handles
            .into_iter()
            .any(|h| h.map_or(true, |h| h.join().is_err()))
    });
    let mut outcome = merged.into_inner().unwrap_or_default();
    if failed {
        outcome.errors.push(ParseError {
            file: String::new(),
            line: 0,
            column: 0,
            message: "a scan thread could not start or stopped unexpectedly; some files were \
                      not checked"
                .into(),
        });
    }
    outcome
        .findings
        .sort_by(|a, b| (&a.file, a.start, a.rule.id()).cmp(&(&b.file, b.start, b.rule.id())));
    outcome
        .errors
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    outcome
}

/// Parses one crate's files and runs the rules over them.
fn audit_group(sources: Vec<Source>, options: Options, outcome: &mut Outcome) {
    // Allow comments without a reason are reported in every file read.
    for src in &sources {
        outcome.files += 1;
        outcome.lines += src.text.lines().count();
        let allows = suppress::Allows::scan(&src.text);
        outcome.findings.extend(allows.without_reason(&src.display));
    }
    // Without the token's name in any file there is nothing to find, and
    // the crate is not parsed.
    let mentions = sources
        .iter()
        .any(|s| NEEDLES.iter().any(|n| s.text.contains(n)));
    if !mentions {
        return;
    }
    let mut parsed: Vec<Parsed> = Vec::with_capacity(sources.len());
    for src in sources {
        match src.parse() {
            Ok(p) => parsed.push(p),
            Err(e) => outcome.errors.push(e),
        }
    }
    if !options.include_tests {
        // `#[cfg(test)] mod tests;` makes its file test code.
        let test_mods = testcode::out_of_line_test_mods(&parsed);
        parsed.retain(|p| {
            let test = test_mods.contains(Path::new(&p.src.display));
            if test {
                outcome.test_files += 1;
                outcome.files -= 1;
                outcome.lines -= p.src.text.lines().count();
            }
            !test
        });
        for p in &mut parsed {
            testcode::strip(&mut p.ast);
        }
    }
    check_crate(&parsed, outcome);
}

fn check_crate(parsed: &[Parsed], outcome: &mut Outcome) {
    let krate = types::Crate::new(parsed);
    let found = rules::check(&krate);
    // Keep what no allow comment covers.
    let mut by_file: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for f in found {
        by_file.entry(f.file.clone()).or_default().push(f);
    }
    for p in parsed {
        let Some(fs) = by_file.remove(&p.src.display) else {
            continue;
        };
        let allows = suppress::Allows::scan(&p.src.text);
        outcome
            .findings
            .extend(fs.into_iter().filter(|f| !allows.covers(f)));
    }
}
