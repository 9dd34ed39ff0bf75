//! Registry behaviour: entry, refusal, lookups, insert, reports, shutdown.

use std::future::pending;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use scoped_cancel::{Cause, EnterError, Registry, Scope};

#[test]
fn occupied_keys_are_refused_and_left_untouched() {
    let reg = Registry::<String>::new();
    let scope = reg.enter("a".to_string()).expect("free");
    let err = reg.enter("a".to_string()).expect_err("occupied");
    assert_eq!(err, EnterError::Occupied("a".to_string()));
    assert_eq!(err.cause(), Cause::KeyOccupied);
    assert_eq!(err.to_string(), r#"key "a" already has a live scope"#);
    assert_eq!(err.key(), "a");
    assert!(
        !scope.is_cancelled(),
        "a refused enter must not touch the live scope"
    );
    assert_eq!(reg.len(), 1);
}

#[test]
fn lookups_borrow_like_hashmap() {
    let reg = Registry::<String>::new();
    let _scope = reg.enter("job-1".to_string()).expect("free");
    assert!(reg.contains_key("job-1"));
    assert!(!reg.contains_key("job-2"));
    assert!(reg.cancel("job-1"));
    assert!(!reg.cancel("job-2"));
}

#[test]
fn a_key_stays_occupied_until_its_guard_drops_even_if_cancelled() {
    let reg = Registry::<u64>::new();
    let scope = reg.enter(1).expect("free");
    assert!(reg.cancel(&1));
    assert!(reg.contains_key(&1));
    assert!(matches!(reg.enter(1), Err(EnterError::Occupied(1))));
    drop(scope);
    assert!(!reg.contains_key(&1));
    drop(reg.enter(1).expect("free again"));
}

/// Keys whose hashes all collide: removal must go by identity, not by hash.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Colliding(u32);

impl Hash for Colliding {
    fn hash<H: Hasher>(&self, state: &mut H) {
        0u8.hash(state);
    }
}

#[test]
fn removal_is_by_identity_among_colliding_hashes() {
    let reg = Registry::<Colliding>::new();
    let scopes: Vec<Scope> = (0..20)
        .map(|i| reg.enter(Colliding(i)).expect("free"))
        .collect();
    let mut scopes: Vec<Option<Scope>> = scopes.into_iter().map(Some).collect();
    for i in (0..20).step_by(2) {
        scopes[i] = None;
    }
    for i in 0..20u32 {
        assert_eq!(reg.contains_key(&Colliding(i)), i % 2 == 1, "key {i}");
    }
    // Re-enter a freed key; the old guard is gone, the new entry stays.
    let again = reg.enter(Colliding(0)).expect("free");
    assert!(reg.contains_key(&Colliding(0)));
    drop(scopes);
    assert_eq!(reg.len(), 1);
    drop(again);
    assert!(reg.is_empty());
}

#[test]
fn insert_indexes_a_scoped_token_until_its_entry_drops() {
    let reg = Registry::<u64>::new();
    let scope = Scope::root();
    let entry = reg.insert(9, scope.token()).expect("free");
    assert!(reg.contains_key(&9));
    assert!(matches!(
        reg.insert(9, scope.token()),
        Err(EnterError::Occupied(9))
    ));
    drop(entry);
    assert!(!reg.contains_key(&9));
    assert!(
        !scope.is_cancelled(),
        "an index entry does not own the token"
    );

    let entry = reg.insert(9, scope.token()).expect("free");
    assert!(
        reg.cancel(&9),
        "cancelling the index cancels the scope's token"
    );
    assert_eq!(scope.token().cause(), Some(Cause::Requested));
    assert_eq!(entry.token(), scope.token());
}

#[test]
fn report_lists_key_name_site_age_and_state() {
    let reg = Registry::<u64>::new();
    let named = Scope::builder().name("upload");
    let (a, line) = (named.enter(&reg, 1).expect("free"), line!());
    let _b = reg.enter(2).expect("free");
    reg.cancel(&2);
    let mut report = reg.report();
    report.sort_by_key(|info| *info.key());
    assert_eq!(report.len(), 2);
    let first = &report[0];
    assert_eq!(*first.key(), 1);
    assert_eq!(first.name(), "upload");
    assert_eq!(first.file(), file!());
    assert_eq!(first.line(), line);
    assert!(!first.is_cancelled());
    assert!(first.age() < Duration::from_secs(60));
    assert_eq!(report[1].name(), "Registry::enter");
    assert_eq!(report[1].cause(), Some(Cause::Requested));
    let text = first.to_string();
    assert!(text.starts_with("upload (key 1) at "), "{text}");
    assert!(text.contains(&format!("{}:{line}", file!())), "{text}");
    assert!(report[1]
        .to_string()
        .contains("cancelled (cancellation was requested)"));
    drop(a);
}

#[test]
fn enter_child_is_cancelled_by_its_parent() {
    let reg = Registry::<u64>::new();
    let parent = Scope::root();
    let scope = reg.enter_child(1, &parent.token()).expect("free");
    drop(parent);
    assert_eq!(scope.token().cause(), Some(Cause::Parent));
    assert!(
        reg.contains_key(&1),
        "the key is held until the guard drops"
    );
    drop(scope);
    assert!(reg.is_empty());
}

/// On the paused clock, the grace period passes exactly: no wall time.
#[tokio::test(start_paused = true)]
async fn shutdown_refuses_reports_stragglers_and_reopens() {
    static REG: Registry<u64> = Registry::new();
    let ends = REG.enter(1).expect("free");
    let ends_task = tokio::spawn(ends.run(pending::<()>()));
    // A scope whose owner ignores cancellation: a straggler.
    let parked = Scope::builder()
        .name("parked")
        .enter(&REG, 2)
        .expect("free");

    let shutdown = REG.shutdown(Duration::from_millis(100));
    // Refusal starts when shutdown is called, before it is awaited.
    assert!(REG.is_shutting_down());
    assert!(matches!(REG.enter(3), Err(EnterError::ShuttingDown(3))));
    assert!(parked.is_cancelled());

    let report = shutdown.await;
    assert!(!report.is_clean());
    assert_eq!(report.stragglers().len(), 1);
    let straggler = &report.stragglers()[0];
    assert_eq!((*straggler.key(), straggler.name()), (2, "parked"));
    assert_eq!(straggler.cause(), Some(Cause::Shutdown));
    assert_eq!(report.elapsed(), Duration::from_millis(100));
    let text = report.to_string();
    assert!(
        text.contains("shutdown left 1 scope(s)") && text.contains("parked (key 2)"),
        "{text}"
    );
    assert!(ends_task.await.unwrap().is_err());

    drop(parked);
    REG.reopen();
    assert!(!REG.is_shutting_down());
    drop(REG.enter(3).expect("open again"));
}

/// Spawns, from a keyed scope of `reg` (or from its child scope `depth`
/// levels down), a task whose body blocks its worker thread until
/// `release` fires: a task no race can stop.
async fn spawn_blocked_task_at(
    reg: &'static Registry<u64>,
    key: u64,
    depth: usize,
) -> (
    tokio::task::JoinHandle<Result<(), scoped_cancel::Cancelled>>,
    std::sync::mpsc::Sender<()>,
) {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let mut scopes = vec![reg.enter(key).expect("free")];
    for _ in 0..depth {
        let child = scopes.last().unwrap().child();
        scopes.push(child);
    }
    let task = scopes.last().unwrap().spawn(async move {
        let _ = started_tx.send(());
        let _ = blocked.recv();
    });
    drop(scopes);
    started.await.expect("the task started");
    (task, release)
}

async fn spawn_blocked_task(
    reg: &'static Registry<u64>,
    key: u64,
) -> (
    tokio::task::JoinHandle<Result<(), scoped_cancel::Cancelled>>,
    std::sync::mpsc::Sender<()>,
) {
    spawn_blocked_task_at(reg, key, 0).await
}

/// Polls `fut` once; `true` if it is still pending.
async fn still_pending<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> bool {
    let mut fut = fut;
    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
}

/// Shutdown waits for a task spawned from the keyed scope itself, from its
/// child, and from a grandchild: while the task is blocked (it cannot end
/// before `release`), the shutdown future stays pending, whatever the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_tasks_spawned_from_keyed_scopes_and_their_children() {
    static REG: Registry<u64> = Registry::new();
    for depth in 0..3 {
        let (task, release) = spawn_blocked_task_at(&REG, 1, depth).await;
        assert!(REG.is_empty(), "the scopes ended; only the task is left");
        let shutdown = REG.shutdown(Duration::from_secs(3600));
        let mut shutdown = std::pin::pin!(shutdown);
        for _ in 0..3 {
            assert!(
                still_pending(shutdown.as_mut()).await,
                "depth {depth}: shutdown returned while the task runs"
            );
            tokio::task::yield_now().await;
        }
        release.send(()).expect("task waiting");
        let report = shutdown.await;
        assert!(report.is_clean(), "depth {depth}: {report}");
        assert_eq!(task.await.unwrap(), Ok(()));
        REG.reopen();
    }
}

/// A bare `tokio::spawn` is invisible to the registry, even when the task
/// holds a child scope of a keyed scope: `shutdown` neither waits for it
/// nor counts it (documented on `Registry::shutdown`).
#[tokio::test(start_paused = true)]
async fn a_bare_tokio_spawn_is_not_counted() {
    static REG: Registry<u64> = Registry::new();
    let scope = REG.enter(1).expect("free");
    let child = scope.child();
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _child = child;
        let _ = wait.await;
    });
    drop(scope);
    let report = REG.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.elapsed(), Duration::ZERO, "nothing was waited for");
    release.send(()).unwrap();
    task.await.unwrap();
    REG.reopen();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reports_a_task_that_outlives_the_grace_period() {
    static REG: Registry<u64> = Registry::new();
    let (task, release) = spawn_blocked_task(&REG, 1).await;
    let report = REG.shutdown(Duration::from_millis(50)).await;
    assert!(!report.is_clean());
    assert_eq!(report.tasks(), 1);
    assert!(report.stragglers().is_empty(), "the scope itself ended");
    assert!(
        report.to_string().contains("0 scope(s) and 1 task(s)"),
        "{report}"
    );
    release.send(()).expect("task waiting");
    assert_eq!(task.await.unwrap(), Ok(()));
    REG.reopen();
}

#[test]
fn len_is_empty_and_debug() {
    let reg = Registry::<u64>::new();
    assert!(reg.is_empty());
    assert_eq!(reg.len(), 0);
    assert!(!reg.cancel(&1), "no storage yet");
    assert!(reg.report().is_empty());
    let _a = reg.enter(1).unwrap();
    assert_eq!(
        format!("{reg:?}"),
        "Registry { len: 1, shutting_down: false }"
    );
}

/// A key that checks, when the registry drops its stored copy, that the
/// scope it belonged to is already cancelled and that no shard lock is held
/// (it calls back into the registry, which would deadlock under the lock).
#[derive(Clone, Debug)]
struct Probe {
    id: u64,
    watched: Arc<Mutex<Option<scoped_cancel::Token>>>,
    seen: Arc<Mutex<Vec<(bool, bool)>>>,
}

impl PartialEq for Probe {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Probe {}
impl Hash for Probe {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

static PROBED: Registry<Probe> = Registry::new();

impl Drop for Probe {
    fn drop(&mut self) {
        // Taken out first: the lock is not held while the registry is asked.
        let watched = self.watched.lock().unwrap().take();
        if let Some(token) = watched {
            let cancelled = token.is_cancelled();
            let absent = !PROBED.contains_key(self);
            self.seen.lock().unwrap().push((cancelled, absent));
        }
    }
}

use std::sync::{Arc, Mutex};

/// The key's `Drop` looks the key up in the registry: dropped under the
/// shard's lock, that would deadlock. The guard is dropped on a thread of
/// its own, so a deadlock fails the test (bounded) instead of hanging it.
#[test]
fn the_key_is_dropped_after_cancel_and_outside_the_lock() {
    let probe = Probe {
        id: 1,
        watched: Arc::new(Mutex::new(None)),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let scope = PROBED.enter(probe.clone()).expect("free");
    *probe.watched.lock().unwrap() = Some(scope.token());
    let (dropped, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(scope);
        let _ = dropped.send(());
    });
    done.recv_timeout(std::time::Duration::from_secs(20))
        .expect("the guard's drop deadlocked: the key was dropped under the shard's lock");
    // The registry's copy of the key was dropped during the guard's drop.
    assert_eq!(*probe.seen.lock().unwrap(), vec![(true, true)]);
}
