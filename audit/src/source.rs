//! One source file: its text, its syntax tree, and text lookups by span.

use proc_macro2::{LineColumn, Span};

/// A file as read from disk (or handed in by a test).
pub struct Source {
    /// The path as the user will read it in diagnostics.
    pub display: String,
    pub text: String,
}

/// A file that parsed.
pub struct Parsed {
    pub src: Source,
    pub ast: syn::File,
}

/// A file that did not parse: where and why.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Deeper bracket nesting than this is refused rather than parsed: parsing
/// and visiting recurse, and only machine-made files nest this deep.
const MAX_NESTING: usize = 4096;

impl Source {
    pub fn parse(self) -> Result<Parsed, ParseError> {
        if let Some(line) = too_deep(&self.text) {
            return Err(ParseError {
                file: self.display.clone(),
                line,
                column: 1,
                message: format!("brackets nest deeper than {MAX_NESTING}; not parsed"),
            });
        }
        match syn::parse_file(&self.text) {
            Ok(ast) => Ok(Parsed { src: self, ast }),
            Err(e) => {
                let at = e.span().start();
                let err = ParseError {
                    file: self.display.clone(),
                    line: at.line,
                    column: at.column + 1,
                    message: e.to_string(),
                };
                Err(err)
            }
        }
    }
}

/// The line where bracket nesting first exceeds `MAX_NESTING` (a rough count
/// that ignores strings and comments: it only has to spot the extreme).
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1);
    for b in text.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    None
}

impl Parsed {
    /// The 1-based line `line` without its line break.
    pub fn line(&self, line: usize) -> &str {
        self.src
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
    }
}

/// A position as diagnostics count it: lines and columns from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
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
