//! The `metrics` feature against a real Prometheus exporter, scraped over
//! loopback HTTP. A process has one global recorder, so these tests share
//! one exporter (installed before any scope runs) and each uses scope names
//! of its own.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use scoped_cancel::watchdog::Watchdog;
use scoped_cancel::{scoped_cancel, Registry, Scope};

/// Installs the exporter once (its listener on a free loopback port);
/// returns the address to scrape.
fn exporter() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port");
        PrometheusBuilder::new()
            .with_http_listener(addr)
            .set_buckets_for_metric(
                Matcher::Full(scoped_cancel::metrics::SCOPE_DURATION.to_owned()),
                &[0.001, 0.1, 1.0, 10.0, 3600.0],
            )
            .expect("buckets")
            .install()
            .expect("install the exporter");
        scoped_cancel::metrics::describe_metrics();
        addr
    })
}

/// One scrape: the exposition text, over a plain HTTP/1.1 request. Retries
/// while the listener is starting (bounded).
fn scrape() -> String {
    let addr = exporter();
    for _ in 0..200 {
        if let Ok(mut stream) = TcpStream::connect(addr) {
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .expect("send the request");
            let mut response = String::new();
            stream
                .read_to_string(&mut response)
                .expect("read the response");
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            return response;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the exporter never listened on {addr}");
}

/// The value of the series `metric{labels...}` (labels in the order
/// given), or `None` if the scrape has no such series.
fn value(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let prefix = format!("{metric}{{{}}} ", labels.join(","));
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.trim().parse().expect("a number"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn the_live_gauge_rises_with_live_scopes_and_falls_back_to_zero() {
    exporter();
    static REG: Registry<u32> = Registry::new();
    let gauge = |text: &str| value(text, "scoped_cancel_live_scopes", &[("name", "m::gauge")]);
    let scopes: Vec<Scope> = (0..5)
        .map(|k| Scope::builder().name("m::gauge").enter(&REG, k).unwrap())
        .collect();
    assert_eq!(gauge(&scrape()), Some(5.0));
    let more: Vec<Scope> = (5..8)
        .map(|k| Scope::builder().name("m::gauge").enter(&REG, k).unwrap())
        .collect();
    assert_eq!(gauge(&scrape()), Some(8.0));
    drop(scopes);
    assert_eq!(gauge(&scrape()), Some(3.0));
    drop(more);
    let text = scrape();
    assert_eq!(gauge(&text), Some(0.0));
    // Keys never become labels.
    assert!(!text.contains("key="), "{text}");
}

#[test]
fn exits_are_counted_by_cause_and_timed_by_the_histogram() {
    exporter();
    static REG: Registry<u32> = Registry::new();
    const NAME: &str = "m::causes";
    runtime().block_on(async {
        // scope_exited, twice
        drop(Scope::builder().name(NAME).enter(&REG, 1).unwrap());
        drop(Scope::builder().name(NAME).enter(&REG, 1).unwrap());
        // requested
        let scope = Scope::builder().name(NAME).enter(&REG, 2).unwrap();
        assert!(REG.cancel(&2));
        drop(scope);
        // deadline (paused clock)
        let scope = Scope::builder().name(NAME).enter(&REG, 3).unwrap();
        let out = scope.run_timeout(Duration::from_secs(1), std::future::pending::<()>());
        assert!(out.await.is_err());
        // parent
        let parent = Scope::root();
        let child = REG.enter_child(4, &parent.token()).unwrap();
        drop(parent);
        drop(child);
        // panicked
        let caught = std::panic::catch_unwind(|| {
            let _scope = Scope::builder().name(NAME).enter(&REG, 5).unwrap();
            panic!("inside a scope");
        });
        assert!(caught.is_err());
        // shutdown
        let scope = Scope::builder().name(NAME).enter(&REG, 6).unwrap();
        assert_eq!(REG.cancel_all(), 1);
        drop(scope);
        // expired: a watchdog that cancels
        let scope = Scope::builder().name(NAME).enter(&REG, 7).unwrap();
        let watchdog = Watchdog::builder(Duration::from_secs(10))
            .cancel_overdue(true)
            .watch(&REG);
        scope.token().cancelled().await;
        watchdog.stop().await;
        drop(scope);
    });
    let text = scrape();
    let exits = |cause: &str| {
        value(
            &text,
            "scoped_cancel_scope_exits_total",
            &[("name", NAME), ("cause", cause)],
        )
    };
    assert_eq!(exits("scope_exited"), Some(2.0), "{text}");
    for cause in ["requested", "deadline", "panicked", "shutdown", "expired"] {
        assert_eq!(exits(cause), Some(1.0), "{cause}: {text}");
    }
    // The enter_child scope is named by its constructor.
    let parent = value(
        &text,
        "scoped_cancel_scope_exits_total",
        &[("name", "Registry::enter_child"), ("cause", "parent")],
    );
    assert_eq!(parent, Some(1.0), "{text}");
    // Every exit is timed: 7 scopes of this name ended.
    assert!(
        text.contains("# TYPE scoped_cancel_scope_duration_seconds histogram"),
        "{text}"
    );
    let count = value(
        &text,
        "scoped_cancel_scope_duration_seconds_count",
        &[("name", NAME)],
    );
    assert_eq!(count, Some(7.0), "{text}");
    let all = value(
        &text,
        "scoped_cancel_scope_duration_seconds_bucket",
        &[("name", NAME), ("le", "+Inf")],
    );
    assert_eq!(all, Some(7.0), "{text}");
    // The gauge came back to zero; the watchdog counted its report.
    assert_eq!(
        value(&text, "scoped_cancel_live_scopes", &[("name", NAME)]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "scoped_cancel_watchdog_overdue_total",
            &[("name", NAME)]
        ),
        Some(1.0),
        "{text}"
    );
    // Refusals are never exits: no series for them.
    assert!(!text.contains(r#"cause="key_occupied""#), "{text}");
    // describe_metrics() reached the exporter.
    assert!(
        text.contains("# HELP scoped_cancel_scope_exits_total"),
        "{text}"
    );
}

#[scoped_cancel(name = "m::annotated")]
async fn annotated(wait: tokio::sync::oneshot::Receiver<()>) {
    let _ = wait.await;
}

#[test]
fn an_annotated_fn_reports_under_its_name_through_its_site() {
    exporter();
    let gauge = |text: &str| {
        value(
            text,
            "scoped_cancel_live_scopes",
            &[("name", "m::annotated")],
        )
    };
    runtime().block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let call = tokio::spawn(annotated(rx));
        tokio::task::yield_now().await;
        assert_eq!(gauge(&scrape()), Some(1.0));
        tx.send(()).unwrap();
        call.await.unwrap();
        for _ in 0..3 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tx.send(()).unwrap();
            annotated(rx).await;
        }
    });
    let text = scrape();
    assert_eq!(gauge(&text), Some(0.0));
    let exits = value(
        &text,
        "scoped_cancel_scope_exits_total",
        &[("name", "m::annotated"), ("cause", "scope_exited")],
    );
    assert_eq!(exits, Some(4.0), "{text}");
}

#[test]
fn threads_registering_and_counting_at_once_lose_no_update() {
    exporter();
    static REG: Registry<u64> = Registry::new();
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 5_000;
    // Every thread's first scope races the others' to register the
    // handles of a name none of them used before.
    let start = std::sync::Arc::new(std::sync::Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut held = Vec::new();
                for i in 0..PER_THREAD {
                    let keyed = Scope::builder()
                        .name("m::threads")
                        .enter(&REG, t * PER_THREAD + i)
                        .unwrap();
                    let anonymous = Scope::builder().name("m::threads-anon").build();
                    if i % 10 == 0 {
                        keyed.cancel();
                    }
                    // Some scopes live on while others come and go.
                    if i % 100 == 0 {
                        held.push((keyed, anonymous));
                    }
                }
                held
            })
        })
        .collect();
    let held: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let text = scrape();
    let live = |name| value(&text, "scoped_cancel_live_scopes", &[("name", name)]);
    let kept = (THREADS * PER_THREAD / 100) as f64;
    assert_eq!(live("m::threads"), Some(kept), "{text}");
    assert_eq!(live("m::threads-anon"), Some(kept), "{text}");
    drop(held);
    let text = scrape();
    let live = |name| value(&text, "scoped_cancel_live_scopes", &[("name", name)]);
    let exits = |cause| {
        value(
            &text,
            "scoped_cancel_scope_exits_total",
            &[("name", "m::threads"), ("cause", cause)],
        )
    };
    assert_eq!(live("m::threads"), Some(0.0), "{text}");
    assert_eq!(live("m::threads-anon"), Some(0.0), "{text}");
    let total = (THREADS * PER_THREAD) as f64;
    assert_eq!(exits("requested"), Some(total / 10.0), "{text}");
    assert_eq!(exits("scope_exited"), Some(total - total / 10.0), "{text}");
    assert!(REG.is_empty());
}

static REFUSING: Registry<u32> = Registry::new();

#[scoped_cancel(registry = REFUSING, key = id, name = "m::refused")]
async fn refused_call(id: u32) -> Result<(), scoped_cancel::Cancelled> {
    Ok(())
}

#[test]
fn refusals_are_never_exits() {
    exporter();
    const NAME: &str = "m::refused";
    static CLOSED: Registry<u32> = Registry::new();
    let exits = |text: &str, cause: &str| {
        value(
            text,
            "scoped_cancel_scope_exits_total",
            &[("name", NAME), ("cause", cause)],
        )
        .unwrap_or(0.0)
    };
    let causes = [
        "requested",
        "deadline",
        "parent",
        "scope_exited",
        "panicked",
        "shutdown",
        "expired",
        "superseded",
        "key_occupied",
        "shutting_down",
    ];
    let held = Scope::builder().name(NAME).enter(&REFUSING, 1).unwrap();
    runtime().block_on(async {
        // Refused for an occupied key: by hand, and through the attribute.
        for _ in 0..3 {
            assert!(matches!(
                Scope::builder().name(NAME).enter(&REFUSING, 1),
                Err(scoped_cancel::EnterError::Occupied(1))
            ));
        }
        let refused = refused_call(1).await.unwrap_err();
        assert_eq!(refused.cause(), scoped_cancel::Cause::KeyOccupied);
        // A waiter that leaves the queue never had a scope.
        let mut waiter = std::pin::pin!(Scope::builder().name(NAME).enter_waiting(&REFUSING, 1));
        let polled = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(waiter.as_mut().poll(cx).is_pending())
        });
        assert!(polled.await, "queued behind the holder");
        // Refused while shutting down.
        drop(CLOSED.shutdown(Duration::ZERO));
        assert!(Scope::builder().name(NAME).enter(&CLOSED, 2).is_err());
        assert!(Scope::builder()
            .name(NAME)
            .enter_waiting(&CLOSED, 2)
            .await
            .is_err());
    });
    let text = scrape();
    assert_eq!(
        value(&text, "scoped_cancel_live_scopes", &[("name", NAME)]),
        Some(1.0),
        "only the holder is live: {text}"
    );
    for cause in causes {
        assert_eq!(exits(&text, cause), 0.0, "{cause}: {text}");
    }
    let timed = |text: &str| {
        value(
            text,
            "scoped_cancel_scope_duration_seconds_count",
            &[("name", NAME)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(timed(&text), 0.0, "{text}");
    // The holder's own end is the one exit.
    drop(held);
    let text = scrape();
    assert_eq!(
        value(&text, "scoped_cancel_live_scopes", &[("name", NAME)]),
        Some(0.0)
    );
    for cause in causes {
        let expected = if cause == "scope_exited" { 1.0 } else { 0.0 };
        assert_eq!(exits(&text, cause), expected, "{cause}: {text}");
    }
    assert_eq!(timed(&text), 1.0, "{text}");
    // No series for a refusal, under any name.
    assert!(!text.contains(r#"cause="key_occupied""#), "{text}");
    assert!(!text.contains(r#"cause="shutting_down""#), "{text}");
}
