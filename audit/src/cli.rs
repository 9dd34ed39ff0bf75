//! The command line: arguments, exit codes, output.

use crate::diag::{self, Format};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

const USAGE: &str = "Usage: scoped-cancel-audit [--format human|json] [--deny] PATH...";

const HELP: &str = "\
Finds cancellation tokens kept in long-lived collections, and inserts whose
removal can be skipped, in Rust sources that do not use scoped-cancel yet.

Usage: scoped-cancel-audit [--format human|json] [--deny] PATH...
       cargo scoped-cancel-audit [--format human|json] [--deny] PATH...

Arguments:
  PATH...            files or directories; directories are searched for *.rs
                     files, skipping `target` and hidden directories. A crate
                     or workspace root works.

Options:
  --format human     rustc-style diagnostics with the source line, a caret and
                     the rewrite (default)
  --format json      one object per line: {\"file\", \"line\", \"column\",
                     \"rule\", \"message\"}
  --deny             print findings as errors (`error[rule]`) instead of
                     warnings (`warning[rule]`), for logs and CI that treat
                     warnings as noise. The exit status does not change: it is
                     1 whenever something is found, with or without --deny.
  -h, --help         this text
  -V, --version      the version

Rules:
  token-in-collection   a collection (map, set, Vec, DashMap, Slab, ...) whose
                        elements hold a tokio_util CancellationToken, declared
                        as a field, static, thread-local, type alias or local
  unguarded-insert      a token inserted in a fn that does not remove it on
                        every exit: the removal is after an .await, a ? or a
                        return, or in another fn, and no guard's Drop does it
  allow-without-reason  an allow comment that gives no reason

Silence a finding with a reason, on its line or above its item:
  // scoped-cancel-audit: allow(<why this is not a leak>)

Exit status: 0 nothing found, 1 something found, 2 a usage error or a file
that could not be read or parsed (reported; the other files are still checked).
";

/// What the arguments ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run {
        format: Format,
        deny: bool,
        paths: Vec<PathBuf>,
    },
    Help,
    Version,
}

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut format = Format::Human;
    let mut deny = false;
    let mut paths = Vec::new();
    let mut args = args.into_iter();
    let mut only_paths = false;
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str().filter(|_| !only_paths) else {
            paths.push(PathBuf::from(arg));
            continue;
        };
        match text {
            "--" => only_paths = true,
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--deny" => deny = true,
            "--format" => {
                let value = args
                    .next()
                    .ok_or("`--format` needs a value: `human` or `json`")?;
                format = parse_format(&value.to_string_lossy())?;
            }
            _ if text.starts_with("--format=") => {
                format = parse_format(&text["--format=".len()..])?;
            }
            _ if text.starts_with('-') && text != "-" => {
                return Err(format!("unknown option `{text}`"));
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        return Err("no PATH given: name the files or directories to check".into());
    }
    Ok(Command::Run {
        format,
        deny,
        paths,
    })
}

fn parse_format(value: &str) -> Result<Format, String> {
    match value {
        "human" => Ok(Format::Human),
        "json" => Ok(Format::Json),
        other => Err(format!(
            "unknown format `{other}`: expected `human` or `json`"
        )),
    }
}

/// Runs the tool; returns the exit status. Findings go to `out`; errors and
/// the summary to `err`.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let (format, deny, paths) = match parse_args(args) {
        Ok(Command::Run {
            format,
            deny,
            paths,
        }) => (format, deny, paths),
        Ok(Command::Help) => {
            let _ = out.write_all(HELP.as_bytes());
            return 0;
        }
        Ok(Command::Version) => {
            let _ = writeln!(out, "scoped-cancel-audit {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(message) => {
            let _ = writeln!(err, "error: {message}\n\n{USAGE}\nTry `--help` for more.");
            return 2;
        }
    };
    let mut failed = false;
    let mut files = Vec::new();
    for path in &paths {
        if let Err(e) = crate::walk::rust_files(path, &mut files) {
            let _ = writeln!(err, "error: cannot read `{}`: {e}", path.display());
            failed = true;
        }
    }
    files.sort();
    files.dedup();
    let outcome = crate::audit_files(&files);
    for e in &outcome.errors {
        let _ = if e.line == 0 {
            writeln!(err, "error: {}: {}", e.file, e.message)
        } else {
            writeln!(
                err,
                "error: cannot parse {}:{}:{}: {}",
                e.file, e.line, e.column, e.message
            )
        };
        failed = true;
    }
    for f in &outcome.findings {
        let text = match format {
            Format::Human => diag::human(f, deny) + "\n",
            Format::Json => diag::json(f) + "\n",
        };
        let _ = out.write_all(text.as_bytes());
    }
    let level = if deny { "error" } else { "warning" };
    let n = outcome.findings.len();
    let scanned = format!("{} files, {} lines", outcome.files, outcome.lines);
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

/// `main` of both binaries; `cargo` passes its subcommand's name first.
///
/// The work runs on a thread with a large stack: parsing and visiting are
/// recursive, and a machine-generated file can nest deeper than a main
/// thread's 8 MiB allow.
pub fn main_with(mut args: Vec<OsString>, strip_subcommand: bool) -> i32 {
    if strip_subcommand && args.first().is_some_and(|a| a == "scoped-cancel-audit") {
        args.remove(0);
    }
    let work = move || {
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let code = run(args, &mut out, &mut stderr.lock());
        let _ = out.flush();
        code
    };
    match std::thread::Builder::new()
        .name("scoped-cancel-audit".into())
        .stack_size(256 << 20)
        .spawn(work)
        .map(|t| t.join())
    {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("error: scoped-cancel-audit stopped unexpectedly");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse(&["--format", "json", "--deny", "src", "--", "--odd"]),
            Ok(Command::Run {
                format: Format::Json,
                deny: true,
                paths: vec!["src".into(), "--odd".into()]
            })
        );
        assert_eq!(
            parse(&["--format=human", "a.rs"]),
            Ok(Command::Run {
                format: Format::Human,
                deny: false,
                paths: vec!["a.rs".into()]
            })
        );
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        assert_eq!(parse(&["x", "--version"]), Ok(Command::Version));
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&[]).unwrap_err().contains("no PATH"));
        assert!(parse(&["--format"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--format", "xml", "a"])
            .unwrap_err()
            .contains("`xml`"));
        assert!(parse(&["--frmat", "a"]).unwrap_err().contains("`--frmat`"));
    }
}
