//! Registry wrappers: a fn that stores a token and a separate fn that
//! removes it. The wrapper's callers in the scanned code decide.

mod common;
use common::found_with_messages;

/// A registry type with a `start`/`finish` pair, written for these tests.
const REGISTRY: &str = "
use std::collections::HashMap;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

pub struct Runs {
    live: Mutex<HashMap<u32, CancellationToken>>,
}

impl Runs {
    pub fn start(&self, run: u32) -> CancellationToken {
        let t = CancellationToken::new();
        self.live.lock().unwrap().insert(run, t.clone());
        t
    }

    pub fn finish(&self, run: u32) {
        self.live.lock().unwrap().remove(&run);
    }
}
";

/// Unguarded-insert findings, as `file:line:col message`.
fn inserts(files: &[(&str, &str)]) -> Vec<String> {
    found_with_messages(files)
        .into_iter()
        .filter(|f| f.starts_with("unguarded-insert "))
        .map(|f| f["unguarded-insert ".len()..].to_owned())
        .collect()
}

#[test]
fn a_wrapper_without_callers_is_reported_at_its_insert_naming_the_remover() {
    let got = inserts(&[("src/runs.rs", REGISTRY)]);
    assert_eq!(
        got,
        [
            "src/runs.rs:13:35 the cancellation token stored in `live` here is not removed by \
          this fn but only by `finish` (line 17): a caller of `start` that returns early, \
          panics or is dropped before that leaves the entry and its token behind"
        ]
    );
}

#[test]
fn callers_that_pair_start_with_finish_on_every_exit_are_fine() {
    let caller = "
use crate::runs::Runs;
pub fn job(runs: &Runs, run: u32) {
    let token = runs.start(run);
    let n = compute(&token);
    runs.finish(run);
}
pub struct Server { runs: std::sync::Arc<Runs> }
impl Server {
    pub fn handle(&self, run: u32) {
        let _t = self.runs.start(run);
        self.runs.finish(run);
    }
}
";
    assert_eq!(
        inserts(&[("src/runs.rs", REGISTRY), ("src/job.rs", caller)]),
        Vec::<String>::new()
    );
}

#[test]
fn a_caller_that_awaits_or_forgets_before_finish_is_reported_where_it_calls() {
    let caller = "
use crate::runs::Runs;
pub async fn job(runs: &Runs, run: u32) {
    let token = runs.start(run);
    work(token).await;
    runs.finish(run);
}
pub fn fire_and_forget(runs: &Runs, run: u32) -> CancellationToken {
    runs.start(run)
}
";
    let got = inserts(&[("src/runs.rs", REGISTRY), ("src/job.rs", caller)]);
    assert_eq!(
        got,
        [
            "src/job.rs:4:22 `start` stores a cancellation token in `live` that only `finish` \
             (line 17) removes, and this fn calls `finish` on line 6 only if it gets past the \
             `.await` on line 5: dropping the future there (an abort, a timeout, a lost \
             `select!` branch) skips the removal",
            "src/job.rs:9:10 `start` stores a cancellation token in `live` that only `finish` \
             (line 17) removes, and this fn does not remove it afterwards nor hand it to a \
             guard: an early return, a panic or a dropped future leaves the entry and its \
             token behind",
        ]
    );
}

#[test]
fn handing_the_result_to_a_removing_guard_is_fine() {
    let guard = "
use crate::runs::Runs;
pub struct Finish<'a> { runs: &'a Runs, run: u32 }
impl Drop for Finish<'_> {
    fn drop(&mut self) { self.runs.finish(self.run); }
}
pub async fn job(runs: &Runs, run: u32) {
    let token = runs.start(run);
    let _done = Finish { runs, run };
    work(token).await;
}
";
    assert_eq!(
        inserts(&[("src/runs.rs", REGISTRY), ("src/guard.rs", guard)]),
        Vec::<String>::new()
    );
}

#[test]
fn a_wrapper_that_returns_the_removing_guard_itself_is_fine() {
    let src = "
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;
pub struct Table { m: parking_lot::Mutex<HashMap<u8, CancellationToken>> }
pub struct Lease<'a> { table: &'a Table, key: u8 }
impl Table {
    pub fn lease(&self, key: u8) -> Lease<'_> {
        self.m.lock().insert(key, CancellationToken::new());
        Lease { table: self, key }
    }
    fn drop_key(&self, key: u8) { self.m.lock().remove(&key); }
}
impl Drop for Lease<'_> {
    fn drop(&mut self) { self.table.drop_key(self.key); }
}
";
    assert_eq!(inserts(&[("src/lib.rs", src)]), Vec::<String>::new());
}

#[test]
fn free_fn_wrappers_and_paths_to_them() {
    let src = "
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use tokio_util::sync::CancellationToken;
static OPEN: LazyLock<Mutex<HashMap<u64, CancellationToken>>> = LazyLock::new(Default::default);
pub fn open_token(id: u64) -> CancellationToken {
    let t = CancellationToken::new();
    OPEN.lock().unwrap().insert(id, t.clone());
    t
}
pub fn close_token(id: u64) { OPEN.lock().unwrap().remove(&id); }
pub fn paired(id: u64) { let _t = crate::open_token(id); close_token(id); }
pub fn unpaired(id: u64) -> Option<u8> { let _t = open_token(id); check()?; close_token(id); None }
";
    let got = inserts(&[("src/lib.rs", src)]);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with(
            "src/lib.rs:13:51 `open_token` stores a cancellation token in `OPEN` that only \
             `close_token` (line 11) removes, and this fn calls `close_token` on line 13 only \
             if it gets past the `?` on line 13"
        ),
        "{got:#?}"
    );
}

#[test]
fn a_method_of_another_type_with_the_wrappers_name_is_not_a_call_to_it() {
    let other = "
pub struct Counter { n: std::cell::Cell<u32> }
impl Counter { pub fn start(&self, _run: u32) -> u32 { self.n.get() } }
pub fn count(c: &Counter) -> u32 { c.start(1) }
";
    // `c.start` is `Counter::start`: `Runs::start` still has no caller.
    let got = inserts(&[("src/runs.rs", REGISTRY), ("src/other.rs", other)]);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].starts_with("src/runs.rs:13:35 "), "{got:#?}");
}
