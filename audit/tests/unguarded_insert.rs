//! Rule `unguarded-insert` on small inputs, and allow comments.

mod common;
use common::{found, found_with_messages, ALLOW};

const DECLS: &str = "
use tokio_util::sync::CancellationToken;
use std::collections::HashMap;
pub static JOBS: LazyLock<Mutex<HashMap<u64, CancellationToken>>> = LazyLock::new(Default::default);
pub struct App { jobs: dashmap::DashMap<u64, CancellationToken>, children: Mutex<Vec<CancellationToken>> }
";

/// Findings of the rule in `src/run.rs` only (the declarations file has its
/// own `token-in-collection` findings).
fn inserts(body: &str) -> Vec<String> {
    found_with_messages(&[("src/decls.rs", DECLS), ("src/run.rs", body)])
        .into_iter()
        .filter(|f| f.contains("src/run.rs"))
        .collect()
}

#[test]
fn removal_after_an_await() {
    let got = inserts(
        "
async fn run(id: u64, token: CancellationToken) {
    JOBS.lock().unwrap().insert(id, token.clone());
    work(token).await;
    JOBS.lock().unwrap().remove(&id);
}",
    );
    assert_eq!(
        got,
        [
            "unguarded-insert src/run.rs:3:26 the cancellation token stored in `JOBS` here is \
          removed on line 5 only if this fn gets past the `.await` on line 4: dropping the \
          future there (an abort, a timeout, a lost `select!` branch) skips the removal"
        ]
    );
}

#[test]
fn removal_after_a_question_mark_or_a_return() {
    let got = inserts(
        "
impl App {
    fn a(&self, id: u64, t: CancellationToken) -> Result<(), E> {
        self.jobs.insert(id, t);
        check()?;
        self.jobs.remove(&id);
        Ok(())
    }
    fn b(&self, id: u64, t: CancellationToken) {
        self.jobs.entry(id).or_insert(t);
        if done() { return; }
        self.jobs.remove(&id);
    }
}",
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with("unguarded-insert src/run.rs:4:19 "));
    assert!(got[0]
        .ends_with("past the `?` on line 5: an error there returns early and skips the removal"));
    assert!(
        got[1].starts_with("unguarded-insert src/run.rs:10:29 "),
        "{}",
        got[1]
    );
    assert!(got[1].contains("past the `return` on line 11"));
}

#[test]
fn removal_in_another_fn() {
    let got = inserts(
        "
impl App {
    fn start(&self, id: u64) {
        let t = CancellationToken::new();
        self.jobs.insert(id, t.clone());
        self.children.lock().push(t);
    }
    fn stop(&self, id: u64) { self.jobs.remove(&id); }
}",
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].contains("stored in `jobs` here is not removed by this fn"));
    assert!(got[1].contains("stored in `children` here is not removed by this fn"));
}

#[test]
fn removal_on_every_exit_is_fine() {
    let got = inserts(
        "
async fn run(id: u64, token: CancellationToken) {
    let before = ready().await;
    JOBS.lock().unwrap().insert(id, token.clone());
    let n = compute(id);
    JOBS.lock().unwrap().remove(&id);
    after(n).await?;
}",
    );
    assert_eq!(got, Vec::<String>::new());
}

#[test]
fn through_a_local_guard_a_param_and_a_lookup_fn() {
    let got = inserts(
        "
fn jobs() -> &'static Mutex<HashMap<u64, CancellationToken>> { todo() }
async fn a(id: u64, token: CancellationToken) {
    let mut map = JOBS.lock().unwrap();
    map.insert(id, token);
}
fn b(m: &dashmap::DashMap<String, CancellationToken>, t: CancellationToken) {
    m.insert(String::new(), t);
}
fn c(t: CancellationToken) {
    jobs().lock().unwrap().insert(1, t);
}",
    );
    let at: Vec<&str> = got.iter().map(|g| &g[..g.find(" the ").unwrap()]).collect();
    assert_eq!(
        at,
        [
            "unguarded-insert src/run.rs:5:9",
            "unguarded-insert src/run.rs:8:7",
            "unguarded-insert src/run.rs:11:28",
        ]
    );
}

#[test]
fn fresh_locals_and_plain_collections_are_not_inserts() {
    let got = inserts(
        "
struct Other { jobs: HashMap<u64, String> }
fn a(t: CancellationToken) -> Vec<CancellationToken> {
    let mut v = Vec::new();
    v.push(t);
    let mut m: HashMap<u64, CancellationToken> = HashMap::new();
    m.insert(1, CancellationToken::new());
    v
}
impl Other {
    fn b(&mut self) { self.jobs.insert(1, String::new()); }
}",
    );
    // `m`'s declaration is a token collection; neither insert is unguarded.
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("token-in-collection src/run.rs:6:16"),
        "{}",
        got[0]
    );
}

#[test]
fn a_map_that_a_guards_drop_cleans_gets_no_unguarded_insert() {
    let src = "
use tokio_util::sync::CancellationToken;
static JOBS: Mutex<HashMap<u64, CancellationToken>> = Mutex::new(HashMap::new());
struct Entry { id: u64 }
impl Entry {
    fn new(id: u64, t: CancellationToken) -> Entry {
        JOBS.lock().unwrap().insert(id, t);
        Entry { id }
    }
}
impl Drop for Entry {
    fn drop(&mut self) {
        if let Ok(mut jobs) = JOBS.lock() {
            jobs.remove(&self.id);
        }
    }
}
async fn run(id: u64, t: CancellationToken) {
    let _entry = Entry::new(id, t);
    work().await;
}
";
    // The declaration is still reported: the guard must exist for each insert.
    assert_eq!(
        found(&[("src/lib.rs", src)]),
        ["token-in-collection src/lib.rs:3:14"]
    );
}

#[test]
fn a_guard_may_remove_through_a_fn_of_the_crate() {
    let src = "
use tokio_util::sync::CancellationToken;
static STREAMS: LazyLock<Mutex<HashMap<String, CancellationToken>>> = LazyLock::new(Default::default);
static OTHER: LazyLock<Mutex<HashMap<String, CancellationToken>>> = LazyLock::new(Default::default);
pub fn register(id: &str) -> CancellationToken {
    let token = CancellationToken::new();
    STREAMS.lock().unwrap().insert(id.to_owned(), token.clone());
    OTHER.lock().unwrap().insert(id.to_owned(), token.clone());
    token
}
fn unregister(id: &str) { STREAMS.lock().unwrap().remove(id); }
struct Unregister(String);
impl Drop for Unregister {
    fn drop(&mut self) { unregister(&self.0); }
}
";
    // `register` builds no `Unregister` and has no caller here: its
    // STREAMS insert is reported, naming the fn and the guard that remove.
    let got = found_with_messages(&[("src/lib.rs", src)]);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(
        got[2].starts_with("unguarded-insert src/lib.rs:7:29 "),
        "{got:#?}"
    );
    assert!(
        got[2].contains(
            "not removed by this fn but only by `unregister` (line 11) or dropping a `Unregister`"
        ),
        "{got:#?}"
    );
    assert!(got[3].starts_with("unguarded-insert src/lib.rs:8:27 "));
    assert!(got[3].contains("nor by any other fn of the scanned code"));
    // A caller that hands the id to the guard makes STREAMS fine.
    let with_caller = format!(
        "{src}\nasync fn serve(id: &str) {{\n    let _t = register(id);\n    let _g = Unregister(id.to_owned());\n    work().await;\n}}\n"
    );
    let got = found(&[("src/lib.rs", &with_caller)]);
    assert_eq!(
        got,
        [
            "token-in-collection src/lib.rs:3:17",
            "token-in-collection src/lib.rs:4:15",
            "unguarded-insert src/lib.rs:8:27",
        ]
    );
}

#[test]
fn exits_in_macros_and_in_other_futures() {
    let got = inserts(
        "
async fn a(id: u64, t: CancellationToken) -> Result<(), E> {
    JOBS.lock().unwrap().insert(id, t.clone());
    tokio::spawn(async move { t.cancelled().await; });
    let f = || check()?;
    JOBS.lock().unwrap().remove(&id);
    Ok(())
}
async fn b(id: u64, t: CancellationToken) -> Result<(), E> {
    JOBS.lock().unwrap().insert(id, t.clone());
    let out = tokio::select! {
        _ = t.cancelled() => 0,
        out = work() => out?,
    };
    JOBS.lock().unwrap().remove(&id);
    Ok(())
}",
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].starts_with("unguarded-insert src/run.rs:10:26"));
    assert!(
        got[0].contains("past the `select!` on line 11"),
        "{}",
        got[0]
    );
}

#[test]
fn allow_comments_need_a_reason() {
    let src = format!(
        "
use tokio_util::sync::CancellationToken;
struct S {{
    // {ALLOW}a sweeper task removes finished entries every second)
    a: Vec<CancellationToken>,
    b: Vec<CancellationToken>, // {ALLOW}bounded by MAX_JOBS)
    c: Vec<CancellationToken>, // {ALLOW} )
}}
// {ALLOW}the entry lives as long as the process, by design)
fn f(s: &S, t: CancellationToken) {{
    s.a.push(t);
}}
"
    );
    assert_eq!(
        found(&[("src/lib.rs", &src)]),
        [
            "token-in-collection src/lib.rs:7:8",
            "allow-without-reason src/lib.rs:7:35",
        ]
    );
}

#[test]
fn a_guard_cancelling_its_token_does_not_guard_a_map_named_by_an_unrelated_fn() {
    // The guard's `self.token.cancel()` is the token's method, not the
    // crate's `fn cancel`, which removes from `JOBS`: `JOBS` stays unguarded.
    let got = inserts(
        "
struct Entry { token: CancellationToken }
impl Drop for Entry {
    fn drop(&mut self) { self.token.cancel(); }
}
fn cancel(id: u64) -> bool { JOBS.lock().unwrap().remove(&id).is_some() }
async fn run(id: u64, token: CancellationToken) {
    JOBS.lock().unwrap().insert(id, token.clone());
    work(token).await;
    JOBS.lock().unwrap().remove(&id);
}",
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("unguarded-insert src/run.rs:8:"),
        "{got:#?}"
    );
}
