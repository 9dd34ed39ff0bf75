//! A dump of the live scopes, grouped by site like a goroutine dump and
//! drawn as the tree they form: for a `/debug/scopes` page, a signal
//! handler, a support bundle, a hung test.
//!
//! ```text
//! 4 live scope(s) at 3 site(s)
//!
//! 2 × TaskGroup::spawn at src/jobs.rs:51, oldest 12.0s, 1 cancelled
//!     age 12.0s, live
//!     age 11.9s, cancelled (a parent token was cancelled) but not ended
//!
//! 1 × jobs::run at src/jobs.rs:42, oldest 12.3s
//!     key 7, age 12.3s, live
//!
//! 1 × TaskGroup::new at src/jobs.rs:50, oldest 12.1s
//!     age 12.1s, live
//!
//! scope tree:
//! - jobs::run (key 7) at src/jobs.rs:42, age 12.3s, live
//!   - TaskGroup::new at src/jobs.rs:50, age 12.1s, live
//!     - TaskGroup::spawn at src/jobs.rs:51, age 12.0s, live
//!     - TaskGroup::spawn at src/jobs.rs:51, age 11.9s, cancelled (a parent token was cancelled) but not ended
//! ```
//!
//! Sites come most scopes first (a leak is a site whose count keeps
//! growing), each listing its oldest scopes first, at most
//! [`LIST_PER_SITE`] of them. The tree puts each scope under its parent
//! (a group's tasks under the group), oldest first, marks shields, and
//! shows each cancelled scope's cause and reason; it lists at most
//! [`TREE_ROWS`] scopes, [`TREE_DEPTH`] deep. [`ScopeDump::json`] has the
//! same content.
//!
//! # Serve it to operators only
//!
//! A dump shows each scope's key (`Debug`-formatted: user ids, names,
//! whatever your keys hold), its fn's name, source paths and ages. Serve
//! `/debug/scopes` on an admin listener, not on the public one, and use
//! [`ScopeDump::redact_keys`] (or `tower::DebugScopes::redact_keys`)
//! where even operators should not see keys.
//! Both are plain strings built without any dependency; mount them with
//! [`respond`] (any HTTP stack) or, with the `tower` feature, the service
//! `scoped_cancel::tower::DebugScopes`.
//!
//! ```
//! use scoped_cancel::{dump::ScopeDump, Registry, Scope};
//!
//! static JOBS: Registry<u64> = Registry::new();
//! // One site (name, file, line), two scopes.
//! let _scopes: Vec<_> = (1..=2).map(|k| Scope::builder().name("jobs::run").enter(&JOBS, k).unwrap()).collect();
//!
//! let dump = ScopeDump::registry(&JOBS);
//! assert_eq!(dump.len(), 2);
//! assert!(dump.to_string().contains("2 × jobs::run at "));
//! assert!(dump.json().starts_with(r#"{"scopes":2,"tracking":true,"sites":[{"name":"jobs::run","#));
//! ```

mod json;
mod tree;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
use crate::facts::{write_state, Facts};
use crate::live::live_scopes;
use crate::registry::{Key, Registry};
use tree::TreeRow;

/// Scopes listed per site; the rest are counted, not listed.
pub const LIST_PER_SITE: usize = 50;

/// Scopes listed in the tree; the rest are counted, not listed.
pub const TREE_ROWS: usize = 1_000;

/// How deep the tree is drawn; deeper scopes are counted, not listed.
pub const TREE_DEPTH: usize = 64;

/// One scope in a site's list.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    key: Option<String>,
    age: Duration,
    cause: Option<Cause>,
    reason: Option<Arc<str>>,
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

/// A snapshot of live scopes, grouped by site and drawn as their tree;
/// `Display` is the text form, [`json`](ScopeDump::json) the JSON form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeDump {
    total: usize,
    groups: Vec<Group>,
    /// The scopes in tree order (each followed by its children, oldest
    /// first), with their depth.
    tree: Vec<TreeRow>,
    /// Scopes left out of the tree (over [`TREE_ROWS`] or [`TREE_DEPTH`]).
    tree_unlisted: usize,
    /// `false` when taken with no tracking on anywhere: an empty dump
    /// then says so instead of claiming that nothing is alive.
    tracking_off: bool,
}

impl ScopeDump {
    /// Every tracked scope in the process, as
    /// [`live::live_scopes`](crate::live::live_scopes) lists them
    /// (switch [`track_process`](crate::live::track_process) on, or
    /// instrument a runtime with a [`Collector`](crate::live::Collector)).
    /// With tracking off everywhere, the dump is empty and says so.
    pub fn tracked() -> ScopeDump {
        let mut dump = ScopeDump::build(
            live_scopes()
                .into_iter()
                .map(|scope| (scope.key().map(str::to_owned), scope.facts().clone())),
        );
        dump.tracking_off = !crate::live::is_recording();
        dump
    }

    /// The live scopes one [`Collector`](crate::live::Collector) recorded
    /// (one runtime's, one test's).
    pub fn collector(collector: &crate::live::Collector) -> ScopeDump {
        ScopeDump::build(
            collector
                .scopes()
                .into_iter()
                .map(|scope| (scope.key().map(str::to_owned), scope.facts().clone())),
        )
    }

    /// The live scopes of one registry (keys formatted with `Debug`).
    pub fn registry<K: Key>(registry: &Registry<K>) -> ScopeDump {
        ScopeDump::build(
            registry
                .report()
                .into_iter()
                .map(|info| (Some(format!("{:?}", info.key())), info.facts().clone())),
        )
    }

    /// The same dump with every key replaced by `<redacted>`: keys come
    /// from users (ids, names, tokens of theirs), so a dump served beyond
    /// an admin listener should not show them.
    pub fn redact_keys(mut self) -> ScopeDump {
        const REDACTED: &str = "<redacted>";
        let rows = self.groups.iter_mut().flat_map(|g| &mut g.rows);
        for key in rows.filter_map(|row| row.key.as_mut()) {
            *key = REDACTED.to_owned();
        }
        for key in self.tree.iter_mut().filter_map(|row| row.key.as_mut()) {
            *key = REDACTED.to_owned();
        }
        self
    }

    fn build(scopes: impl Iterator<Item = (Option<String>, Facts)>) -> ScopeDump {
        let scopes: Vec<(Option<String>, Facts)> = scopes.collect();
        let (tree, tree_unlisted) = tree::draw(&scopes);
        let mut groups: Vec<Group> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for (key, facts) in &scopes {
            let at = *index
                .entry((facts.name, facts.file, facts.line))
                .or_insert_with(|| {
                    groups.push(Group {
                        name: facts.name.to_owned(),
                        file: facts.file.to_owned(),
                        line: facts.line,
                        count: 0,
                        cancelled: 0,
                        oldest: Duration::ZERO,
                        rows: Vec::new(),
                    });
                    groups.len() - 1
                });
            let group = &mut groups[at];
            group.count += 1;
            group.cancelled += usize::from(facts.cause.is_some());
            group.oldest = group.oldest.max(facts.age);
            group.rows.push(Row {
                key: key.clone(),
                age: facts.age,
                cause: facts.cause,
                reason: facts.reason.clone(),
            });
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
        ScopeDump {
            total: scopes.len(),
            groups,
            tree,
            tree_unlisted,
            tracking_off: false,
        }
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

    /// The JSON form: `{"scopes":N,"tracking":bool,"sites":[{"name","file",
    /// "line","count","cancelled","oldest_seconds","listed":[{"key",
    /// "age_seconds","cause","reason"}],"unlisted"}],"tree":[{"name","file",
    /// "line","key","age_seconds","cause","reason","shield","children":[..]}],
    /// "tree_unlisted":N}`; `key`, `cause` and `reason` are `null` when
    /// absent, `cause` is snake_case (`requested`, `deadline`, ...).
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
        if self.tracking_off {
            f.write_str(
                " (tracking is off: no scope is recorded; call \
                 `scoped_cancel::live::track_process(true)` at start-up, or instrument \
                 the runtime with a `scoped_cancel::live::Collector`)",
            )?;
        }
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
                write_state(f, row.cause, row.reason.as_deref())?;
            }
            let unlisted = group.count - group.rows.len();
            if unlisted > 0 {
                write!(f, "\n    ... and {unlisted} more")?;
            }
        }
        tree::write_text(f, &self.tree, self.tree_unlisted)
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

    /// A scope of site `name` (file `src/{name}.rs`, line 3), aged `ms`.
    fn scope(
        name: &'static str,
        key: Option<&str>,
        ms: u64,
        cause: Option<Cause>,
        (id, parent): (usize, Option<usize>),
    ) -> (Option<String>, Facts) {
        let file: &'static str = Box::leak(format!("src/{name}.rs").into_boxed_str());
        let facts = Facts {
            name,
            file,
            line: 3,
            age: Duration::from_millis(ms),
            cause,
            reason: None,
            id,
            parent,
            shield: false,
        };
        (key.map(str::to_owned), facts)
    }

    fn sample() -> ScopeDump {
        ScopeDump::build(
            vec![
                scope("a", Some("1"), 10, None, (1, None)),
                scope("b", None, 500, None, (2, Some(1))),
                scope("a", Some("\"x\""), 2_000, Some(Cause::Requested), (3, None)),
            ]
            .into_iter(),
        )
    }

    #[test]
    fn groups_by_site_most_scopes_first_oldest_first_within_then_the_tree() {
        let text = sample().to_string();
        let expected = "3 live scope(s) at 2 site(s)\n\n\
            2 × a at src/a.rs:3, oldest 2.0s, 1 cancelled\n    \
            key \"x\", age 2.0s, cancelled (cancellation was requested) but not ended\n    \
            key 1, age 10.0ms, live\n\n\
            1 × b at src/b.rs:3, oldest 500.0ms\n    \
            age 500.0ms, live\n\n\
            scope tree:\n\
            - a (key \"x\") at src/a.rs:3, age 2.0s, cancelled (cancellation was requested) but not ended\n\
            - a (key 1) at src/a.rs:3, age 10.0ms, live\n  \
            - b at src/b.rs:3, age 500.0ms, live";
        assert_eq!(text, expected);
    }

    #[test]
    fn lists_at_most_the_limit_per_site_and_counts_the_rest() {
        let rows = (0..LIST_PER_SITE + 5).map(|i| scope("a", None, i as u64, None, (i + 1, None)));
        let dump = ScopeDump::build(rows);
        assert_eq!(dump.len(), LIST_PER_SITE + 5);
        assert_eq!(dump.groups[0].rows.len(), LIST_PER_SITE);
        assert!(dump.to_string().contains("... and 5 more\n"));
        assert!(dump.json().contains(r#""unlisted":5"#));
    }

    #[test]
    fn a_deep_chain_is_drawn_to_the_depth_limit_without_recursion() {
        let chain = 100_000;
        let rows = (1..=chain).map(|i| scope("c", None, 1, None, (i, (i > 1).then(|| i - 1))));
        let dump = ScopeDump::build(rows);
        assert_eq!(dump.tree.len(), TREE_DEPTH);
        assert_eq!(dump.tree_unlisted, chain - TREE_DEPTH);
        assert_eq!(dump.tree.last().unwrap().depth, TREE_DEPTH - 1);
        let json = dump.json();
        assert_eq!(json.matches('{').count(), json.matches('}').count());
        assert!(json.ends_with(&format!(r#"]}}],"tree_unlisted":{}}}"#, chain - TREE_DEPTH)));
    }

    #[test]
    fn json_has_every_field_nests_the_tree_and_escapes_keys() {
        let json = sample().json();
        assert_eq!(
            json,
            concat!(
                r#"{"scopes":3,"tracking":true,"sites":["#,
                r#"{"name":"a","file":"src/a.rs","line":3,"count":2,"cancelled":1,"oldest_seconds":2.000,"#,
                r#""listed":[{"key":"\"x\"","age_seconds":2.000,"cause":"requested","reason":null},"#,
                r#"{"key":"1","age_seconds":0.010,"cause":null,"reason":null}],"unlisted":0},"#,
                r#"{"name":"b","file":"src/b.rs","line":3,"count":1,"cancelled":0,"oldest_seconds":0.500,"#,
                r#""listed":[{"key":null,"age_seconds":0.500,"cause":null,"reason":null}],"unlisted":0}],"#,
                r#""tree":[{"name":"a","file":"src/a.rs","line":3,"key":"\"x\"","age_seconds":2.000,"#,
                r#""cause":"requested","reason":null,"shield":false,"children":[]},"#,
                r#"{"name":"a","file":"src/a.rs","line":3,"key":"1","age_seconds":0.010,"#,
                r#""cause":null,"reason":null,"shield":false,"children":["#,
                r#"{"name":"b","file":"src/b.rs","line":3,"key":null,"age_seconds":0.500,"#,
                r#""cause":null,"reason":null,"shield":false,"children":[]}]}],"tree_unlisted":0}"#
            )
        );
    }

    #[test]
    fn redacted_keys_are_gone_from_every_part() {
        let dump = sample().redact_keys();
        let (text, json) = (dump.to_string(), dump.json());
        assert!(
            !text.contains("\"x\"") && !json.contains(r#"\"x\""#),
            "{text}"
        );
        assert!(text.contains("key <redacted>"));
    }

    #[test]
    fn json_is_chosen_by_query_or_accept() {
        assert!(wants_json(Some("a=1&format=json"), None));
        assert!(wants_json(None, Some("text/html, application/json;q=0.9")));
        assert!(!wants_json(Some("format=text"), Some("text/plain")));
        assert!(!wants_json(None, None));
    }
}
