//! Findings, and their renderings: rustc-style text and JSON lines (SARIF
//! is in `sarif.rs`).

use crate::source::{Parsed, Pos};
use std::fmt::Write as _;

/// The checks, by the id users write and filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A collection whose elements hold a cancellation token.
    TokenInCollection,
    /// An insert whose removal is not guaranteed on every exit.
    UnguardedInsert,
    /// A `scoped_cancel` token kept from a scope that ends with its statement.
    ScopeDroppedAtOnce,
    /// A `scoped-cancel-audit: allow(..)` comment with no reason.
    AllowWithoutReason,
}

impl Rule {
    /// Every rule, in the order help and SARIF list them.
    pub const ALL: [Rule; 4] = [
        Rule::TokenInCollection,
        Rule::UnguardedInsert,
        Rule::ScopeDroppedAtOnce,
        Rule::AllowWithoutReason,
    ];

    /// The id users write and filter on.
    pub fn id(self) -> &'static str {
        match self {
            Rule::TokenInCollection => "token-in-collection",
            Rule::UnguardedInsert => "unguarded-insert",
            Rule::ScopeDroppedAtOnce => "scope-dropped-at-once",
            Rule::AllowWithoutReason => "allow-without-reason",
        }
    }

    /// One line on what the rule finds.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::TokenInCollection => {
                "A collection whose elements hold a tokio_util CancellationToken (or a DropGuard \
                 of one): an entry nobody removes keeps its token, and every task waiting on \
                 it, alive."
            }
            Rule::UnguardedInsert => {
                "A cancellation token inserted into a long-lived collection whose removal is not \
                 guaranteed on every exit: it comes after an .await, a ? or a return, or lives \
                 in another fn, and no guard's Drop does it."
            }
            Rule::ScopeDroppedAtOnce => {
                "A scoped_cancel token taken from a scope that is a temporary of the same \
                 statement (Token::new().into_scope().token(), Scope::root().token(), \
                 REGISTRY.enter(key)?.token()) and kept beyond it: the scope ends with the \
                 statement, so the token is already cancelled."
            }
            Rule::AllowWithoutReason => {
                "A scoped-cancel-audit allow comment that gives no reason silences nothing."
            }
        }
    }
}

/// One thing found.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The file, as given.
    pub file: String,
    /// The check that found it.
    pub rule: Rule,
    /// Where the underlined span starts.
    pub start: Pos,
    /// Where the underlined span ends (exclusive column).
    pub end: Pos,
    /// What is wrong, in one sentence.
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
    /// A finding at `span` of `file`, with no help yet.
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
    /// rustc-style diagnostics.
    Human,
    /// One JSON object per line.
    Json,
    /// One SARIF 2.1.0 document.
    Sarif,
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
    let _ = writeln!(out, "{level}[{}]: {}", f.rule.id(), escape(&f.message));
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        escape(&f.file),
        f.start.line,
        f.start.column
    );
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{num} | {}", escape(&f.source_line));
    let _ = writeln!(out, "{pad} | {}", carets(f));
    if let Some((first, code)) = f.help.split_first() {
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{pad} = help: {}", escape(first));
        for line in code {
            if line.is_empty() {
                let _ = writeln!(out);
            } else {
                let _ = writeln!(out, "{pad}         {}", escape(line));
            }
        }
    }
    out
}

/// How the human format prints a char, when not as itself: control
/// characters (but tab) and the bidirectional overrides, which could move
/// the cursor, clear the screen or make a terminal show other code than
/// the file holds, become `\u{..}` escapes.
fn escaped(c: char) -> Option<String> {
    let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if (c.is_control() && c != '\t') || bidi {
        Some(c.escape_unicode().to_string())
    } else {
        None
    }
}

/// `text` as the human format prints it: control characters (but tab) and
/// bidirectional overrides as `\u{..}` escapes.
pub fn escape(text: &str) -> String {
    if !text.chars().any(|c| escaped(c).is_some()) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match escaped(c) {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
    }
    out
}

/// Spaces (tabs kept, so the caret lines up) then `^` under the span; a span
/// running past its first line is underlined to that line's end. Widths are
/// those of the escaped line.
fn carets(f: &Finding) -> String {
    let chars: Vec<char> = f.source_line.chars().collect();
    let width = |c: &char| escaped(*c).map_or(1, |e| e.chars().count());
    let from = f.start.column.saturating_sub(1).min(chars.len());
    let to = if f.end.line == f.start.line {
        f.end.column.saturating_sub(1).min(chars.len())
    } else {
        chars.len() - chars.iter().rev().take_while(|c| c.is_whitespace()).count()
    };
    let mut out = String::new();
    for c in &chars[..from] {
        if *c == '\t' {
            out.push('\t');
        } else {
            out.push_str(&" ".repeat(width(c)));
        }
    }
    let under: usize = chars[from..to.max(from)].iter().map(width).sum();
    out.push_str(&"^".repeat(under.max(1)));
    out
}

/// One JSON object: `{"file", "line", "column", "rule", "message"}`, in
/// that order.
pub fn json(f: &Finding) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        file: &'a str,
        line: usize,
        column: usize,
        rule: &'a str,
        message: &'a str,
    }
    let line = Line {
        file: &f.file,
        line: f.start.line,
        column: f.start.column,
        rule: f.rule.id(),
        message: &f.message,
    };
    serde_json::to_string(&line).unwrap_or_default()
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
    fn control_characters_are_escaped_and_the_caret_follows() {
        let f = finding("\u{1b}[31mjobs: Vec<T>,", 12, 18);
        let out = human(&f, false);
        assert!(out.contains("7 | \\u{1b}[31mjobs: Vec<T>,\n"), "{out}");
        // `\u{1b}` is six columns wide where the file has one char.
        assert!(
            out.contains(&format!("\n  | {}^^^^^^\n", " ".repeat(16))),
            "{out}"
        );
        assert_eq!(escape("a\u{202e}b\tc"), "a\\u{202e}b\tc");
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
