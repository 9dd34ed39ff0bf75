//! Findings, and their two renderings: rustc-style text and JSON lines.

use crate::source::{Parsed, Pos};
use std::fmt::Write as _;

/// The checks, by the id users write and filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    TokenInCollection,
    UnguardedInsert,
    /// A `scoped-cancel-audit: allow(..)` comment with no reason.
    AllowWithoutReason,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Rule::TokenInCollection => "token-in-collection",
            Rule::UnguardedInsert => "unguarded-insert",
            Rule::AllowWithoutReason => "allow-without-reason",
        }
    }
}

/// One thing found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub file: String,
    pub rule: Rule,
    pub start: Pos,
    /// Where the underlined span ends (exclusive column).
    pub end: Pos,
    pub message: String,
    /// First line: what to do; further lines: the rewrite, as code.
    pub help: Vec<String>,
    /// The source line at `start`, for the snippet.
    pub source_line: String,
    /// Lines whose preceding comment block may hold an allow comment: the
    /// finding's item (field, static, fn) besides the finding's own line.
    pub anchors: Vec<usize>,
}

impl Finding {
    pub fn new(file: &Parsed, rule: Rule, span: proc_macro2::Span, message: String) -> Finding {
        let (start, end) = crate::source::range(span);
        Finding {
            file: file.src.display.clone(),
            rule,
            start,
            end,
            message,
            help: Vec::new(),
            source_line: file.line(start.line).to_owned(),
            anchors: Vec::new(),
        }
    }
}

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// A finding as rustc prints a lint:
///
/// ```text
/// warning[token-in-collection]: ...
///   --> src/state.rs:12:11
///    |
/// 12 |     jobs: DashMap<String, CancellationToken>,
///    |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
///    |
///    = help: ...
/// ```
pub fn human(f: &Finding, deny: bool) -> String {
    let level = if deny { "error" } else { "warning" };
    let num = f.start.line.to_string();
    let pad = " ".repeat(num.len());
    let mut out = String::new();
    let _ = writeln!(out, "{level}[{}]: {}", f.rule.id(), f.message);
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        f.file, f.start.line, f.start.column
    );
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{num} | {}", f.source_line);
    let _ = writeln!(out, "{pad} | {}", carets(f));
    if let Some((first, code)) = f.help.split_first() {
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{pad} = help: {first}");
        for line in code {
            if line.is_empty() {
                let _ = writeln!(out);
            } else {
                let _ = writeln!(out, "{pad}         {line}");
            }
        }
    }
    out
}

/// Spaces (tabs kept, so the caret lines up) then `^` under the span; a span
/// running past its first line is underlined to that line's end.
fn carets(f: &Finding) -> String {
    let chars: Vec<char> = f.source_line.chars().collect();
    let from = f.start.column.saturating_sub(1).min(chars.len());
    let to = if f.end.line == f.start.line {
        f.end.column.saturating_sub(1).min(chars.len())
    } else {
        chars.len() - chars.iter().rev().take_while(|c| c.is_whitespace()).count()
    };
    let mut out: String = chars[..from]
        .iter()
        .map(|&c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    out.push_str(&"^".repeat(to.saturating_sub(from).max(1)));
    out
}

/// One JSON object: `{"file", "line", "column", "rule", "message"}`.
pub fn json(f: &Finding) -> String {
    format!(
        "{{\"file\":{},\"line\":{},\"column\":{},\"rule\":{},\"message\":{}}}",
        json_str(&f.file),
        f.start.line,
        f.start.column,
        json_str(f.rule.id()),
        json_str(&f.message)
    )
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: &str, start: usize, end: usize) -> Finding {
        Finding {
            file: "src/a \"b\".rs".into(),
            rule: Rule::TokenInCollection,
            start: Pos {
                line: 7,
                column: start,
            },
            end: Pos {
                line: 7,
                column: end,
            },
            message: "msg\twith tab".into(),
            help: vec!["do this:".into(), "code();".into()],
            source_line: line.into(),
            anchors: vec![],
        }
    }

    #[test]
    fn human_lines_up_the_caret_under_tabs_and_text() {
        let f = finding("\tjobs: Vec<T>,", 8, 14);
        let out = human(&f, true);
        assert_eq!(
            out,
            "error[token-in-collection]: msg\twith tab\n \
             --> src/a \"b\".rs:7:8\n  |\n7 | \tjobs: Vec<T>,\n  | \t      ^^^^^^\n  |\n  \
             = help: do this:\n          code();\n"
        );
    }

    #[test]
    fn json_escapes() {
        let f = finding("x", 1, 2);
        assert_eq!(
            json(&f),
            r#"{"file":"src/a \"b\".rs","line":7,"column":1,"rule":"token-in-collection","message":"msg\twith tab"}"#
        );
    }
}
