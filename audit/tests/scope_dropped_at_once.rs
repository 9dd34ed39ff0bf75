//! Rule `scope-dropped-at-once` on a fixture that is also compiled and run:
//! the audit reports exactly the lines whose token is already cancelled.

#[path = "fixtures/scope_dropped.rs"]
mod fixture;

use scoped_cancel::Cause;
use scoped_cancel_audit::audit_sources;
use scoped_cancel_audit::diag::Rule;

const SOURCE: &str = include_str!("fixtures/scope_dropped.rs");

/// The 1-based lines marked `// dead` in the fixture.
fn marked() -> Vec<usize> {
    SOURCE
        .lines()
        .enumerate()
        .filter(|(_, line)| line.ends_with("// dead"))
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn the_audit_reports_exactly_the_tokens_of_dropped_scopes() {
    let out = audit_sources(vec![("src/shapes.rs".into(), SOURCE.into())]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let found: Vec<usize> = out.findings.iter().map(|f| f.start.line).collect();
    assert!(
        out.findings
            .iter()
            .all(|f| f.rule == Rule::ScopeDroppedAtOnce),
        "{:#?}",
        out.findings
    );
    assert_eq!(found, marked());
    assert!(out.findings[0]
        .message
        .contains("`a` holds a token that is already cancelled"));
    assert!(out.findings.iter().any(|f| f
        .message
        .ends_with("(and the key it entered is free again)")));
}

#[test]
fn the_reported_tokens_are_cancelled_and_the_kept_ones_are_live() {
    let dead = fixture::dead();
    assert_eq!(dead.len(), marked().len(), "one token per marked line");
    for token in &dead {
        assert!(token.is_cancelled(), "{token:?}");
        assert!(matches!(
            token.cause(),
            Some(Cause::ScopeExited | Cause::Parent)
        ));
    }
    assert!(
        fixture::JOBS.is_empty(),
        "the keys entered at once are free"
    );
    let (scopes, tokens, cancelled_at_once) = fixture::alive();
    assert!(
        !cancelled_at_once,
        "used within its statement, the token was live"
    );
    assert!(tokens.iter().all(|t| !t.is_cancelled()));
    drop(scopes);
    assert!(tokens.iter().all(|t| t.is_cancelled()));
}

#[test]
fn the_rule_is_listed_with_the_others() {
    assert!(Rule::ALL.contains(&Rule::ScopeDroppedAtOnce));
    assert_eq!(Rule::ScopeDroppedAtOnce.id(), "scope-dropped-at-once");
}
