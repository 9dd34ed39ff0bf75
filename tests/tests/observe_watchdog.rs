//! The watchdog over a registry, on tokio's paused clock, and the dump.
//! `#[scoped_cancel::test]` fails any test that leaves the watchdog's task
//! or scope behind.

use std::time::Duration;

use scoped_cancel::dump::ScopeDump;
use scoped_cancel::watchdog::Watchdog;
use scoped_cancel::{scoped_cancel, Cause, Registry, Scope};
use tokio::time::{sleep, Instant};

const MINUTE: Duration = Duration::from_secs(60);

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[scoped_cancel::test]
async fn a_parked_scope_is_reported_once_after_max_age_and_not_cancelled() {
    tokio::time::pause();
    static REG: Registry<u32> = Registry::new();
    let parked = REG.enter(1).unwrap();
    let watchdog = Watchdog::builder(MINUTE)
        .interval(Duration::from_secs(10))
        .watch(&REG);
    sleep(Duration::from_secs(50)).await;
    assert_eq!(watchdog.reported(), 0, "not yet a minute old");
    sleep(Duration::from_secs(30)).await;
    assert_eq!(watchdog.reported(), 1);
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(watchdog.reported(), 1, "reported once, not on every sweep");
    assert!(!parked.is_cancelled(), "report only");
    watchdog.stop().await;
    drop(parked);
    tokio::time::resume();
}

#[scoped_cancel::test]
async fn cancel_overdue_releases_the_waiters_of_a_parked_scope_which_keeps_its_key() {
    tokio::time::pause();
    static REG: Registry<u32> = Registry::new();
    let start = Instant::now();
    let parked = REG.enter(1).unwrap();
    let token = parked.token();
    let waiter = tokio::spawn(async move {
        token.cancelled().await;
        token.cause()
    });
    // A call raced against its scope, stuck in a body that never ends.
    let stuck = tokio::spawn(REG.enter(2).unwrap().run(std::future::pending::<()>()));
    let watchdog = Watchdog::builder(MINUTE)
        .interval(Duration::from_secs(10))
        .cancel_overdue(true)
        .watch(&REG);

    assert_eq!(waiter.await.unwrap(), Some(Cause::Expired));
    assert!(start.elapsed() >= MINUTE);
    let out = stuck.await.unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Expired);
    // The raced call ended and released its key; the parked guard holds its own.
    assert!(!REG.contains_key(&2));
    assert!(REG.contains_key(&1));
    assert!(
        REG.enter(1).is_err(),
        "the key stays occupied until the guard drops"
    );
    assert_eq!(watchdog.reported(), 2);
    watchdog.stop().await;
    drop(parked);
    assert!(REG.is_empty());
    tokio::time::resume();
}

#[scoped_cancel::test]
async fn a_scope_that_ends_in_time_is_never_reported() {
    tokio::time::pause();
    static REG: Registry<u32> = Registry::new();
    let watchdog = Watchdog::builder(MINUTE)
        .interval(Duration::from_secs(5))
        .cancel_overdue(true)
        .watch(&REG);
    let mut calls = Vec::new();
    for key in 0..20 {
        calls.push(tokio::spawn(async move {
            let scope = REG.enter(key).unwrap();
            sleep(Duration::from_secs(55)).await;
            drop(scope);
        }));
        sleep(Duration::from_secs(7)).await;
    }
    for call in calls {
        call.await.unwrap();
    }
    sleep(Duration::from_secs(600)).await;
    assert_eq!(watchdog.reported(), 0);
    watchdog.stop().await;
    tokio::time::resume();
}

#[scoped_cancel::test]
async fn the_watchdog_stops_when_asked_or_dropped_or_when_its_registry_is_gone() {
    // The paused clock: the watchdogs' 1 ms ticks, and the waits below,
    // pass in no wall time.
    tokio::time::pause();
    static REG: Registry<u32> = Registry::new();
    let before = alive_tasks();
    let watchdog = Watchdog::builder(MINUTE)
        .interval(Duration::from_millis(1))
        .watch(&REG);
    assert_eq!(alive_tasks(), before + 1);
    watchdog.stop().await;
    assert_eq!(alive_tasks(), before);

    let dropped = Watchdog::builder(MINUTE)
        .interval(Duration::from_millis(1))
        .watch(&REG);
    drop(dropped);
    let registry: Registry<u32> = Registry::new();
    let orphaned = Watchdog::builder(MINUTE)
        .interval(Duration::from_millis(1))
        .watch(&registry);
    drop(registry);
    // Both tasks end at their next tick, with nothing left behind (the
    // test's leak check also looks for their scopes). On the paused clock,
    // a hundred ticks pass in no wall time.
    for _ in 0..100 {
        if alive_tasks() == before {
            break;
        }
        sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(alive_tasks(), before);
    drop(orphaned);
    tokio::time::resume();
}

#[scoped_cancel(name = "observe_watchdog::dumped")]
async fn dumped(wait: tokio::sync::oneshot::Receiver<()>) {
    let _ = wait.await;
}

#[scoped_cancel::test]
async fn the_dump_groups_a_sites_scopes_with_count_and_keys() {
    static REG: Registry<u32> = Registry::new();
    let mut scopes: Vec<_> = (0..3)
        .map(|k| {
            Scope::builder()
                .name("observe_watchdog::keyed")
                .enter(&REG, k)
                .unwrap()
        })
        .collect();
    scopes[0].cancel();
    let dump = ScopeDump::registry(&REG);
    assert_eq!((dump.len(), dump.sites()), (3, 1));
    let text = dump.to_string();
    assert!(
        text.starts_with("3 live scope(s) at 1 site(s)\n\n3 × observe_watchdog::keyed at "),
        "{text}"
    );
    assert!(text.contains(", 1 cancelled"), "{text}");
    for key in ["key 0, ", "key 1, ", "key 2, "] {
        assert!(text.contains(key), "{text}");
    }
    assert!(
        dump.json().contains(r#""count":3,"cancelled":1,"#),
        "{}",
        dump.json()
    );

    // Tracked scopes: this test's collector records the annotated calls.
    let mut senders = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        senders.push(tx);
        calls.push(tokio::spawn(dumped(rx)));
    }
    tokio::task::yield_now().await;
    let text = ScopeDump::tracked().to_string();
    assert!(text.contains("2 × observe_watchdog::dumped at "), "{text}");
    assert!(text.contains("3 × observe_watchdog::keyed at "), "{text}");
    let (content_type, json) = scoped_cancel::dump::respond(None, Some("application/json"));
    assert_eq!(content_type, "application/json");
    assert!(
        json.contains(r#"{"name":"observe_watchdog::dumped","#),
        "{json}"
    );
    drop(senders);
    for call in calls {
        call.await.unwrap();
    }
    scopes.clear();
}
