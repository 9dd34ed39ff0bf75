//! Hostile input ends with exit 2 and a message, never a hang or an abort,
//! and the rest of the tree is still scanned. Every input is generated here,
//! of bounded size.

mod common;

use common::temp_crate;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

/// The leak each tree also holds: it must be reported whatever else is there.
const LEAKY: &str = "\
use tokio_util::sync::CancellationToken;
pub struct App { jobs: dashmap::DashMap<u64, CancellationToken> }
";

fn audit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scoped-cancel-audit"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Audits `src/hostile.rs` beside `src/lib.rs` (the leak): exit 2, the
/// message, and the leak still reported.
fn refused_and_the_rest_scanned(name: &str, hostile: &str, says: &str) {
    let dir = temp_crate(name, &[("src/hostile.rs", hostile), ("src/lib.rs", LEAKY)]);
    let out = audit(&dir, &["--format", "json", "src"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    assert!(
        stderr.contains("error: cannot parse src/hostile.rs:") && stderr.contains(says),
        "{name}: {stderr}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("\"file\":\"src/lib.rs\",\"line\":2"),
        "{name}: the leak next door is reported: {stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

const DEEP: &str =
    "nest (a chain of operators, method calls, `else if` or generics) deeper than 1024";

#[test]
fn two_million_nots_or_refs() {
    for (name, op) in [("nots", "!"), ("refs", "&"), ("negs", "-"), ("derefs", "*")] {
        let src = format!(
            "use tokio_util::sync::CancellationToken;\nfn f() {{ let x = {}y; }}\n",
            op.repeat(2_000_000)
        );
        refused_and_the_rest_scanned(name, &src, DEEP);
    }
}

#[test]
fn two_hundred_thousand_nested_generics_and_types() {
    let vecs = format!(
        "use tokio_util::sync::CancellationToken;\ntype T = {}u8{};\n",
        "Vec<".repeat(200_000),
        ">".repeat(200_000)
    );
    refused_and_the_rest_scanned("generics", &vecs, DEEP);
    let fns = format!(
        "use tokio_util::sync::CancellationToken;\ntype F = {}u8;\n",
        "fn() -> ".repeat(100_000)
    );
    refused_and_the_rest_scanned("fnptrs", &fns, DEEP);
}

#[test]
fn long_else_if_method_and_operator_chains() {
    let mut else_if =
        String::from("use tokio_util::sync::CancellationToken;\nfn f(a: bool) {\n    if a {}");
    for _ in 0..100_000 {
        else_if.push_str(" else if a {}");
    }
    else_if.push_str("\n}\n");
    refused_and_the_rest_scanned("elseif", &else_if, DEEP);
    let chain = format!(
        "use tokio_util::sync::CancellationToken;\nfn f() {{ x{}; }}\n",
        ".next()".repeat(200_000)
    );
    refused_and_the_rest_scanned("methods", &chain, DEEP);
    let sum = format!(
        "use tokio_util::sync::CancellationToken;\nfn f() -> u8 {{ 1{} }}\n",
        " + 1".repeat(200_000)
    );
    refused_and_the_rest_scanned("sum", &sum, DEEP);
}

#[test]
fn nested_brackets_and_blocks() {
    let parens = format!(
        "use tokio_util::sync::CancellationToken;\nfn f() {{ {}1{} }}\n",
        "(".repeat(300_000),
        ")".repeat(300_000)
    );
    refused_and_the_rest_scanned("parens", &parens, "brackets nest deeper than 1024");
    let blocks = format!(
        "use tokio_util::sync::CancellationToken;\nfn f() {}{}\n",
        "{".repeat(300_000),
        "}".repeat(300_000)
    );
    refused_and_the_rest_scanned("blocks", &blocks, "brackets nest deeper than 1024");
}

#[test]
fn brackets_inside_strings_and_comments_are_not_nesting() {
    let src = format!(
        "use tokio_util::sync::CancellationToken;\n// {0}\n/* {0} */\n\
         pub const A: &str = \"{0}\";\npub const B: &str = r#\"{0}\"#;\n\
         pub struct S {{ all: Vec<CancellationToken> }}\n",
        "((((<<<<!!!!&&&&".repeat(50_000)
    );
    let dir = temp_crate("strings", &[("src/lib.rs", &src)]);
    let out = audit(&dir, &["--format", "json", "src"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"line\":6"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn type_aliases_that_fan_out_are_expanded_once() {
    // Each alias is a 20-tuple of the one before: expanded naively, the
    // last is 20^8 types. The bound below is minutes above the real cost.
    let mut src = String::from(
        "use tokio_util::sync::CancellationToken;\ntype A0 = (u8, CancellationToken);\n",
    );
    for i in 1..=8 {
        let prev = vec![format!("A{}", i - 1); 20].join(", ");
        src.push_str(&format!("type A{i} = ({prev});\n"));
    }
    src.push_str("pub struct S { m: std::collections::HashMap<u64, A5>, n: Vec<A8> }\n");
    assert!(src.len() < 1200, "{}", src.len());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = scoped_cancel_audit::audit_sources(vec![("src/lib.rs".into(), src)]);
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the fan-out is analysed in well under two minutes");
    let found: Vec<String> = out
        .findings
        .iter()
        .map(|f| format!("{}:{}", f.start.line, f.start.column))
        .collect();
    // Aliases A1..A6 are within the expansion depth; `m` holds A5.
    assert!(found.contains(&"11:19".to_owned()), "{found:?}");
}

#[test]
fn control_characters_in_quoted_lines_are_escaped() {
    let src = "use tokio_util::sync::CancellationToken;\n\
               pub struct S { /* \u{1b}[2J\u{7}\u{202e} */ all: Vec<CancellationToken> }\n";
    let dir = temp_crate("control", &[("src/lib.rs", src)]);
    let out = audit(&dir, &["src"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}') && !stdout.contains('\u{202e}')
    );
    let quoted = "2 | pub struct S { /* \\u{1b}[2J\\u{7}\\u{202e} */ all: Vec<CancellationToken> }";
    assert!(stdout.contains(quoted), "{stdout}");
    // The caret stands under `Vec` in the escaped line.
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("2 | ")).unwrap();
    assert_eq!(lines[at + 1].find('^'), lines[at].find("Vec<"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unreadable_directory_is_reported_and_the_rest_scanned() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_crate(
        "unreadable",
        &[("src/a_locked/secret.rs", LEAKY), ("src/lib.rs", LEAKY)],
    );
    let locked = dir.join("src/a_locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any directory: run as `nobody` then. The directory sorts
    // first, so a walk that stopped at it would miss `lib.rs`.
    let root = text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0";
    let out = if root {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_scoped-cancel-audit"))
            .args(["--format", "json", "src"])
            .current_dir(&dir)
            .output()
            .expect("setpriv (util-linux) runs the audit as an unprivileged user")
    } else {
        audit(&dir, &["--format", "json", "src"])
    };
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: cannot read `src/a_locked`: ")
            && stderr.contains("the rest is checked"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("\"file\":\"src/lib.rs\""),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
