//! The dump's JSON, written by hand: the default build has no serde.

use std::fmt::Write;
use std::time::Duration;

use super::ScopeDump;

pub(super) fn write(dump: &ScopeDump) -> String {
    let mut out = String::new();
    let _ = write!(out, r#"{{"scopes":{},"sites":["#, dump.total);
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
            let _ = write!(out, r#","age_seconds":{},"cause":"#, seconds(row.age));
            match &row.cause {
                Some(cause) => string(&mut out, cause.label()),
                None => out.push_str("null"),
            }
            out.push('}');
        }
        let _ = write!(out, r#"],"unlisted":{}}}"#, group.count - group.rows.len());
    }
    out.push_str("]}");
    out
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
