//! The human rendering of each rule on small inputs, as inline snapshots:
//! the caret under the span, the help's rewrite.

use scoped_cancel_audit::{audit_sources, diag};

fn render(src: &str) -> String {
    let out = audit_sources(vec![("src/lib.rs".into(), src.into())]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.findings
        .iter()
        .map(|f| diag::human(f, false))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_vec_of_tokens_pushed_in_another_fn_gets_the_scope_rewrite() {
    let src = "\
use tokio_util::sync::CancellationToken;
pub struct Workers {
    tokens: std::sync::Mutex<Vec<CancellationToken>>,
}
impl Workers {
    pub fn add(&self, t: CancellationToken) {
        self.tokens.lock().unwrap().push(t);
    }
}
";
    assert_eq!(
        render(src),
        "\
warning[token-in-collection]: field `tokens` is a `Vec` of cancellation tokens: an entry nobody removes keeps its token, and every task waiting on it, alive
 --> src/lib.rs:3:13
  |
3 |     tokens: std::sync::Mutex<Vec<CancellationToken>>,
  |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  |
  = help: let a `Scope` own these tokens: its children end with it, on every exit
          let scope = Scope::root();                  // or the caller's scope
          tokio::spawn(worker(scope.child()));        // the task owns its child `Scope`
          drop(scope);                                // cancels every child

warning[unguarded-insert]: the cancellation token stored in `tokens` here is not removed by this fn, nor by any other fn of the scanned code: the entry and its token stay for good
 --> src/lib.rs:7:37
  |
7 |         self.tokens.lock().unwrap().push(t);
  |                                     ^^^^^^^
  |
  = help: let a `Scope` own the token instead: a child scope ends, and cancels, on every exit
          let child = scope.child();                  // a `Scope`, not a raw token
          tokio::spawn(worker(child));                // the task owns it
"
    );
}

#[test]
fn a_thread_local_type_over_several_lines_is_underlined_to_its_first_line_end() {
    let src = "\
use tokio_util::sync::CancellationToken;
thread_local! {
    static PENDING: RefCell<
        HashMap<u64, CancellationToken>,
    > = RefCell::new(HashMap::new());
}
";
    assert_eq!(
        render(src),
        "\
warning[token-in-collection]: thread-local `PENDING` is a `HashMap` of cancellation tokens: an entry nobody removes keeps its token, and every task waiting on it, alive
 --> src/lib.rs:3:21
  |
3 |     static PENDING: RefCell<
  |                     ^^^^^^^^
  |
  = help: keep them in a `scoped_cancel::Registry`: each `Scope` removes its own entry and cancels its token when it ends, on every exit
          static PENDING: Registry<u64> = Registry::new();
          #[scoped_cancel(registry = PENDING, key = id, token = token)]
          async fn run(id: u64) { /* `token` is this call's Token<Scoped> */ }
"
    );
}

#[test]
fn an_allow_without_reason_is_reported_and_silences_nothing() {
    let marker = concat!("scoped-cancel-audit", ": allow(");
    let src = format!(
        "use tokio_util::sync::CancellationToken;\n\
         static ALL: Mutex<Vec<CancellationToken>> = Mutex::new(Vec::new()); // {marker})\n"
    );
    assert_eq!(
        render(&src),
        format!(
            "\
warning[token-in-collection]: static `ALL` is a `Vec` of cancellation tokens: an entry nobody removes keeps its token, and every task waiting on it, alive
 --> src/lib.rs:2:13
  |
2 | static ALL: Mutex<Vec<CancellationToken>> = Mutex::new(Vec::new()); // {marker})
  |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  |
  = help: let a `Scope` own these tokens: its children end with it, on every exit
          let scope = Scope::root();                  // or the caller's scope
          tokio::spawn(worker(scope.child()));        // the task owns its child `Scope`
          drop(scope);                                // cancels every child

warning[allow-without-reason]: this allow comment has no reason, so it silences nothing
 --> src/lib.rs:2:72
  |
2 | static ALL: Mutex<Vec<CancellationToken>> = Mutex::new(Vec::new()); // {marker})
  |                                                                        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  |
  = help: say why this is not a leak, e.g.:
          // {marker}entries are removed by Reaper::sweep every 10s)
"
        )
    );
}
