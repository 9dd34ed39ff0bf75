//! The check used on toolchains other than the pinned one.
//!
//! The fail cases are copied to a scratch directory and compiled there by
//! trybuild in `overwrite` mode, which still fails any case that compiles
//! and writes what this rustc printed next to each copy. Then, for every
//! error of the committed snapshot, the fresh output must hold an error
//! with the same code (`E0277`, or none for the macros' own errors) on the
//! same line of the case whose message has the same key words: the text
//! inside backticks for rustc's own messages, the whole first line for the
//! macros' messages (those are ours, and no toolchain changes them).

use std::fs;
use std::path::Path;

/// One error of a `.stderr`: its code, the first line of its message and
/// the line of the case it points at.
#[derive(Debug)]
struct Error {
    code: Option<String>,
    message: String,
    line: Option<u32>,
}

/// Compiles the cases under `ui` (pass cases run; fail cases copied to
/// `scratch`), and returns what does not match, one line per problem.
pub fn check(ui: &Path, scratch: &Path) -> Vec<String> {
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch).expect("scratch directory");
    let mut names = Vec::new();
    for entry in fs::read_dir(ui.join("fail")).expect("tests/ui/fail") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            fs::copy(&path, scratch.join(format!("{name}.rs"))).expect("copy");
            names.push(name);
        }
    }
    names.sort();
    assert!(!names.is_empty(), "no fail cases found");

    // trybuild reads TRYBUILD when the cases run (when `cases` drops);
    // this is the binary's only test, so no other thread reads the
    // environment meanwhile.
    std::env::set_var("TRYBUILD", "overwrite");
    {
        let cases = trybuild::TestCases::new();
        cases.pass(ui.join("pass/*.rs"));
        cases.compile_fail(scratch.join("*.rs"));
    }
    std::env::remove_var("TRYBUILD");

    let mut problems = Vec::new();
    for name in &names {
        let expected = fs::read_to_string(ui.join("fail").join(format!("{name}.stderr")))
            .unwrap_or_else(|_| panic!("{name}.stderr is committed"));
        let Ok(actual) = fs::read_to_string(scratch.join(format!("{name}.stderr"))) else {
            problems.push(format!("{name}: no output was recorded"));
            continue;
        };
        let actual = errors(&actual);
        for want in errors(&expected) {
            if !actual.iter().any(|got| matches(&want, got)) {
                problems.push(format!(
                    "{name}: no error like {want:?}; this rustc reported {actual:?}"
                ));
            }
        }
    }
    problems
}

fn matches(want: &Error, got: &Error) -> bool {
    if want.code != got.code || want.line != got.line {
        return false;
    }
    if want.code.is_none() {
        return want.message == got.message;
    }
    key_words(&want.message)
        .iter()
        .all(|word| got.message.contains(word.as_str()))
}

/// The fragments of `message` inside backticks.
fn key_words(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The errors of a `.stderr`, in order.
fn errors(stderr: &str) -> Vec<Error> {
    let mut out: Vec<Error> = Vec::new();
    let mut open = false;
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("error") {
            let (code, message) = match rest.strip_prefix('[') {
                Some(coded) => {
                    let (code, message) = coded.split_once("]: ").unwrap_or((coded, ""));
                    (Some(code.to_string()), message)
                }
                None => (None, rest.strip_prefix(": ").unwrap_or(rest)),
            };
            if message.starts_with("aborting due to") || message.starts_with("could not compile") {
                open = false;
                continue;
            }
            out.push(Error {
                code,
                message: message.trim().to_string(),
                line: None,
            });
            open = true;
        } else if open {
            // The first location after the header: ` --> file:line:col`.
            if let Some(location) = line.trim_start().strip_prefix("--> ") {
                let mut parts = location.rsplitn(3, ':');
                let _column = parts.next();
                let line_no = parts.next().and_then(|n| n.parse().ok());
                if let Some(last) = out.last_mut() {
                    last.line = line_no;
                }
                open = false;
            }
        }
    }
    out
}
