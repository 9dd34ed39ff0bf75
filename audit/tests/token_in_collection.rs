//! Rule `token-in-collection` on small inputs: what it finds, through which
//! names and wrappers, and the traps it must not fall into.

mod common;
use common::{found, found_with_messages};

#[test]
fn fields_of_every_listed_collection() {
    let src = "
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use tokio_util::sync::CancellationToken;
struct App {
    a: HashMap<u64, CancellationToken>,
    b: dashmap::DashMap<String, CancellationToken>,
    c: Vec<CancellationToken>,
    d: VecDeque<CancellationToken>,
    e: BTreeMap<u32, CancellationToken>,
    f: indexmap::IndexMap<u64, CancellationToken>,
    g: slab::Slab<CancellationToken>,
    h: smallvec::SmallVec<[CancellationToken; 4]>,
    i: HashSet<CancellationToken>,
    j: lru::LruCache<u64, CancellationToken>,
    k: tokio_util::sync::CancellationToken,
}
";
    assert_eq!(
        found(&[("src/lib.rs", src)]),
        [
            "token-in-collection src/lib.rs:5:8",
            "token-in-collection src/lib.rs:6:8",
            "token-in-collection src/lib.rs:7:8",
            "token-in-collection src/lib.rs:8:8",
            "token-in-collection src/lib.rs:9:8",
            "token-in-collection src/lib.rs:10:8",
            "token-in-collection src/lib.rs:11:8",
            "token-in-collection src/lib.rs:12:8",
            "token-in-collection src/lib.rs:13:8",
            "token-in-collection src/lib.rs:14:8",
        ]
    );
}

#[test]
fn through_arc_mutex_rwlock_option_box_and_tuples() {
    let src = "
use tokio_util::sync::CancellationToken;
use std::collections::HashMap;
struct S {
    a: std::sync::Arc<std::sync::Mutex<HashMap<u64, CancellationToken>>>,
    b: Arc<tokio::sync::RwLock<Vec<CancellationToken>>>,
    c: parking_lot::Mutex<Vec<CancellationToken>>,
    d: parking_lot::RwLock<Option<Box<Vec<CancellationToken>>>>,
    e: Vec<(u64, CancellationToken)>,
    f: HashMap<u64, (tokio::task::JoinHandle<()>, CancellationToken)>,
    g: (u8, Vec<Arc<CancellationToken>>),
}
";
    let got = found_with_messages(&[("src/lib.rs", src)]);
    assert_eq!(got.len(), 7, "{got:#?}");
    assert!(got[0].contains("field `a` is a `HashMap` of cancellation tokens"));
    assert!(got[1].contains("field `b` is a `Vec`"));
    assert!(got[6].contains("field `g` is a `Vec`"));
}

#[test]
fn statics_lazy_lock_once_lock_once_cell_lazy_static_thread_local() {
    let src = "
use std::sync::{LazyLock, Mutex, OnceLock};
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;
static A: LazyLock<Mutex<HashMap<u64, CancellationToken>>> = LazyLock::new(Default::default);
static B: OnceLock<Mutex<Vec<CancellationToken>>> = OnceLock::new();
static C: once_cell::sync::OnceCell<dashmap::DashMap<u64, CancellationToken>> = OnceCell::new();
static D: once_cell::sync::Lazy<Mutex<Vec<CancellationToken>>> = Lazy::new(Default::default);
lazy_static::lazy_static! {
    static ref E: Mutex<HashMap<u64, CancellationToken>> = Mutex::new(HashMap::new());
}
thread_local! {
    static F: RefCell<Vec<CancellationToken>> = const { RefCell::new(Vec::new()) };
}
fn f() {
    thread_local!(static G: RefCell<Vec<CancellationToken>> = RefCell::new(Vec::new()));
}
static NOT: Mutex<Option<CancellationToken>> = Mutex::new(None);
";
    let got = found_with_messages(&[("src/lib.rs", src)]);
    let heads: Vec<&str> = got.iter().map(|m| &m[..m.find(" is a").unwrap()]).collect();
    assert_eq!(
        heads,
        [
            "token-in-collection src/lib.rs:5:11 static `A`",
            "token-in-collection src/lib.rs:6:11 static `B`",
            "token-in-collection src/lib.rs:7:11 static `C`",
            "token-in-collection src/lib.rs:8:11 static `D`",
            "token-in-collection src/lib.rs:10:19 static `E`",
            "token-in-collection src/lib.rs:13:15 thread-local `F`",
            "token-in-collection src/lib.rs:16:29 thread-local `G`",
        ]
    );
}

#[test]
fn renames_aliases_and_generic_aliases() {
    let src = "
use tokio_util::sync::CancellationToken as Ct;
use tokio_util::sync as tsync;
use std::collections::HashMap as Map;
type Jobs = Map<u64, Ct>;
type ById<V> = Map<u64, V>;
type Tok = tsync::CancellationToken;
struct S {
    a: Jobs,
    b: ById<Tok>,
    c: ById<String>,
    d: Vec<Tok>,
}
";
    assert_eq!(
        found_with_messages(&[("src/lib.rs", src)])
            .iter()
            .map(|m| &m[..m.find(" is a").unwrap()])
            .collect::<Vec<_>>(),
        [
            "token-in-collection src/lib.rs:5:13 type alias `Jobs`",
            "token-in-collection src/lib.rs:9:8 field `a`",
            "token-in-collection src/lib.rs:10:8 field `b`",
            "token-in-collection src/lib.rs:12:8 field `d`",
        ]
    );
}

#[test]
fn crate_local_types_across_files_and_reexport_renames() {
    let jobs = "
use tokio_util::sync::CancellationToken;
pub use tokio_util::sync::CancellationToken as JobToken;
pub struct Job { pub id: u64, pub token: CancellationToken }
pub enum State { Running(Job), Done }
pub struct Wrapper { inner: State }
";
    let app = "
use crate::jobs::{JobToken, State, Wrapper};
use std::collections::HashMap;
pub struct App {
    running: Vec<crate::jobs::Job>,
    states: HashMap<u64, State>,
    wrapped: Vec<Wrapper>,
    tokens: Vec<JobToken>,
}
";
    let got = found_with_messages(&[("src/jobs.rs", jobs), ("src/app.rs", app)]);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].starts_with(
        "token-in-collection src/app.rs:5:14 field `running` is a `Vec` of `Job`s, which hold"
    ));
    assert!(got[1].contains("field `states` is a `HashMap` of `State`s"));
    assert!(got[2].contains("field `wrapped` is a `Vec` of `Wrapper`s"));
    assert!(got[3].contains("field `tokens` is a `Vec` of cancellation tokens"));
}

#[test]
fn generic_crate_types_and_unknown_generic_containers() {
    let src = "
use tokio_util::sync::CancellationToken;
struct Pool<T> { items: Vec<T>, spare: Option<T> }
struct Cell1<T> { one: T }
struct S {
    a: Pool<CancellationToken>,
    b: Cell1<CancellationToken>,
    c: moka::sync::Cache<u64, CancellationToken>,
    d: Pool<u64>,
}
";
    let got = found_with_messages(&[("src/lib.rs", src)]);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got[0].contains("field `a` is a `Vec` of `Pool`s"),
        "{}",
        got[0]
    );
    assert!(got[1].contains("field `c` is a `Cache`"), "{}", got[1]);
}

#[test]
fn locals_with_a_type_or_a_turbofish_constructor() {
    let src = "
use tokio_util::sync::CancellationToken;
fn f() {
    let a: Vec<CancellationToken> = Vec::new();
    let b = dashmap::DashMap::<u64, CancellationToken>::new();
    let c = Arc::new(Mutex::new(HashMap::<u64, CancellationToken>::with_capacity(8)));
    let d = Vec::new();
    let e: Option<CancellationToken> = None;
}
";
    assert_eq!(
        found(&[("src/lib.rs", src)]),
        [
            "token-in-collection src/lib.rs:4:12",
            "token-in-collection src/lib.rs:5:13",
            "token-in-collection src/lib.rs:6:33",
        ]
    );
}

#[test]
fn traps_scopes_scoped_tokens_plain_fields_weak_and_signatures() {
    let lib = "
use scoped_cancel::{Registry, Scope, Scoped, Token};
use tokio_util::sync::CancellationToken;
use std::collections::HashMap;
use std::sync::Weak;
struct Fine {
    scopes: HashMap<u64, Scope>,
    tokens: HashMap<u64, Token<Scoped>>,
    registry: Registry<u64>,
    token: CancellationToken,
    maybe: Option<CancellationToken>,
    shared: Arc<Mutex<CancellationToken>>,
    weak: Vec<Weak<Job>>,
    marker: PhantomData<Vec<CancellationToken>>,
    callbacks: Vec<Box<dyn Fn(CancellationToken) + Send>>,
    lengths: HashMap<u64, usize>,
}
struct Job { token: CancellationToken }
fn takes(v: Vec<CancellationToken>) -> Vec<CancellationToken> { v }
";
    assert_eq!(found(&[("src/lib.rs", lib)]), Vec::<String>::new());
}

#[test]
fn a_guard_that_cancels_on_drop_is_the_fix_not_the_leak() {
    let src = "
use tokio_util::sync::CancellationToken;
struct Guard { token: CancellationToken }
impl Drop for Guard {
    fn drop(&mut self) { self.token.cancel(); }
}
struct Plain { token: CancellationToken }
struct S { guards: HashMap<u64, Guard>, plain: HashMap<u64, Plain> }
";
    assert_eq!(
        found(&[("src/lib.rs", src)]),
        ["token-in-collection src/lib.rs:8:48"]
    );
}

#[test]
fn ambiguous_and_foreign_names_are_not_guessed() {
    let a = "
use tokio_util::sync::CancellationToken;
pub struct Inner { t: CancellationToken }
pub use tokio_util::sync::CancellationToken as Token;
";
    let b = "pub struct Inner { n: u64 }";
    let c = "
use other_crate::Token;
struct S { inners: Vec<Inner>, tokens: Vec<Token> }
";
    assert_eq!(
        found(&[("src/a.rs", a), ("src/b.rs", b), ("src/c.rs", c)]),
        Vec::<String>::new()
    );
}

#[test]
fn nothing_without_the_token_anywhere_in_the_crate() {
    let src =
        "struct S { m: HashMap<u64, Token> } static X: Mutex<Vec<Job>> = Mutex::new(Vec::new());";
    assert_eq!(found(&[("src/lib.rs", src)]), Vec::<String>::new());
}
