//! The `tracing` feature with a real subscriber: a layer capturing every
//! event of the `scoped_cancel` target, installed per test on the test's
//! thread (each test's runtime is current-thread, so every event it
//! causes is seen by its own layer alone).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scoped_cancel::watchdog::Watchdog;
use scoped_cancel::{scoped_cancel, Registry, Scope};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Clone, Debug)]
struct Captured {
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "scoped_cancel" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        self.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            message,
            fields: fields.0,
        });
    }
}

impl Capture {
    /// Events with this message about the scope named `name`.
    fn find(&self, message: &str, name: &str) -> Vec<Captured> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|e| e.message == message && e.field("name") == Some(name))
            .cloned()
            .collect()
    }

    /// The one event with this message about `name`.
    fn one(&self, message: &str, name: &str) -> Captured {
        let found = self.find(message, name);
        assert_eq!(
            found.len(),
            1,
            "{message} for {name}: {:#?}",
            self.0.lock().unwrap()
        );
        found.into_iter().next().unwrap()
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, tracing::subscriber::set_default(subscriber))
}

fn assert_site(event: &Captured, line: u32) {
    assert_eq!(event.field("file"), Some(file!()), "{event:?}");
    assert_eq!(
        event.field("line"),
        Some(line.to_string().as_str()),
        "{event:?}"
    );
    assert!(event.field("age_ms").is_some(), "{event:?}");
}

#[test]
fn a_requested_cancel_is_one_event_with_name_site_key_and_cause_then_the_end() {
    static REG: Registry<u32> = Registry::new();
    let (events, _guard) = capture();
    let named = Scope::builder().name("t::requested");
    let (scope, line) = (named.enter(&REG, 7).unwrap(), line!());
    let entered = events.one("scope entered", "t::requested");
    assert_eq!(entered.level, Level::TRACE);
    assert_eq!(entered.field("key"), Some("7"));
    assert!(REG.cancel(&7));
    assert!(!REG.cancel(&7), "already cancelled");
    let cancelled = events.one("scope cancelled", "t::requested");
    assert_eq!(cancelled.level, Level::DEBUG);
    assert_eq!(cancelled.field("cause"), Some("requested"));
    assert_eq!(cancelled.field("key"), Some("7"));
    assert_site(&cancelled, line);
    drop(scope);
    let ended = events.one("scope ended", "t::requested");
    assert_eq!(ended.level, Level::DEBUG);
    assert_eq!(ended.field("cause"), Some("requested"));
    assert_eq!(ended.field("key"), Some("7"));
    assert_site(&ended, line);
}

#[test]
fn a_normal_end_is_a_trace_event_and_no_cancel_event() {
    let (events, _guard) = capture();
    let (scope, line) = (Scope::builder().name("t::exited").build(), line!());
    drop(scope);
    let ended = events.one("scope ended", "t::exited");
    assert_eq!(ended.level, Level::TRACE);
    assert_eq!(ended.field("cause"), Some("scope_exited"));
    assert_eq!(ended.field("key"), None, "anonymous");
    assert_site(&ended, line);
    assert!(events.find("scope cancelled", "t::exited").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_passed_deadline_is_a_warning_with_the_key() {
    static REG: Registry<&'static str> = Registry::new();
    let (events, _guard) = capture();
    let named = Scope::builder().name("t::deadline");
    let (scope, line) = (named.enter(&REG, "job-a").unwrap(), line!());
    let out = scope
        .run_timeout(Duration::from_millis(250), std::future::pending::<()>())
        .await;
    assert!(out.is_err());
    let cancelled = events.one("scope cancelled", "t::deadline");
    assert_eq!(cancelled.level, Level::WARN);
    assert_eq!(cancelled.field("cause"), Some("deadline"));
    assert_eq!(cancelled.field("key"), Some("\"job-a\""));
    assert_site(&cancelled, line);
    assert_eq!(
        events.one("scope ended", "t::deadline").field("cause"),
        Some("deadline")
    );
}

#[test]
fn a_parent_cancel_shows_on_the_child_end() {
    let (events, _guard) = capture();
    let root = Scope::builder().name("t::parent-root").build();
    let named = Scope::builder().name("t::parent-child");
    let (child, line) = (named.parent(&root).build(), line!());
    drop(root);
    drop(child);
    // tokio-util cancels children itself: no cancel event for the child,
    // its end carries the cause.
    assert!(events.find("scope cancelled", "t::parent-child").is_empty());
    let ended = events.one("scope ended", "t::parent-child");
    assert_eq!(ended.level, Level::DEBUG);
    assert_eq!(ended.field("cause"), Some("parent"));
    assert_site(&ended, line);
    let root_end = events.one("scope ended", "t::parent-root");
    assert_eq!(root_end.field("cause"), Some("scope_exited"));
}

#[test]
fn a_panic_inside_a_scope_is_a_cancel_event() {
    static REG: Registry<u32> = Registry::new();
    let (events, _guard) = capture();
    let caught = std::panic::catch_unwind(|| {
        let _scope = Scope::builder().name("t::panicked").enter(&REG, 3).unwrap();
        panic!("inside a scope");
    });
    assert!(caught.is_err());
    let cancelled = events.one("scope cancelled", "t::panicked");
    assert_eq!(cancelled.field("cause"), Some("panicked"));
    assert_eq!(cancelled.field("key"), Some("3"));
    assert_eq!(
        events.one("scope ended", "t::panicked").field("cause"),
        Some("panicked")
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_with_events_and_warns_once_per_straggler() {
    static REG: Registry<u32> = Registry::new();
    let (events, _guard) = capture();
    let named = Scope::builder().name("t::straggler");
    let (a, line) = (named.enter(&REG, 1).unwrap(), line!());
    let b = Scope::builder()
        .name("t::straggler")
        .enter(&REG, 2)
        .unwrap();
    let report = REG.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.stragglers().len(), 2);
    let cancels = events.find("scope cancelled", "t::straggler");
    assert_eq!(cancels.len(), 2);
    assert!(cancels.iter().all(|e| e.field("cause") == Some("shutdown")));
    let mut stragglers = events.find("shutdown straggler", "t::straggler");
    assert_eq!(stragglers.len(), 2, "one event per straggler");
    stragglers.sort_by(|x, y| x.field("key").cmp(&y.field("key")));
    for (event, key) in stragglers.iter().zip(["1", "2"]) {
        assert_eq!(event.level, Level::WARN);
        assert_eq!(event.field("key"), Some(key));
        assert_eq!(event.field("cause"), Some("shutdown"));
    }
    assert_site(&stragglers[0], line);
    drop((a, b));
    REG.reopen();
}

#[tokio::test(start_paused = true)]
async fn a_watchdog_warns_once_per_overdue_scope_and_its_expiry_is_a_warning() {
    static REG: Registry<u32> = Registry::new();
    let (events, _guard) = capture();
    let named = Scope::builder().name("t::overdue");
    let (reported_only, line) = (named.enter(&REG, 1).unwrap(), line!());
    let watchdog = Watchdog::builder(Duration::from_secs(60))
        .interval(Duration::from_secs(5))
        .watch(&REG);
    tokio::time::sleep(Duration::from_secs(600)).await;
    let overdue = events.one("scope overdue", "t::overdue");
    assert_eq!(overdue.level, Level::WARN);
    assert_eq!(overdue.field("key"), Some("1"));
    assert_eq!(overdue.field("cancelled"), Some("false"));
    assert_site(&overdue, line);
    assert!(!reported_only.is_cancelled());
    watchdog.stop().await;

    let expiring = Scope::builder().name("t::expired").enter(&REG, 2).unwrap();
    let watchdog = Watchdog::builder(Duration::from_secs(60))
        .cancel_overdue(true)
        .watch(&REG);
    expiring.token().cancelled().await;
    let cancelled = events.one("scope cancelled", "t::expired");
    assert_eq!(cancelled.level, Level::WARN);
    assert_eq!(cancelled.field("cause"), Some("expired"));
    assert_eq!(cancelled.field("key"), Some("2"));
    let overdue = events.one("scope overdue", "t::expired");
    assert_eq!(overdue.field("cancelled"), Some("true"));
    assert_eq!(overdue.field("cause"), Some("expired"));
    watchdog.stop().await;
    drop((reported_only, expiring));
}

#[scoped_cancel]
async fn annotated() {}

#[tokio::test]
async fn an_annotated_fn_is_named_by_its_path() {
    let (events, _guard) = capture();
    annotated().await;
    let ended = events.one("scope ended", "observe_tracing::annotated");
    assert_eq!(ended.field("file"), Some(file!()));
    assert_eq!(ended.field("cause"), Some("scope_exited"));
}
