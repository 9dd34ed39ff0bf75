//! The built binaries: exit codes, the formats, unparsable files, directory
//! walking (.gitignore), usage errors, and the cargo subcommand.

mod common;

use common::temp_crate;
use std::path::Path;
use std::process::{Command, Output};

const LEAKY: &str = "\
use tokio_util::sync::CancellationToken;
pub struct App { jobs: dashmap::DashMap<u64, CancellationToken> }
impl App {
    pub async fn run(&self, id: u64, t: CancellationToken) {
        self.jobs.insert(id, t);
        work().await;
        self.jobs.remove(&id);
    }
}
";

const CLEAN: &str = "pub struct App { jobs: scoped_cancel::Registry<u64> }\n";

fn audit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scoped-cancel-audit"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn exit_0_when_clean_1_when_found() {
    let dir = temp_crate("exit", &[("clean/lib.rs", CLEAN), ("leaky/lib.rs", LEAKY)]);
    let clean = audit(&dir, &["clean"]);
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(text(&clean.stdout), "");
    assert!(text(&clean.stderr).contains("nothing found (1 files, 1 lines)"));
    let leaky = audit(&dir, &["clean", "leaky/lib.rs"]);
    assert_eq!(leaky.status.code(), Some(1));
    assert!(text(&leaky.stderr).contains("warning: scoped-cancel-audit found 2 problems"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn human_output_and_deny() {
    let dir = temp_crate("human", &[("src/lib.rs", LEAKY)]);
    let out = audit(&dir, &["src"]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with(
        "warning[token-in-collection]: field `jobs` is a `DashMap` of cancellation tokens"
    ));
    assert!(stdout.contains(
        " --> src/lib.rs:2:24\n  |\n2 | pub struct App { jobs: dashmap::DashMap<u64, CancellationToken> }\n  \
         |                        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    ), "{stdout}");
    assert!(stdout.contains("\nwarning[unguarded-insert]: "));
    assert!(stdout.contains("  = help: make `jobs` a `scoped_cancel::Registry`"));
    assert!(stdout.contains("#[scoped_cancel(registry = self.jobs, key = id, token = token)]"));

    let denied = audit(&dir, &["--deny", "src"]);
    assert_eq!(denied.status.code(), Some(1), "--deny keeps exit 1");
    let stdout = text(&denied.stdout);
    assert!(stdout.starts_with("error[token-in-collection]: "));
    assert!(stdout.contains("\nerror[unguarded-insert]: "));
    assert!(!stdout.contains("warning["));
    assert!(text(&denied.stderr).contains("error: scoped-cancel-audit found 2 problems"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn json_is_one_object_per_line() {
    let dir = temp_crate("json", &[("src/lib.rs", LEAKY)]);
    let out = audit(&dir, &["--format", "json", "src"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for v in &lines {
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5, "{v}");
        assert_eq!(v["file"], "src/lib.rs");
    }
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["column"], 24);
    assert_eq!(lines[0]["rule"], "token-in-collection");
    assert_eq!(lines[1]["line"], 5);
    assert_eq!(lines[1]["column"], 19);
    assert_eq!(lines[1]["rule"], "unguarded-insert");
    assert!(lines[1]["message"]
        .as_str()
        .unwrap()
        .contains("past the `.await` on line 6"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sarif_is_one_run_with_a_result_per_finding() {
    let dir = temp_crate(
        "sarif",
        &[("src/lib.rs", LEAKY), ("src/broken.rs", "fn f( {\n")],
    );
    let out = audit(&dir, &["--format", "sarif", "--deny", "src"]);
    assert_eq!(out.status.code(), Some(2), "the unparsable file");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["tool"]["driver"]["name"], "scoped-cancel-audit");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "token-in-collection",
            "unguarded-insert",
            "scope-dropped-at-once",
            "allow-without-reason"
        ]
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (r, (rule, index, line, col)) in results.iter().zip([
        ("token-in-collection", 0, 2, 24),
        ("unguarded-insert", 1, 5, 19),
    ]) {
        assert_eq!(r["ruleId"], rule);
        assert_eq!(r["ruleIndex"], index);
        assert_eq!(r["level"], "error", "--deny");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "src/lib.rs");
        assert_eq!(loc["region"]["startLine"], line);
        assert_eq!(loc["region"]["startColumn"], col);
        assert!(r["message"]["text"].as_str().unwrap().contains("help: "));
    }
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/broken.rs"
    );
    let missing = audit(&dir, &["--format", "sarif", "nope.rs"]);
    assert_eq!(missing.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    let note = &doc["runs"][0]["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "nope.rs"
    );
    let clean = audit(&dir, &["--format", "sarif", "src/lib.rs"]);
    let doc: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(doc["runs"][0]["results"][1]["level"], "warning");
    assert_eq!(
        doc["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unparsable_file_exits_2_and_the_others_are_still_checked() {
    let dir = temp_crate(
        "parse",
        &[("src/broken.rs", "fn f( {\n"), ("src/lib.rs", LEAKY)],
    );
    let out = audit(&dir, &["--format=json", "src"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: cannot parse src/broken.rs:"),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout).lines().count(), 2, "lib.rs was checked");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_that_is_not_utf8_is_named_and_exits_2() {
    let dir = temp_crate("utf8", &[("src/lib.rs", LEAKY)]);
    std::fs::write(dir.join("src/latin1.rs"), b"// caf\xe9\n").unwrap();
    let out = audit(&dir, &["--format", "json", "src"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error: src/latin1.rs: cannot read: "));
    assert_eq!(text(&out.stdout).lines().count(), 2, "lib.rs was checked");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pathological_nesting_is_refused_not_a_crash() {
    let deep = format!(
        "fn f() {{ let x = {}1{}; }}\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let ok = format!(
        "fn g() {{ let x = {}1{}; }}\n",
        "(".repeat(1_000),
        ")".repeat(1_000)
    );
    let dir = temp_crate(
        "deep",
        &[
            ("src/deep.rs", &deep),
            ("src/ok.rs", &ok),
            ("src/lib.rs", "use tokio_util::sync::CancellationToken;\n"),
        ],
    );
    let out = audit(&dir, &["src"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: cannot parse src/deep.rs:1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("brackets nest deeper than 1024 levels; not parsed"),
        "{stderr}"
    );
    assert!(!stderr.contains("src/ok.rs"), "{stderr}");
    assert!(stderr.contains("(3 files, 3 lines)"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn directories_are_walked_skipping_target_and_hidden_ones() {
    let dir = temp_crate(
        "walk",
        &[
            ("src/deep/er/mod.rs", LEAKY),
            ("target/debug/build/out.rs", LEAKY),
            (".cargo/vendored.rs", LEAKY),
            ("src/notes.txt", LEAKY),
        ],
    );
    let out = audit(&dir, &["--format", "json", "."]);
    let files: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["file"].to_string())
        .collect();
    assert_eq!(
        files,
        ["\"./src/deep/er/mod.rs\"", "\"./src/deep/er/mod.rs\""]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let dir = temp_crate("usage", &[("src/lib.rs", CLEAN)]);
    for (args, says) in [
        (
            &[][..],
            "the following required arguments were not provided",
        ),
        (
            &["--format", "xml", "src"][..],
            "invalid value 'xml' for '--format <FORMAT>'",
        ),
        (
            &["--fromat", "json", "src"][..],
            "unexpected argument '--fromat' found",
        ),
        (
            &["--format"][..],
            "a value is required for '--format <FORMAT>'",
        ),
    ] {
        let out = audit(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("try '--help'"), "{stderr}");
        assert_eq!(text(&out.stdout), "");
    }
    let missing = audit(&dir, &["nope", "src"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("error: cannot read `nope`"));
    assert!(
        text(&missing.stderr).contains("nothing found (1 files"),
        "src was checked"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_documents_deny_the_formats_and_the_exit_codes() {
    for flag in ["--help", "-h"] {
        let out = audit(Path::new("."), &[flag]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(help.contains("--deny"), "{help}");
        assert!(help.contains("--include-tests"), "{help}");
        assert!(
            help.contains("[possible values: human, json, sarif]"),
            "{help}"
        );
        assert!(help.contains("The exit status does not change"), "{help}");
        assert!(help.contains("Exit status: 0 nothing found, 1 something found, 2"));
    }
    let version = audit(Path::new("."), &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        text(&version.stdout),
        format!("scoped-cancel-audit {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn cargo_subcommand_drops_its_own_name() {
    let dir = temp_crate("cargo", &[("src/lib.rs", LEAKY)]);
    let cargo = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cargo-scoped-cancel-audit"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = cargo(&["scoped-cancel-audit", "--format", "json", "src"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let help = cargo(&["scoped-cancel-audit", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("Usage: cargo scoped-cancel-audit"));
    let bad = cargo(&["scoped-cancel-audit", "--nope", "src"]);
    assert_eq!(bad.status.code(), Some(2), "clap's usage errors exit 2");
    assert!(text(&bad.stderr).contains("Usage: cargo scoped-cancel-audit"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gitignored_files_are_not_read() {
    let dir = temp_crate(
        "gitignore",
        &[
            ("src/lib.rs", LEAKY),
            ("generated/out.rs", LEAKY),
            (".gitignore", "/generated/\n"),
        ],
    );
    let out = audit(&dir, &["--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("generated"), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    // Named on the command line, it is read.
    let named = audit(&dir, &["--format", "json", "generated/out.rs"]);
    assert_eq!(text(&named.stdout).lines().count(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}
