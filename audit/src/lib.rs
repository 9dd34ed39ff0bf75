//! `scoped-cancel-audit`: finds the cancellation-token leak in code that does
//! not use `scoped-cancel` yet.
//!
//! It reads Rust sources with `syn` (no compilation, no type checking) and
//! reports two patterns:
//!
//! - `token-in-collection`: a collection whose elements hold a
//!   `tokio_util::sync::CancellationToken`, declared as a field, a static
//!   (also in `lazy_static!` / `thread_local!`), a type alias or a local;
//! - `unguarded-insert`: an insert of such a token in a fn whose matching
//!   removal is not guaranteed on every exit.
//!
//! Without name resolution it works on names: `use ... as` renames, type
//! aliases and the structs and enums of the scanned crate are followed; types
//! from other crates are known only by a fixed list of wrappers and
//! collections. See `scoped-cancel-audit --help`.
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

pub mod cli;
pub mod diag;
mod names;
mod rules;
pub mod source;
mod static_macros;
mod suppress;
mod types;
pub mod walk;

use diag::Finding;
use source::{ParseError, Parsed, Source};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What one run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Sorted by file, line and column.
    pub findings: Vec<Finding>,
    /// Files that could not be read or parsed; the others were checked.
    pub errors: Vec<ParseError>,
    /// Files and lines read.
    pub files: usize,
    pub lines: usize,
}

/// Checks files read from disk. Files are grouped by the crate they belong
/// to (nearest `Cargo.toml`), so that a crate's own types are followed
/// across its files but names never leak from one crate to another.
pub fn audit_files(files: &[PathBuf]) -> Outcome {
    let mut groups: BTreeMap<Option<PathBuf>, Vec<&PathBuf>> = BTreeMap::new();
    for file in files {
        groups.entry(walk::crate_root(file)).or_default().push(file);
    }
    let mut outcome = Outcome::default();
    for group in groups.into_values() {
        let mut sources = Vec::new();
        for path in group {
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
        audit_group(sources, &mut outcome);
    }
    finish(outcome)
}

/// Checks in-memory sources `(path, text)` as the files of one crate.
pub fn audit_sources(sources: Vec<(String, String)>) -> Outcome {
    let mut outcome = Outcome::default();
    let sources = sources
        .into_iter()
        .map(|(display, text)| Source { display, text })
        .collect();
    audit_group(sources, &mut outcome);
    finish(outcome)
}

fn finish(mut outcome: Outcome) -> Outcome {
    outcome
        .findings
        .sort_by(|a, b| (&a.file, a.start, a.rule.id()).cmp(&(&b.file, b.start, b.rule.id())));
    outcome
}

/// Parses one crate's files and runs both rules over them.
fn audit_group(sources: Vec<Source>, outcome: &mut Outcome) {
    let mut parsed: Vec<Parsed> = Vec::with_capacity(sources.len());
    for src in sources {
        outcome.files += 1;
        outcome.lines += src.text.lines().count();
        match src.parse() {
            Ok(p) => parsed.push(p),
            Err(e) => outcome.errors.push(e),
        }
    }
    // Without the token's name in any file there is nothing to find.
    let mentions = parsed
        .iter()
        .any(|p| p.src.text.contains("CancellationToken"));
    if mentions {
        check_crate(&parsed, outcome);
    }
    // Allow comments without a reason are reported in every parsed file.
    for p in &parsed {
        let allows = suppress::Allows::scan(&p.src.text);
        outcome
            .findings
            .extend(allows.without_reason(&p.src.display));
    }
    drop(parsed);
    // Spans of this group are no longer needed: free proc-macro2's map of them.
    proc_macro2::extra::invalidate_current_thread_spans();
}

fn check_crate(parsed: &[Parsed], outcome: &mut Outcome) {
    let krate = types::Crate::new(parsed);
    let mut decls = rules::Decls::default();
    let mut found = Vec::new();
    for file in 0..parsed.len() {
        rules::collection::check(&krate, file, &mut decls, &mut found);
    }
    let guards = rules::guards::guards(&krate);
    for file in 0..parsed.len() {
        rules::insert::check(&krate, file, &decls, &guards, &mut found);
    }
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
