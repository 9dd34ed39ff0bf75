//! SARIF 2.1.0 output: one run, one result per finding, so that code-scanning
//! UIs show the findings inline. Files that could not be read or parsed are
//! tool notifications of the run's invocation, which then did not succeed.

use crate::diag::{Finding, Rule};
use crate::source::ParseError;
use serde_json::{json, Value};
use std::path::{Component, Path};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFO_URI: &str = "https://docs.rs/scoped-cancel-audit";

/// The whole document.
pub fn document(findings: &[Finding], errors: &[ParseError], deny: bool) -> Value {
    let level = if deny { "error" } else { "warning" };
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": { "text": r.summary() },
                "fullDescription": { "text": r.summary() },
                "helpUri": format!("{INFO_URI}#{}", r.id()),
                "help": { "text": r.summary() },
                "defaultConfiguration": { "level": level },
            })
        })
        .collect();
    let results: Vec<Value> = findings.iter().map(|f| result(f, level)).collect();
    let notifications: Vec<Value> = errors
        .iter()
        .map(|e| {
            let mut n = json!({
                "level": "error",
                "message": { "text": e.message },
            });
            if !e.file.is_empty() {
                let mut physical = json!({ "artifactLocation": { "uri": uri(&e.file) } });
                if e.line > 0 {
                    physical["region"] = json!({ "startLine": e.line, "startColumn": e.column });
                }
                n["locations"] = json!([{ "physicalLocation": physical }]);
            }
            n
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "scoped-cancel-audit",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": INFO_URI,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    })
}

fn result(f: &Finding, level: &str) -> Value {
    let index = Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0);
    let mut text = f.message.clone();
    if let Some((first, code)) = f.help.split_first() {
        text.push_str("\nhelp: ");
        text.push_str(first);
        for line in code {
            text.push_str("\n    ");
            text.push_str(line);
        }
    }
    json!({
        "ruleId": f.rule.id(),
        "ruleIndex": index,
        "level": level,
        "message": { "text": text },
        "locations": [{ "physicalLocation": {
            "artifactLocation": { "uri": uri(&f.file) },
            "region": {
                "startLine": f.start.line,
                "startColumn": f.start.column,
                "endLine": f.end.line,
                "endColumn": f.end.column.max(f.start.column + 1),
                "snippet": { "text": f.source_line },
            },
        }}],
    })
}

/// A file path as a URI reference: relative paths stay relative (code
/// scanning resolves them against the checkout), `./` is dropped, `\` becomes
/// `/`, and what a URI cannot hold is percent-encoded.
fn uri(file: &str) -> String {
    let path = Path::new(file);
    let mut out = String::new();
    if path.is_absolute() {
        out.push_str("file://");
    }
    let mut first = true;
    for c in path.components() {
        let part = match c {
            Component::CurDir => continue,
            Component::RootDir => {
                out.push('/');
                first = true;
                continue;
            }
            Component::Prefix(p) => p.as_os_str().to_string_lossy().replace('\\', "/"),
            Component::ParentDir => "..".to_owned(),
            Component::Normal(n) => n.to_string_lossy().into_owned(),
        };
        if !first {
            out.push('/');
        }
        first = false;
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(uri("./src/lib.rs"), "src/lib.rs");
        assert_eq!(uri("src/a b#%.rs"), "src/a%20b%23%25.rs");
        assert_eq!(uri("/tmp/x/lib.rs"), "file:///tmp/x/lib.rs");
        assert_eq!(uri("../up/é.rs"), "../up/%C3%A9.rs");
    }
}
