//! A dump of the live scopes, grouped by site, like a goroutine dump: for a
//! `/debug/scopes` page, a signal handler or a support bundle.
//!
//! ```text
//! 3 live scope(s) at 2 site(s)
//!
//! 2 × jobs::run at src/jobs.rs:42, oldest 12.3s, 1 cancelled
//!     key 7, age 12.3s, live
//!     key 9, age 1.0s, cancelled (requested) but not ended
//!
//! 1 × Scope::root at src/main.rs:10, oldest 1.2s
//!     age 1.2s, live
//! ```
//!
//! Sites come most scopes first (a leak is a site whose count keeps
//! growing), each listing its oldest scopes first, at most
//! [`LIST_PER_SITE`] of them. [`ScopeDump::json`] has the same content.
//! Both are plain strings built without any dependency; mount them with
//! [`respond`] (any HTTP stack) or, with the `tower` feature, the service
//! `scoped_cancel::tower::DebugScopes`.
//!
//! ```
//! use scoped_cancel::{dump::ScopeDump, Registry};
//!
//! static JOBS: Registry<u64> = Registry::new();
//! // One site (name, file, line), two scopes.
//! let _scopes: Vec<_> = (1..=2).map(|k| JOBS.enter_named(k, "jobs::run").unwrap()).collect();
//!
//! let dump = ScopeDump::registry(&JOBS);
//! assert_eq!(dump.len(), 2);
//! assert!(dump.to_string().contains("2 × jobs::run at "));
//! assert!(dump.json().starts_with(r#"{"scopes":2,"sites":[{"name":"jobs::run","#));
//! ```

mod json;

use std::fmt;
use std::time::Duration;

use crate::cause::Cause;
use crate::live::live_scopes;
use crate::registry::{Key, Registry};

/// Scopes listed per site; the rest are counted, not listed.
pub const LIST_PER_SITE: usize = 50;

/// One scope in a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    key: Option<String>,
    age: Duration,
    cause: Option<Cause>,
}

/// The live scopes of one site.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: String,
    file: String,
    line: u32,
    count: usize,
    cancelled: usize,
    oldest: Duration,
    /// The oldest [`LIST_PER_SITE`], oldest first.
    rows: Vec<Row>,
}

/// A snapshot of live scopes grouped by site; `Display` is the text form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeDump {
    total: usize,
    groups: Vec<Group>,
}

impl ScopeDump {
    /// Every tracked scope in the process, as
    /// [`live::live_scopes`](crate::live::live_scopes) lists them
    /// (switch [`track_process`](crate::live::track_process) on, or
    /// instrument a runtime with a [`Collector`](crate::live::Collector)).
    pub fn tracked() -> ScopeDump {
        ScopeDump::build(live_scopes().iter().map(|scope| {
            (
                (scope.name(), scope.file(), scope.line()),
                Row {
                    key: scope.key().map(str::to_owned),
                    age: scope.age(),
                    cause: scope.cause(),
                },
            )
        }))
    }

    /// The live scopes of one registry (keys formatted with `Debug`).
    pub fn registry<K: Key>(registry: &Registry<K>) -> ScopeDump {
        ScopeDump::build(registry.report().iter().map(|info| {
            (
                (info.name(), info.file(), info.line()),
                Row {
                    key: Some(format!("{:?}", info.key())),
                    age: info.age(),
                    cause: info.cause(),
                },
            )
        }))
    }

    fn build<'a>(scopes: impl Iterator<Item = ((&'a str, &'a str, u32), Row)>) -> ScopeDump {
        let mut groups: Vec<Group> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut total = 0;
        for ((name, file, line), row) in scopes {
            total += 1;
            let at = *index.entry((name, file, line)).or_insert_with(|| {
                groups.push(Group {
                    name: name.to_owned(),
                    file: file.to_owned(),
                    line,
                    count: 0,
                    cancelled: 0,
                    oldest: Duration::ZERO,
                    rows: Vec::new(),
                });
                groups.len() - 1
            });
            let group = &mut groups[at];
            group.count += 1;
            group.cancelled += usize::from(row.cause.is_some());
            group.oldest = group.oldest.max(row.age);
            group.rows.push(row);
        }
        for group in &mut groups {
            group.rows.sort_by_key(|row| std::cmp::Reverse(row.age));
            group.rows.truncate(LIST_PER_SITE);
        }
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.oldest.cmp(&a.oldest))
                .then_with(|| (&a.name, &a.file, a.line).cmp(&(&b.name, &b.file, b.line)))
        });
        ScopeDump { total, groups }
    }

    /// How many live scopes the dump counts.
    pub fn len(&self) -> usize {
        self.total
    }

    /// `true` if no scope was live.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many distinct sites (name, file, line) the scopes came from.
    pub fn sites(&self) -> usize {
        self.groups.len()
    }

    /// The JSON form: `{"scopes":N,"sites":[{"name","file","line","count",
    /// "cancelled","oldest_seconds","listed":[{"key","age_seconds","cause"}],
    /// "unlisted"}]}`; `key` and `cause` are `null` when absent, `cause` is
    /// snake_case (`requested`, `deadline`, ...).
    pub fn json(&self) -> String {
        json::write(self)
    }
}

impl fmt::Display for ScopeDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} live scope(s) at {} site(s)",
            self.total,
            self.groups.len()
        )?;
        for group in &self.groups {
            write!(
                f,
                "\n\n{} × {} at {}:{}, oldest {:.1?}",
                group.count, group.name, group.file, group.line, group.oldest
            )?;
            if group.cancelled > 0 {
                write!(f, ", {} cancelled", group.cancelled)?;
            }
            for row in &group.rows {
                f.write_str("\n    ")?;
                if let Some(key) = &row.key {
                    write!(f, "key {key}, ")?;
                }
                write!(f, "age {:.1?}, ", row.age)?;
                match &row.cause {
                    None => f.write_str("live")?,
                    Some(cause) => write!(f, "cancelled ({cause}) but not ended")?,
                }
            }
            let unlisted = group.count - group.rows.len();
            if unlisted > 0 {
                write!(f, "\n    ... and {unlisted} more")?;
            }
        }
        Ok(())
    }
}

/// A response for a `/debug/scopes` endpoint on any HTTP stack: the
/// [tracked](ScopeDump::tracked) scopes as text, or as JSON when the query
/// string has `format=json` or the `Accept` header asks for
/// `application/json`. Returns the content type and the body.
///
/// ```
/// let (content_type, body) = scoped_cancel::dump::respond(Some("format=json"), None);
/// assert_eq!(content_type, "application/json");
/// assert!(body.starts_with(r#"{"scopes":"#));
/// ```
pub fn respond(query: Option<&str>, accept: Option<&str>) -> (&'static str, String) {
    let dump = ScopeDump::tracked();
    if wants_json(query, accept) {
        ("application/json", dump.json())
    } else {
        ("text/plain; charset=utf-8", dump.to_string())
    }
}

/// `format=json` in the query, or `application/json` accepted.
pub(crate) fn wants_json(query: Option<&str>, accept: Option<&str>) -> bool {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.eq_ignore_ascii_case("format=json"))
    });
    let in_accept = accept.is_some_and(|a| {
        a.split(',').any(|part| {
            part.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    });
    in_query || in_accept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: Option<&str>, ms: u64, cause: Option<Cause>) -> Row {
        Row {
            key: key.map(str::to_owned),
            age: Duration::from_millis(ms),
            cause,
        }
    }

    fn sample() -> ScopeDump {
        ScopeDump::build(
            vec![
                (("a", "src/a.rs", 3), row(Some("1"), 10, None)),
                (("b", "src/b.rs", 9), row(None, 500, None)),
                (
                    ("a", "src/a.rs", 3),
                    row(Some("\"x\""), 2_000, Some(Cause::Requested)),
                ),
            ]
            .into_iter(),
        )
    }

    #[test]
    fn groups_by_site_most_scopes_first_oldest_first_within() {
        let text = sample().to_string();
        let expected = "3 live scope(s) at 2 site(s)\n\n\
            2 × a at src/a.rs:3, oldest 2.0s, 1 cancelled\n    \
            key \"x\", age 2.0s, cancelled (cancellation was requested) but not ended\n    \
            key 1, age 10.0ms, live\n\n\
            1 × b at src/b.rs:9, oldest 500.0ms\n    \
            age 500.0ms, live";
        assert_eq!(text, expected);
    }

    #[test]
    fn lists_at_most_the_limit_per_site_and_counts_the_rest() {
        let rows = (0..LIST_PER_SITE as u64 + 5).map(|i| (("a", "f", 1), row(None, i, None)));
        let dump = ScopeDump::build(rows);
        assert_eq!(dump.len(), LIST_PER_SITE + 5);
        assert_eq!(dump.groups[0].rows.len(), LIST_PER_SITE);
        assert!(dump.to_string().ends_with("... and 5 more"));
        assert!(dump.json().contains(r#""unlisted":5"#));
    }

    #[test]
    fn json_has_every_field_and_escapes_keys() {
        let json = sample().json();
        assert_eq!(
            json,
            concat!(
                r#"{"scopes":3,"sites":["#,
                r#"{"name":"a","file":"src/a.rs","line":3,"count":2,"cancelled":1,"oldest_seconds":2.000,"#,
                r#""listed":[{"key":"\"x\"","age_seconds":2.000,"cause":"requested"},"#,
                r#"{"key":"1","age_seconds":0.010,"cause":null}],"unlisted":0},"#,
                r#"{"name":"b","file":"src/b.rs","line":9,"count":1,"cancelled":0,"oldest_seconds":0.500,"#,
                r#""listed":[{"key":null,"age_seconds":0.500,"cause":null}],"unlisted":0}]}"#
            )
        );
    }

    #[test]
    fn json_is_chosen_by_query_or_accept() {
        assert!(wants_json(Some("a=1&format=json"), None));
        assert!(wants_json(None, Some("text/html, application/json;q=0.9")));
        assert!(!wants_json(Some("format=text"), Some("text/plain")));
        assert!(!wants_json(None, None));
    }
}
