//! Guides: how the pieces fit, with examples that are compiled and run as
//! tests. The API reference is on each item; these pages answer the
//! question after "how do I call it".
//!
//! | page | for |
//! | --- | --- |
//! | [`policies`] | a registry of keyed scopes: cancel by id, list, shut down; refuse, replace or wait when a key is taken |
//! | [`nesting`] | the current scope, nested calls, deadlines, causes and reasons |
//! | [`structured`] | task groups, shields, eager starts, callbacks on cancel, links |
//! | [`servers`] | a scope per request with tower, axum, tonic and hyper (feature `tower`) |
//! | [`production`] | tracing, metrics, a watchdog, the live-scope dump |
//! | [`testing`] | leak tests: `#[scoped_cancel::test]`, `LeakCheck` |
//! | [`cluster`] | one registry across processes (`scoped-cancel-redis`) |
//! | [`migration`] | from what `scoped-cancel-audit` reports to the fix |
//! | [`guarantees`] | what is promised, and the test that proves each |
//! | [`limits`] | what the types cannot catch, and the compiler errors you will meet |
//!
//! These modules hold documentation only.

#[doc = include_str!("policies.md")]
pub mod policies {}

#[doc = include_str!("nesting.md")]
pub mod nesting {}

#[doc = include_str!("structured.md")]
pub mod structured {}

#[cfg_attr(feature = "tower", doc = include_str!("servers.md"))]
#[cfg_attr(
    not(feature = "tower"),
    doc = "A scope per request with tower: this page needs the `tower` feature \
           (`cargo doc --features tower`)."
)]
pub mod servers {}

#[doc = include_str!("production.md")]
pub mod production {}

#[doc = include_str!("testing.md")]
pub mod testing {}

#[doc = include_str!("cluster.md")]
pub mod cluster {}

#[doc = include_str!("migration.md")]
pub mod migration {}

#[doc = include_str!("guarantees.md")]
pub mod guarantees {}

#[doc = include_str!("limits.md")]
pub mod limits {}
