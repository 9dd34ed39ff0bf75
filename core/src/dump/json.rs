//! The dump's JSON, written by hand: the default build has no serde.

use std::fmt::Write;
use std::time::Duration;

use super::tree::TreeRow;
use super::ScopeDump;
use crate::cause::Cause;

pub(super) fn write(dump: &ScopeDump) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"{{"scopes":{},"tracking":{},"sites":["#,
        dump.total, !dump.tracking_off
    );
    for (i, group) in dump.groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"name":"#);
        string(&mut out, &group.name);
        out.push_str(r#","file":"#);
        string(&mut out, &group.file);
        let _ = write!(
            out,
            r#","line":{},"count":{},"cancelled":{},"oldest_seconds":{},"listed":["#,
            group.line,
            group.count,
            group.cancelled,
            seconds(group.oldest)
        );
        for (j, row) in group.rows.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(r#"{"key":"#);
            match &row.key {
                Some(key) => string(&mut out, key),
                None => out.push_str("null"),
            }
            let _ = write!(out, r#","age_seconds":{}"#, seconds(row.age));
            state(&mut out, row.cause, row.reason.as_deref());
            out.push('}');
        }
        let _ = write!(out, r#"],"unlisted":{}}}"#, group.count - group.rows.len());
    }
    out.push_str(r#"],"tree":["#);
    tree(&mut out, &dump.tree);
    let _ = write!(out, r#"],"tree_unlisted":{}}}"#, dump.tree_unlisted);
    out
}

/// `,"cause":..,"reason":..`.
fn state(out: &mut String, cause: Option<Cause>, reason: Option<&str>) {
    out.push_str(r#","cause":"#);
    match cause {
        Some(cause) => string(out, cause.label()),
        None => out.push_str("null"),
    }
    out.push_str(r#","reason":"#);
    match reason {
        Some(reason) => string(out, reason),
        None => out.push_str("null"),
    }
}

/// The tree's rows, nested by depth: each row's object is closed when the
/// next row is not deeper (its `children` closed first).
fn tree(out: &mut String, rows: &[TreeRow]) {
    let mut open: usize = 0; // objects left open, one per level
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            // Close the previous rows down to this row's parent.
            while open > row.depth {
                out.push_str("]}");
                open -= 1;
            }
            if open == row.depth && rows[i - 1].depth >= row.depth {
                out.push(',');
            }
        }
        out.push_str(r#"{"name":"#);
        string(out, &row.name);
        out.push_str(r#","file":"#);
        string(out, &row.file);
        let _ = write!(out, r#","line":{},"key":"#, row.line);
        match &row.key {
            Some(key) => string(out, key),
            None => out.push_str("null"),
        }
        let _ = write!(out, r#","age_seconds":{}"#, seconds(row.age));
        state(out, row.cause, row.reason.as_deref());
        let _ = write!(out, r#","shield":{},"children":["#, row.shield);
        open = row.depth + 1;
    }
    for _ in 0..open {
        out.push_str("]}");
    }
}

fn seconds(age: Duration) -> String {
    format!("{:.3}", age.as_secs_f64())
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters() {
        let mut out = String::new();
        super::string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }
}
