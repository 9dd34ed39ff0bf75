//! The command line: arguments, exit codes, output.

use crate::diag::{self, Format};
use clap::{Parser, ValueEnum};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

const ABOUT: &str = "Finds cancellation tokens kept in long-lived collections, and inserts \
                     whose removal can be skipped, in Rust sources that do not use \
                     scoped-cancel yet.";

const AFTER_HELP: &str = "\
Rules:
  token-in-collection   a collection (map, set, Vec, DashMap, Slab, ...) whose
                        elements hold a tokio_util CancellationToken or a
                        DropGuard, declared as a field, static, thread-local,
                        type alias or local
  unguarded-insert      a token inserted in a fn that does not remove it on
                        every exit: the removal is after an .await, a ? or a
                        return, or in another fn (a registry's register /
                        unregister pair: its callers are checked when they
                        are in the scanned tree), and no guard's Drop does it
  scope-dropped-at-once a scoped_cancel token taken from a scope that ends
                        with the statement (Token::new().into_scope().token(),
                        Scope::root().token(), REGISTRY.enter(k)?.token())
                        and kept: it is already cancelled
  allow-without-reason  an allow comment that gives no reason

Silence a finding with a reason, on its line or above its item:
  // scoped-cancel-audit: allow(<why this is not a leak>)

Exit status: 0 nothing found, 1 something found, 2 a usage error or a path
or file that could not be read or parsed (reported; the other files are
still checked).";

/// What the arguments ask for.
#[derive(Parser, Debug, PartialEq, Eq)]
#[command(
    name = "scoped-cancel-audit",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Args {
    /// Files or directories. Directories are searched for *.rs files,
    /// honouring .gitignore and skipping `target` and hidden directories;
    /// a crate or workspace root works.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// `human`: rustc-style diagnostics with the source line, a caret and
    /// the rewrite. `json`: one object per line, {"file", "line",
    /// "column", "rule", "message"}. `sarif`: one SARIF 2.1.0 document, for
    /// code-scanning uploads.
    #[arg(long, value_enum, default_value_t = FormatArg::Human, value_name = "FORMAT")]
    pub format: FormatArg,

    /// Print findings as errors (`error[rule]`) instead of warnings
    /// (`warning[rule]`; SARIF level `error`). The exit status does not
    /// change: it is 1 whenever something is found, with or without --deny.
    #[arg(long)]
    pub deny: bool,

    /// Also check test code: `#[cfg(test)]` items, `#[test]` fns and the
    /// files of a crate's `tests/` directory (left out by default).
    #[arg(long)]
    pub include_tests: bool,
}

/// `--format`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[allow(missing_docs)] // Described by `--format`'s help, which lists them.
pub enum FormatArg {
    Human,
    Json,
    Sarif,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Sarif => Format::Sarif,
        }
    }
}

/// `cargo scoped-cancel-audit ...`: cargo runs `cargo-scoped-cancel-audit`
/// with the subcommand's name as its first argument.
#[derive(Parser, Debug)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    #[command(
        name = "scoped-cancel-audit",
        version,
        about = ABOUT,
        after_help = AFTER_HELP,
        max_term_width = 100
    )]
    ScopedCancelAudit(Args),
}

/// The subcommand's name, as cargo passes it.
const SUBCOMMAND: &str = "scoped-cancel-audit";

/// Parses the arguments after the program name; `cargo` says whether they
/// come from the cargo subcommand (its name first, added when missing).
pub fn parse_args(
    args: impl IntoIterator<Item = OsString>,
    cargo: bool,
) -> Result<Args, clap::Error> {
    if cargo {
        let mut args: Vec<OsString> = args.into_iter().collect();
        if args.first().is_none_or(|a| a != SUBCOMMAND) {
            args.insert(0, SUBCOMMAND.into());
        }
        let Cargo::ScopedCancelAudit(parsed) =
            Cargo::try_parse_from(std::iter::once(OsString::from("cargo")).chain(args))?;
        Ok(parsed)
    } else {
        Args::try_parse_from(std::iter::once(OsString::from(SUBCOMMAND)).chain(args))
    }
}

/// Runs the tool; returns the exit status. Findings go to `out`; errors and
/// the summary to `err`.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    cargo: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let args = match parse_args(args, cargo) {
        Ok(args) => args,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = out.write_all(text.as_bytes());
                    0
                }
                _ => {
                    let _ = err.write_all(text.as_bytes());
                    2
                }
            };
        }
    };
    let format = Format::from(args.format);
    let mut failed = false;
    let mut files = Vec::new();
    // Paths that could not be read, for SARIF's notifications.
    let mut unread = Vec::new();
    for path in &args.paths {
        let shown = diag::escape(&path.display().to_string());
        if let Err(e) = std::fs::symlink_metadata(path) {
            let _ = writeln!(err, "error: cannot read `{shown}`: {e}");
            unread.push(unreadable(path, e.to_string()));
            failed = true;
            continue;
        }
        let (found, errors) = crate::walk::rust_files(path);
        files.extend(found);
        for e in errors {
            let _ = writeln!(
                err,
                "error: cannot read `{}`: {} (skipped; the rest is checked)",
                diag::escape(&e.path.display().to_string()),
                e.message
            );
            unread.push(unreadable(&e.path, e.message));
            failed = true;
        }
    }
    files.sort();
    files.dedup();
    let options = crate::Options {
        include_tests: args.include_tests,
    };
    let outcome = crate::audit_files_with(&files, options);
    for e in &outcome.errors {
        let file = diag::escape(&e.file);
        let _ = if e.file.is_empty() {
            writeln!(err, "error: {}", e.message)
        } else if e.line == 0 {
            writeln!(err, "error: {file}: {}", e.message)
        } else {
            writeln!(
                err,
                "error: cannot parse {file}:{}:{}: {}",
                e.line, e.column, e.message
            )
        };
        failed = true;
    }
    match format {
        Format::Sarif => {
            unread.extend(outcome.errors.iter().cloned());
            let doc = crate::sarif::document(&outcome.findings, &unread, args.deny);
            let _ = serde_json::to_writer_pretty(&mut *out, &doc);
            let _ = writeln!(out);
        }
        Format::Human | Format::Json => {
            for f in &outcome.findings {
                let text = match format {
                    Format::Json => diag::json(f) + "\n",
                    _ => diag::human(f, args.deny) + "\n",
                };
                let _ = out.write_all(text.as_bytes());
            }
        }
    }
    let level = if args.deny { "error" } else { "warning" };
    let n = outcome.findings.len();
    let mut scanned = format!("{} files, {} lines", outcome.files, outcome.lines);
    if outcome.test_files > 0 && !args.include_tests {
        scanned.push_str(&format!(
            "; {} test files left out, --include-tests checks them",
            outcome.test_files
        ));
    }
    let _ = match n {
        0 => writeln!(err, "scoped-cancel-audit: nothing found ({scanned})"),
        1 => writeln!(
            err,
            "{level}: scoped-cancel-audit found 1 problem ({scanned})"
        ),
        n => writeln!(
            err,
            "{level}: scoped-cancel-audit found {n} problems ({scanned})"
        ),
    };
    if failed {
        2
    } else if n > 0 {
        1
    } else {
        0
    }
}

fn unreadable(path: &std::path::Path, message: String) -> crate::source::ParseError {
    crate::source::ParseError {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read: {message}"),
    }
}

/// `main` of both binaries; `cargo` is true for `cargo-scoped-cancel-audit`.
pub fn main_with(args: Vec<OsString>, cargo: bool) -> i32 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = run(args, cargo, &mut out, &mut stderr.lock());
    if out.flush().is_err() && code == 0 {
        return 2;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        parse_args(args.iter().map(OsString::from), false)
    }

    #[test]
    fn arguments() {
        let a = parse(&["--format", "json", "--deny", "src", "--", "--odd"]).unwrap();
        assert_eq!(a.format, FormatArg::Json);
        assert!(a.deny && !a.include_tests);
        assert_eq!(a.paths, [PathBuf::from("src"), PathBuf::from("--odd")]);
        let a = parse(&["--format=sarif", "--include-tests", "a.rs"]).unwrap();
        assert_eq!(a.format, FormatArg::Sarif);
        assert!(a.include_tests);
        assert_eq!(parse(&["-h"]).unwrap_err().kind(), ErrorKind::DisplayHelp);
        assert_eq!(
            parse(&["x", "--version"]).unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
    }

    #[test]
    fn usage_errors() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(kind(&[]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["--format"]), ErrorKind::InvalidValue);
        assert_eq!(kind(&["--format", "xml", "a"]), ErrorKind::InvalidValue);
        assert_eq!(kind(&["--frmat", "a"]), ErrorKind::UnknownArgument);
    }

    #[test]
    fn cargo_subcommand() {
        let a = parse_args(
            ["scoped-cancel-audit", "--deny", "src"].map(OsString::from),
            true,
        )
        .unwrap();
        assert!(a.deny);
        assert_eq!(a.paths, [PathBuf::from("src")]);
        // Run directly, without cargo's argument, it still works.
        let a = parse_args(["src"].map(OsString::from), true).unwrap();
        assert_eq!(a.paths, [PathBuf::from("src")]);
    }

    #[test]
    fn the_clap_command_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        Cargo::command().debug_assert();
    }
}
