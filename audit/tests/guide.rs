//! The migration guide of `scoped-cancel` (`core/src/guide/migration.md`):
//! for each shape, the findings it quotes are what the audit prints for its
//! "before" code, and its "after" code (compiled and run as a doc test of
//! `scoped-cancel`) is clean; the workspace README quotes one of them.

use scoped_cancel_audit::{audit_sources, diag};
use std::path::Path;

/// One `# ` section of the guide: its title, its code blocks (info string,
/// text) in order.
struct Section {
    title: String,
    blocks: Vec<(String, String)>,
}

fn sections(markdown: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut fence: Option<(String, String)> = None;
    for line in markdown.lines() {
        if let Some(info) = line.strip_prefix("```") {
            match fence.take() {
                Some(block) => {
                    if let Some(section) = out.last_mut() {
                        section.blocks.push(block);
                    }
                }
                None => fence = Some((info.trim().to_owned(), String::new())),
            }
        } else if let Some((_, text)) = fence.as_mut() {
            text.push_str(line);
            text.push('\n');
        } else if let Some(title) = line.strip_prefix("# ") {
            out.push(Section {
                title: title.to_owned(),
                blocks: Vec::new(),
            });
        }
    }
    out
}

/// A block as rustdoc renders it: without its hidden (`# `) lines.
fn shown(code: &str) -> String {
    code.lines()
        .filter(|l| {
            let t = l.trim_start();
            t != "#" && !t.starts_with("# ")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn is_rust(info: &str) -> bool {
    info.is_empty() || info.split(',').any(|w| w == "rust" || w == "no_run")
}

/// The first line of each finding the audit prints for `code`.
fn first_lines(code: &str) -> Vec<String> {
    let out = audit_sources(vec![("src/lib.rs".into(), code.into())]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.findings
        .iter()
        .map(|f| diag::human(f, false).lines().next().unwrap().to_owned())
        .collect()
}

#[test]
fn each_shape_quotes_what_the_audit_finds_and_its_rewrite_is_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/guide/migration.md");
    let guide = std::fs::read_to_string(&path).unwrap();
    let shapes: Vec<Section> = sections(&guide)
        .into_iter()
        .filter(|s| s.blocks.iter().filter(|(info, _)| is_rust(info)).count() >= 2)
        .collect();
    let titles: Vec<&str> = shapes.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles.len(),
        3,
        "three shapes with a before and an after: {titles:?}"
    );
    for shape in &shapes {
        let rust: Vec<&String> = shape
            .blocks
            .iter()
            .filter(|(info, _)| is_rust(info))
            .map(|(_, code)| code)
            .collect();
        let quoted: Vec<String> = shape
            .blocks
            .iter()
            .filter(|(info, _)| info == "text")
            .flat_map(|(_, text)| text.lines())
            .filter(|l| l.starts_with("warning["))
            .map(str::to_owned)
            .collect();
        let before = shown(rust[0]);
        let found = first_lines(&before);
        assert!(
            !found.is_empty(),
            "{}: the before code must be found",
            shape.title
        );
        assert_eq!(found, quoted, "{}: the quoted findings", shape.title);
        let after = shown(rust[rust.len() - 1]);
        assert_eq!(
            first_lines(&after),
            Vec::<String>::new(),
            "{}: the after code",
            shape.title
        );
    }
}

#[test]
fn the_workspace_readme_quotes_a_finding_of_the_guide() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("core/src/guide/migration.md")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let quoted: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("warning["))
        .collect();
    assert!(!quoted.is_empty(), "the README shows what the audit prints");
    for line in quoted {
        // The guide's quotes are checked against the audit's output above.
        assert!(
            guide.lines().any(|g| g == line),
            "README quotes a finding the guide does not: {line}"
        );
    }
}
