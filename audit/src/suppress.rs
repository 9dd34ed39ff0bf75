//! `// scoped-cancel-audit: allow(<reason>)` comments.
//!
//! An allow comment silences the findings on its own line, or on the item
//! (field, static, fn, statement) right below it: it may sit anywhere in the
//! run of comment and attribute lines directly above. The reason is required,
//! so that a reader learns why the pattern is not a leak; an allow without one
//! silences nothing and is itself reported.

use crate::diag::{Finding, Rule};
use crate::source::Pos;

const MARKER: &str = "scoped-cancel-audit: allow(";

/// The allow comments of one file.
pub struct Allows<'t> {
    lines: Vec<&'t str>,
    /// 1-based lines that have an allow with a reason, ascending.
    valid: Vec<usize>,
    /// Allows without a reason: (line, column of the marker).
    bad: Vec<(usize, usize)>,
}

impl<'t> Allows<'t> {
    pub fn scan(text: &'t str) -> Allows<'t> {
        let mut allows = Allows {
            lines: Vec::new(),
            valid: Vec::new(),
            bad: Vec::new(),
        };
        if !text.contains(MARKER) {
            return allows;
        }
        allows.lines = text.lines().collect();
        for (i, line) in allows.lines.iter().enumerate() {
            let Some(comment) = line.find("//") else {
                continue;
            };
            let Some(at) = line[comment..].find(MARKER).map(|a| a + comment) else {
                continue;
            };
            let rest = &line[at + MARKER.len()..];
            let reason = rest.rfind(')').map_or("", |end| rest[..end].trim());
            if reason.is_empty() {
                allows.bad.push((i + 1, line[..at].chars().count() + 1));
            } else {
                allows.valid.push(i + 1);
            }
        }
        allows
    }

    /// Whether an allow with a reason covers `f`.
    pub fn covers(&self, f: &Finding) -> bool {
        if self.valid.is_empty() {
            return false;
        }
        std::iter::once(f.start.line)
            .chain(f.anchors.iter().copied())
            .any(|line| self.covers_line(line))
    }

    fn covers_line(&self, line: usize) -> bool {
        if self.valid.binary_search(&line).is_ok() {
            return true;
        }
        let mut above = line.saturating_sub(1);
        while above >= 1 {
            let text = self.lines.get(above - 1).map_or("", |l| l.trim_start());
            if !(text.starts_with("//") || text.starts_with("#[") || text.starts_with("#![")) {
                return false;
            }
            if self.valid.binary_search(&above).is_ok() {
                return true;
            }
            above -= 1;
        }
        false
    }

    /// The allow comments that lack a reason, as findings.
    pub fn without_reason(&self, file: &str) -> Vec<Finding> {
        self.bad
            .iter()
            .map(|&(line, column)| {
                let source_line = self.lines[line - 1].to_owned();
                let end = column + MARKER.len() + 1;
                Finding {
                    file: file.to_owned(),
                    rule: Rule::AllowWithoutReason,
                    start: Pos { line, column },
                    end: Pos { line, column: end },
                    message: "this allow comment has no reason, so it silences nothing".into(),
                    help: vec![
                        "say why this is not a leak, e.g.:".into(),
                        format!("// {MARKER}entries are removed by Reaper::sweep every 10s)"),
                    ],
                    source_line,
                    anchors: Vec::new(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, anchors: Vec<usize>) -> Finding {
        Finding {
            file: "f.rs".into(),
            rule: Rule::TokenInCollection,
            start: Pos { line, column: 1 },
            end: Pos { line, column: 2 },
            message: String::new(),
            help: vec![],
            source_line: String::new(),
            anchors,
        }
    }

    /// Written with `ALLOW` for the marker, so that this file holds none.
    const SRC: &str = "\
struct A {
    // ALLOW(swept by the reaper)
    #[serde(skip)]
    a: Vec<T>,
    b: Vec<T>, // ALLOW(test fixture)
    c: Vec<T>, // ALLOW()

    d: Vec<T>,
}
// ALLOW(one per process)
fn f() {
    x.insert(1, t);
}
";

    fn src() -> String {
        SRC.replace("ALLOW(", MARKER)
    }

    #[test]
    fn covers_own_line_and_the_comment_block_above() {
        let src = src();
        let allows = Allows::scan(&src);
        assert!(
            allows.covers(&at(4, vec![])),
            "block above, through an attribute"
        );
        assert!(allows.covers(&at(5, vec![])), "trailing comment");
        assert!(!allows.covers(&at(6, vec![])), "no reason");
        assert!(
            !allows.covers(&at(8, vec![])),
            "a blank line ends the block"
        );
        assert!(!allows.covers(&at(12, vec![])), "not directly above");
        assert!(
            allows.covers(&at(12, vec![11])),
            "above the fn that holds it"
        );
    }

    #[test]
    fn reports_allows_without_reason() {
        let src = src();
        let bad = Allows::scan(&src).without_reason("f.rs");
        assert_eq!(bad.len(), 1);
        assert_eq!((bad[0].start.line, bad[0].start.column), (6, 19));
        assert_eq!(bad[0].rule, Rule::AllowWithoutReason);
    }
}
