//! User code that panics inside the registry's and the scope's machinery: a
//! key's `Hash`, `Eq` or `Drop`, and a body's destructor. The invariants
//! hold through each: a key is absent only if its scope's token is
//! cancelled, a pending shutdown is woken, leak tracking sees the scope end,
//! and the registry stays usable.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scoped_cancel::testing::Collector;
use scoped_cancel::{Cause, Registry, Scope, Token};

const NONE: u32 = u32::MAX;

/// The panic message of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Checks "absent ⇒ cancelled" without hashing any key (a key's `Hash`
/// may panic): every live scope's key is in the report, or its token is
/// cancelled.
fn assert_no_live_scope_lost_its_entry<K: scoped_cancel::Key>(
    reg: &Registry<K>,
    live: &[(K, Token)],
) {
    // Compared by their `Debug` text: a key's `Eq` may panic too.
    let listed: Vec<String> = reg
        .report()
        .iter()
        .map(|info| format!("{:?}", info.key()))
        .collect();
    for (key, token) in live {
        assert!(
            listed.contains(&format!("{key:?}")) || token.is_cancelled(),
            "{key:?} lost its entry while its token is live"
        );
    }
}

/// Hashes normally, except the key whose id is in `HASH_PANICS`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HashBomb(u32);

static HASH_PANICS: AtomicU32 = AtomicU32::new(NONE);

impl Hash for HashBomb {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.0 == HASH_PANICS.load(Ordering::SeqCst) {
            panic!("hash of key {} panics", self.0);
        }
        self.0.hash(state);
    }
}

/// A key whose `Hash` starts panicking while its scope is live, then the
/// tables grow many times (thousands of entries), churn (enter and drop),
/// and the key itself is looked up. Growth never hashes stored keys, so
/// only calls that hash the key itself panic; no live scope loses its
/// entry; afterwards everything works and ends empty.
#[test]
fn a_key_whose_hash_panics_including_during_growth() {
    static REG: Registry<HashBomb> = Registry::new();
    let mut live: Vec<(HashBomb, Scope)> = (0..64)
        .map(|i| (HashBomb(i), REG.enter(HashBomb(i)).unwrap()))
        .collect();
    HASH_PANICS.store(5, Ordering::SeqCst);

    let mut unexpected = Vec::new();
    for i in 1_000..6_000u32 {
        match catch_unwind(|| REG.enter(HashBomb(i))) {
            Ok(Ok(scope)) if i % 3 == 0 => drop(scope),
            Ok(Ok(scope)) => live.push((HashBomb(i), scope)),
            Ok(Err(err)) => unexpected.push(format!("{i}: {err}")),
            Err(p) => unexpected.push(format!("{i}: {}", message(&*p))),
        }
    }
    assert!(
        unexpected.is_empty(),
        "growth or churn ran the panicking Hash: {unexpected:?}"
    );
    // Calls that hash the key itself panic, and change nothing.
    assert!(catch_unwind(|| REG.enter(HashBomb(5))).is_err());
    assert!(catch_unwind(|| REG.cancel(&HashBomb(5))).is_err());
    let tokens: Vec<(HashBomb, Token)> = live.iter().map(|(k, s)| (k.clone(), s.token())).collect();
    assert_no_live_scope_lost_its_entry(&REG, &tokens);
    assert!(tokens.iter().all(|(_, t)| !t.is_cancelled()));
    assert_eq!(REG.len(), live.len());

    // Removal never hashes: the panicking key's scope ends cleanly too.
    drop(live);
    assert!(REG.is_empty());
    HASH_PANICS.store(NONE, Ordering::SeqCst);
    drop(REG.enter(HashBomb(5)).expect("usable"));
}

/// All keys share one hash, so every lookup compares with the live keys;
/// comparing with the key in `EQ_PANICS` panics.
#[derive(Clone, Debug)]
struct EqBomb(u32);

static EQ_PANICS: AtomicU32 = AtomicU32::new(NONE);

impl PartialEq for EqBomb {
    fn eq(&self, other: &Self) -> bool {
        let bomb = EQ_PANICS.load(Ordering::SeqCst);
        if self.0 == bomb || other.0 == bomb {
            panic!("eq with key {bomb} panics");
        }
        self.0 == other.0
    }
}
impl Eq for EqBomb {}
impl Hash for EqBomb {
    fn hash<H: Hasher>(&self, state: &mut H) {
        0u8.hash(state);
    }
}

/// Lookups, entries and inserts whose `Eq` panics (under the shard lock,
/// which is poisoned) leave every live scope in place and un-cancelled; the
/// registry works on afterwards, poison ignored.
#[test]
fn a_key_whose_eq_panics_under_the_shard_lock() {
    let reg = Registry::<EqBomb>::new();
    let live: Vec<Scope> = (0..16).map(|i| reg.enter(EqBomb(i)).unwrap()).collect();
    let tokens: Vec<(EqBomb, Token)> = (0..16)
        .map(|i| (EqBomb(i), live[i as usize].token()))
        .collect();
    EQ_PANICS.store(3, Ordering::SeqCst);
    let mut panicked = 0;
    for i in 100..140 {
        panicked += usize::from(catch_unwind(AssertUnwindSafe(|| reg.enter(EqBomb(i)))).is_err());
        panicked += usize::from(catch_unwind(AssertUnwindSafe(|| reg.cancel(&EqBomb(i)))).is_err());
        let token = live[0].token();
        panicked +=
            usize::from(catch_unwind(AssertUnwindSafe(|| reg.insert(EqBomb(i), token))).is_err());
    }
    assert!(panicked > 0, "no lookup reached the panicking Eq");
    assert_no_live_scope_lost_its_entry(&reg, &tokens);
    assert!(tokens.iter().all(|(_, t)| !t.is_cancelled()));
    EQ_PANICS.store(NONE, Ordering::SeqCst);

    assert_eq!(reg.len(), 16);
    assert!(reg.contains_key(&EqBomb(3)));
    let extra = reg.enter(EqBomb(99)).expect("usable after poisoning");
    assert!(reg.cancel(&EqBomb(7)));
    drop((extra, live));
    assert!(reg.is_empty());
}

/// A key whose `Drop` panics once `armed` is set (once).
#[derive(Clone, Debug)]
struct DropBomb {
    id: u32,
    armed: Arc<AtomicBool>,
}

impl PartialEq for DropBomb {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for DropBomb {}
impl Hash for DropBomb {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}
impl Drop for DropBomb {
    fn drop(&mut self) {
        if self.armed.swap(false, Ordering::SeqCst) && !std::thread::panicking() {
            panic!("drop of key {} panics", self.id);
        }
    }
}

/// The registry's copy of the key panics in `Drop` as the scope ends: the
/// scope's drop panics, but the slot is gone, a shutdown that was waiting
/// for it is woken (it returns at once on the paused clock, not at its
/// one-hour deadline), and the leak tracker no longer lists the scope.
#[tokio::test(start_paused = true)]
async fn a_key_whose_drop_panics_during_removal() {
    static REG: Registry<DropBomb> = Registry::new();
    let collector = Collector::new();
    let _attached = collector.attach_current_thread();
    let armed = Arc::new(AtomicBool::new(false));
    let key = DropBomb {
        id: 1,
        armed: armed.clone(),
    };
    let scope = REG.enter(key).unwrap();
    let token = scope.token();
    assert_eq!(collector.len(), 1);

    let shutdown = REG.shutdown(Duration::from_secs(3600));
    let mut shutdown = std::pin::pin!(shutdown);
    let pending =
        std::future::poll_fn(|cx| std::task::Poll::Ready(shutdown.as_mut().poll(cx).is_pending()))
            .await;
    assert!(pending, "the scope is still live");

    armed.store(true, Ordering::SeqCst);
    let payload = catch_unwind(AssertUnwindSafe(|| drop(scope))).unwrap_err();
    assert_eq!(message(&*payload), "drop of key 1 panics");
    assert!(
        !armed.load(Ordering::SeqCst),
        "the registry's copy was dropped"
    );
    assert!(REG.is_empty());
    assert_eq!(token.cause(), Some(Cause::Shutdown));
    assert!(collector.is_empty(), "the ended scope is still listed");

    let report = shutdown.await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        report.elapsed(),
        Duration::ZERO,
        "the shutdown was not woken"
    );
    REG.reopen();
}

/// A body whose destructor panics while its `Run` is dropped mid-flight:
/// the scope still ends (cause `Panicked`, entry removed, not listed by the
/// tracker), and the panic reaches the dropper.
#[tokio::test]
async fn a_body_whose_destructor_panics_while_run_is_dropped() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("body destructor panics");
        }
    }

    static REG: Registry<u32> = Registry::new();
    let collector = Collector::new();
    let _attached = collector.attach_current_thread();
    let scope = REG.enter(1).unwrap();
    let token = scope.token();
    let run = scope.run(async {
        let _guard = PanicsOnDrop;
        std::future::pending::<()>().await;
    });
    let mut run = Box::pin(run);
    let first =
        std::future::poll_fn(|cx| std::task::Poll::Ready(run.as_mut().poll(cx).is_pending())).await;
    assert!(first);
    assert_eq!(collector.len(), 1);

    let payload = catch_unwind(AssertUnwindSafe(|| drop(run))).unwrap_err();
    assert_eq!(message(&*payload), "body destructor panics");
    assert_eq!(token.cause(), Some(Cause::Panicked));
    assert!(REG.is_empty());
    assert!(collector.is_empty());
    drop(REG.enter(1).expect("the key is free again"));
}
