//! Shapes real services write their token maps in: renamed map imports,
//! concurrent maps' own method names, the entry API, maps behind a watch
//! channel, an `ArcSwap` or any crate's locks, and maps of `DropGuard`s.
//! Each fixture is written for its shape.

mod common;
use common::{found, found_with_messages};

#[test]
fn a_renamed_concurrent_map_and_its_sync_and_async_inserts() {
    let src = "
use scc::HashMap as Shared;
use tokio_util::sync::CancellationToken;
pub struct Pumps { by_port: Shared<u16, CancellationToken> }
impl Pumps {
    pub fn add(&self, port: u16, t: CancellationToken) {
        let _ = self.by_port.insert_sync(port, t);
    }
    pub async fn add_later(&self, port: u16, t: CancellationToken) {
        let _ = self.by_port.insert_async(port, t).await;
    }
    pub fn replace(&self, port: u16, t: CancellationToken) {
        self.by_port.upsert(port, t);
    }
    pub fn stop(&self, port: u16) {
        let _ = self.by_port.remove_sync(&port);
    }
}
";
    let got = found_with_messages(&[("src/lib.rs", src)]);
    let at: Vec<&str> = got.iter().map(|g| g.split(' ').nth(1).unwrap()).collect();
    assert_eq!(
        at,
        [
            "src/lib.rs:4:29",
            "src/lib.rs:7:30",
            "src/lib.rs:10:30",
            "src/lib.rs:13:22"
        ],
        "{got:#?}"
    );
    assert!(got[0].contains("field `by_port` is a `HashMap` of cancellation tokens"));
    assert!(
        got[1].contains("but only by `stop` (line 15)"),
        "{}",
        got[1]
    );
}

#[test]
fn the_entry_api_in_a_match_and_insert_entry() {
    let src = "
use std::collections::{hash_map::Entry, HashMap};
use tokio_util::sync::CancellationToken;
pub struct Slots { open: HashMap<String, CancellationToken> }
impl Slots {
    pub fn claim(&mut self, key: String) -> Option<CancellationToken> {
        match self.open.entry(key) {
            Entry::Occupied(_) => None,
            Entry::Vacant(slot) => Some(slot.insert(CancellationToken::new()).clone()),
        }
    }
    pub fn claim_again(&mut self, key: String, t: CancellationToken) {
        self.open.entry(key).insert_entry(t);
    }
}
";
    assert_eq!(
        found(&[("src/lib.rs", src)]),
        [
            "token-in-collection src/lib.rs:4:26",
            "unguarded-insert src/lib.rs:9:46",
            "unguarded-insert src/lib.rs:13:30",
        ]
    );
}

#[test]
fn maps_of_drop_guards_behind_a_watch_channel_and_of_structs_holding_one() {
    let src = "
use std::collections::HashMap;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};
pub struct Watchers { tx: watch::Sender<HashMap<u32, DropGuard>> }
impl Watchers {
    pub fn watch(&self, id: u32, cancel: CancellationToken) {
        self.tx.send_modify(|all| {
            all.insert(id, cancel.drop_guard());
        });
    }
}
struct Held { guard: DropGuard, name: String }
pub struct Pool { held: Vec<Held> }
";
    let got = found_with_messages(&[("src/lib.rs", src)]);
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(
        got[0].starts_with(
            "token-in-collection src/lib.rs:5:27 field `tx` is a `HashMap` of `DropGuard`s, which hold"
        ),
        "{got:#?}"
    );
    assert!(
        got[1].starts_with("unguarded-insert src/lib.rs:9:17 "),
        "{got:#?}"
    );
    assert!(
        got[2]
            .starts_with("token-in-collection src/lib.rs:14:25 field `held` is a `Vec` of `Held`s"),
        "{got:#?}"
    );
}

#[test]
fn arc_swap_rcu_and_locks_of_any_crate_renamed() {
    // The map `rcu`'s closure returns becomes the table: an insert into
    // its copy of the old map is an insert into `table`.
    let src = "
use arc_swap::ArcSwap;
use async_lock::RwLock as ALock;
use parking_lot::Mutex as PMutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
pub struct Routes {
    table: ArcSwap<BTreeMap<u16, CancellationToken>>,
    a: ALock<Vec<CancellationToken>>,
    b: PMutex<Vec<CancellationToken>>,
}
impl Routes {
    pub fn add(&self, port: u16, t: CancellationToken) {
        self.table.rcu(|old| {
            let mut next = BTreeMap::clone(old);
            next.insert(port, t.clone());
            next
        });
    }
}
";
    let got = found(&[("src/lib.rs", src)]);
    assert_eq!(
        got,
        [
            "token-in-collection src/lib.rs:9:12",
            "token-in-collection src/lib.rs:10:8",
            "token-in-collection src/lib.rs:11:8",
            "unguarded-insert src/lib.rs:17:18",
        ]
    );
}

#[test]
fn an_rcu_closure_inserting_into_its_argument_is_an_insert() {
    let src = "
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;
thread_local! {
    static LOCAL: std::cell::RefCell<HashMap<u8, CancellationToken>> = Default::default();
}
pub fn keep(k: u8, t: CancellationToken) {
    LOCAL.with_borrow_mut(|m| m.insert(k, t));
}
";
    assert_eq!(
        found(&[("src/lib.rs", src)]),
        [
            "token-in-collection src/lib.rs:5:19",
            "unguarded-insert src/lib.rs:8:33",
        ]
    );
}

#[test]
fn framework_extractors_are_one_value_not_a_collection() {
    let src = "
use axum::extract::State;
use tokio_util::sync::CancellationToken;
pub struct App { shutdown: CancellationToken }
pub async fn handler(State(app): State<App>) {}
pub fn takes(state: State<App>, ext: axum::Extension<App>) { state.insert(1, 2); }
";
    assert_eq!(found(&[("src/lib.rs", src)]), Vec::<String>::new());
}
