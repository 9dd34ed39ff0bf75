//! One source file: its text, its syntax tree, and text lookups by span.

use crate::nesting::{self, MAX_NESTING};
use proc_macro2::{LineColumn, Span};
use std::sync::OnceLock;

/// A file as read from disk (or handed in by a test).
pub struct Source {
    /// The path as the user will read it in diagnostics.
    pub display: String,
    /// The file's text.
    pub text: String,
}

/// A file that parsed.
pub struct Parsed {
    /// The file it came from.
    pub src: Source,
    /// Its syntax tree, test code removed unless tests are checked.
    pub ast: syn::File,
    /// Byte offset of each line's start, built on the first lookup.
    line_starts: OnceLock<Vec<usize>>,
}

/// A file that could not be read or parsed: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The path as given.
    pub file: String,
    /// 1-based line, or 0 when the file could not be read at all.
    pub line: usize,
    /// 1-based column, or 0 with `line`.
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

impl Source {
    /// Parses the file; a file that could nest deeper than the scan's
    /// stack allows is refused before `syn` sees it.
    pub fn parse(self) -> Result<Parsed, ParseError> {
        if let Some(at) = nesting::too_deep(&self.text) {
            let what = if at.brackets {
                "brackets nest"
            } else {
                "expressions or types nest (a chain of operators, method calls, `else if` or \
                 generics)"
            };
            return Err(ParseError {
                file: self.display.clone(),
                line: at.line,
                column: at.column,
                message: format!("{what} deeper than {MAX_NESTING} levels; not parsed"),
            });
        }
        match syn::parse_file(&self.text) {
            Ok(ast) => Ok(Parsed {
                src: self,
                ast,
                line_starts: OnceLock::new(),
            }),
            Err(e) => {
                let at = e.span().start();
                Err(ParseError {
                    file: self.display.clone(),
                    line: at.line,
                    column: at.column + 1,
                    message: e.to_string(),
                })
            }
        }
    }
}

impl Parsed {
    /// The 1-based line `line` without its line break.
    pub fn line(&self, line: usize) -> &str {
        let text = &self.src.text;
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let Some(&start) = starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = starts.get(line).map_or(text.len(), |&next| next - 1);
        text[start..end]
            .strip_suffix('\r')
            .unwrap_or(&text[start..end])
    }
}

/// A position as diagnostics count it: lines and columns from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in chars.
    pub column: usize,
}

impl From<LineColumn> for Pos {
    fn from(lc: LineColumn) -> Pos {
        Pos {
            line: lc.line,
            column: lc.column + 1,
        }
    }
}

/// Where a span starts and ends.
pub fn range(span: Span) -> (Pos, Pos) {
    (span.start().into(), span.end().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_by_number() {
        let p = Source {
            display: "a.rs".into(),
            text: "fn a() {}\r\n\nfn b() {}".into(),
        }
        .parse()
        .unwrap();
        assert_eq!(p.line(1), "fn a() {}");
        assert_eq!(p.line(2), "");
        assert_eq!(p.line(3), "fn b() {}");
        assert_eq!(p.line(4), "");
        assert_eq!(p.line(0), "");
    }
}
