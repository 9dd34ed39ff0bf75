//! `ScopeLayer` on a real axum server, driven by a real HTTP client over
//! loopback: each request's handler runs in its own scope, deadlines come
//! from the layer and the caller, and every way a request can end — an
//! answer, a timeout, a client that goes away, a cancel by id, shutdown —
//! ends its scope.

mod tower_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Router};
use scoped_cancel::tower::{ScopeLayer, TIMEOUT_MS};
use scoped_cancel::{Cause, Registry, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tower_support::{client, eventually, get as fetch, within, Cleanup, Server};

/// A generous bound for something that must happen (a server noticing a
/// closed socket, an answer); only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(10);

/// Tokens the handlers saw, for the test to watch.
type Seen = mpsc::UnboundedSender<Token>;

fn request_id(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("x-request-id")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// Sends its token to the test, then waits until cancelled; its cleanup
/// flag shows it was dropped.
async fn stuck(
    State((seen, cleaned)): State<(Seen, Arc<AtomicBool>)>,
    Extension(token): Extension<Token>,
) -> &'static str {
    let _cleanup = Cleanup(cleaned);
    seen.send(token).unwrap();
    std::future::pending::<()>().await;
    "unreachable"
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn the_handler_runs_in_its_scope_and_sees_the_callers_budget() {
    async fn budget(Extension(token): Extension<Token>) -> String {
        // The request's scope is the current one while the handler runs,
        // across its awaits.
        assert_eq!(Token::current().as_ref(), Some(&token));
        tokio::task::yield_now().await;
        assert_eq!(Token::current().as_ref(), Some(&token));
        assert!(!token.is_cancelled());
        match token.remaining() {
            Some(left) => format!("{}", left.as_millis()),
            None => "none".to_owned(),
        }
    }
    let app = Router::new().route("/budget", get(budget)).layer(
        ScopeLayer::new()
            .timeout(Duration::from_secs(60))
            .deadline_header(TIMEOUT_MS),
    );
    let server = Server::start(app).await;
    let client = client();
    let url = server.url("/budget");
    let ms = |body: &str| body.parse::<u64>().unwrap();

    // The layer's own timeout.
    let (status, _, body) = fetch(&client, &url, &[]).await;
    assert_eq!(status, 200);
    assert!((50_000..=60_000).contains(&ms(&body)), "{body}");
    // The plain-HTTP header shortens it.
    let (_, _, body) = fetch(&client, &url, &[("x-timeout-ms", "5000")]).await;
    assert!((1..=5_000).contains(&ms(&body)), "{body}");
    // So does `grpc-timeout` on a gRPC request...
    let grpc = [("content-type", "application/grpc"), ("grpc-timeout", "3S")];
    let (_, _, body) = fetch(&client, &url, &grpc).await;
    assert!((1..=3_000).contains(&ms(&body)), "{body}");
    // ...but never lengthens it.
    let (_, _, body) = fetch(&client, &url, &[("x-timeout-ms", "999999999")]).await;
    assert!(ms(&body) <= 60_000, "{body}");
    // A layer without a timeout and a request without a header: no deadline.
    let app = Router::new()
        .route("/budget", get(budget))
        .layer(ScopeLayer::new());
    let plain = Server::start(app).await;
    let (_, _, body) = fetch(&client, &plain.url("/budget"), &[("grpc-timeout", "1S")]).await;
    assert_eq!(body, "none", "grpc-timeout is read on gRPC requests only");
    plain.stop().await;
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_timeout_answers_504_in_time_and_cancels_the_handler() {
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let cleaned = Arc::new(AtomicBool::new(false));
    let app = Router::new()
        .route("/slow", get(stuck))
        .with_state((seen, cleaned.clone()))
        .layer(ScopeLayer::new().timeout(Duration::from_millis(100)));
    let server = Server::start(app).await;
    let client = client();

    let started = std::time::Instant::now();
    let (status, _, body) = within(LIMIT, "504", fetch(&client, &server.url("/slow"), &[])).await;
    let took = started.elapsed();
    assert_eq!(status, 504);
    assert_eq!(body, "deadline exceeded\n");
    assert!(
        took >= Duration::from_millis(100),
        "answered before the deadline: {took:?}"
    );
    let token = tokens.recv().await.unwrap();
    assert_eq!(token.cause(), Some(Cause::Deadline));
    assert!(
        cleaned.load(Ordering::SeqCst),
        "the handler's future was dropped"
    );

    // A gRPC caller gets the spec's DEADLINE_EXCEEDED as a trailers-only answer.
    let grpc = [
        ("content-type", "application/grpc"),
        ("grpc-timeout", "20m"),
    ];
    let (status, headers, body) = fetch(&client, &server.url("/slow"), &grpc).await;
    assert_eq!(status, 200);
    assert_eq!(headers["grpc-status"], "4");
    assert_eq!(body, "");
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_client_that_disconnects_cancels_the_handler_and_ends_its_scope() {
    static REQUESTS: Registry<String> = Registry::new();
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let cleaned = Arc::new(AtomicBool::new(false));
    let app = Router::new()
        .route("/slow", get(stuck))
        .with_state((seen, cleaned.clone()))
        .layer(ScopeLayer::new().keyed(&REQUESTS, request_id));
    let server = Server::start(app).await;

    // A raw connection, so the test decides exactly when the client goes.
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\nx-request-id: gone\r\n\r\n")
        .await
        .unwrap();
    let token = within(LIMIT, "handler started", tokens.recv())
        .await
        .unwrap();
    assert!(REQUESTS.contains_key("gone"));
    drop(conn);

    within(LIMIT, "handler cancelled", token.cancelled()).await;
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
    assert!(
        eventually(LIMIT, || REQUESTS.is_empty()).await,
        "{:?}",
        REQUESTS.report()
    );
    assert!(cleaned.load(Ordering::SeqCst));
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn cancel_by_id_answers_503_and_runs_the_handlers_cleanup() {
    static REQUESTS: Registry<String> = Registry::new();
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let cleaned = Arc::new(AtomicBool::new(false));
    let app = Router::new()
        .route("/slow", get(stuck))
        .with_state((seen, cleaned.clone()))
        .layer(
            ScopeLayer::new()
                .name("slow request")
                .keyed(&REQUESTS, request_id),
        );
    let server = Server::start(app).await;
    let client = client();
    let url = server.url("/slow");

    let first = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { fetch(&client, &url, &[("x-request-id", "job-1")]).await }
    });
    let token = within(LIMIT, "handler started", tokens.recv())
        .await
        .unwrap();
    let report = REQUESTS.report();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].key(), "job-1");
    assert_eq!(report[0].name(), "slow request");
    assert!(report[0].file().ends_with("tower_http.rs"), "{}", report[0]);

    // The key is taken while the request runs.
    let (status, headers, _) = fetch(&client, &url, &[("x-request-id", "job-1")]).await;
    assert_eq!(status, 409);
    assert!(headers.get("grpc-status").is_none());
    let grpc = [
        ("x-request-id", "job-1"),
        ("content-type", "application/grpc"),
    ];
    let (_, headers, _) = fetch(&client, &url, &grpc).await;
    assert_eq!(headers["grpc-status"], "6");

    assert!(REQUESTS.cancel("job-1"));
    let (status, _, body) = within(LIMIT, "503", first).await.unwrap();
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (503, "request cancelled\n")
    );
    assert_eq!(token.cause(), Some(Cause::Requested));
    assert!(cleaned.load(Ordering::SeqCst));
    assert!(eventually(LIMIT, || REQUESTS.is_empty()).await);
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_malformed_deadline_header_is_answered_400_never_a_panic() {
    async fn ok() -> &'static str {
        "ran"
    }
    let app = Router::new()
        .route("/", get(ok))
        .layer(ScopeLayer::new().deadline_header(TIMEOUT_MS));
    let server = Server::start(app).await;
    let client = client();
    let url = server.url("/");
    for bad in ["", "+5", "1.5", "12345678901", "-1", "5ms"] {
        let (status, _, body) = fetch(&client, &url, &[("x-timeout-ms", bad)]).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (400, "malformed deadline header\n"),
            "{bad:?}"
        );
    }
    for bad in ["", "5", "+5S", "123456789S", "5s", "5 S", "1Y"] {
        let headers = [("content-type", "application/grpc"), ("grpc-timeout", bad)];
        let (status, headers, _) = fetch(&client, &url, &headers).await;
        assert_eq!(status, 200, "{bad:?}");
        assert_eq!(headers["grpc-status"], "3", "{bad:?}");
    }
    // An already-spent budget is answered at once, without running the handler.
    let (status, _, _) = fetch(&client, &url, &[("x-timeout-ms", "0")]).await;
    assert_eq!(status, 504);
    let (status, _, body) = fetch(&client, &url, &[("x-timeout-ms", "60000")]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ran"));
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn an_sse_stream_keeps_its_scope_while_streaming_and_loses_it_when_the_client_goes() {
    use axum::response::sse::{Event, Sse};
    use futures_util::stream;

    static STREAMS: Registry<String> = Registry::new();
    async fn ticks(
        State(seen): State<Seen>,
        Extension(token): Extension<Token>,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
        seen.send(token.clone()).unwrap();
        let events = stream::unfold(0u64, move |n| {
            let token = token.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                // The body is polled with the request's scope current.
                let current = Token::current() == Some(token);
                Some((Ok(Event::default().data(format!("{n} {current}"))), n + 1))
            }
        });
        Sse::new(events)
    }
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/ticks", get(ticks))
        .with_state(seen)
        .layer(ScopeLayer::new().keyed(&STREAMS, request_id));
    let server = Server::start(app).await;

    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /ticks HTTP/1.1\r\nhost: x\r\nx-request-id: sse\r\n\r\n")
        .await
        .unwrap();
    let token = within(LIMIT, "stream started", tokens.recv())
        .await
        .unwrap();
    // The handler has returned; the scope lives on in the body while events flow.
    let mut seen_events = 0;
    let mut buf = vec![0u8; 4096];
    while seen_events < 5 {
        let n = within(LIMIT, "events", conn.read(&mut buf)).await.unwrap();
        assert!(n > 0, "stream ended early");
        let text = String::from_utf8_lossy(&buf[..n]);
        seen_events += text.matches("data: ").count();
        assert!(!text.contains("false"), "{text}");
        assert!(!token.is_cancelled());
        assert!(STREAMS.contains_key("sse"));
    }
    drop(conn);
    within(LIMIT, "stream's scope ended", token.cancelled()).await;
    assert_eq!(token.cause(), Some(Cause::ScopeExited));
    assert!(eventually(LIMIT, || STREAMS.is_empty()).await);
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn graceful_shutdown_cancels_requests_and_reports_stragglers() {
    static REQUESTS: Registry<String> = Registry::new();
    type Release = Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>;
    /// Ignores cancellation: it blocks its thread until the test releases
    /// it, as a careless handler does (`block_in_place`, so the runtime's
    /// other tasks move to another thread and only this handler is stuck).
    async fn blocking(
        State((seen, release)): State<(Seen, Release)>,
        Extension(token): Extension<Token>,
    ) -> &'static str {
        seen.send(token).unwrap();
        tokio::task::block_in_place(|| release.lock().unwrap().recv().unwrap());
        "done"
    }
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let (release, released) = std::sync::mpsc::channel();
    let released: Release = Arc::new(std::sync::Mutex::new(released));
    let cleaned = Arc::new(AtomicBool::new(false));
    let app = Router::new()
        .route("/block", get(blocking))
        .with_state((seen.clone(), released))
        .merge(
            Router::new()
                .route("/slow", get(stuck))
                .with_state((seen, cleaned.clone())),
        )
        .layer(ScopeLayer::new().name("api").keyed(&REQUESTS, request_id));
    let server = Server::start(app).await;
    let client = client();
    let polite = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/slow"));
        async move { fetch(&client, &url, &[("x-request-id", "polite")]).await }
    });
    let careless = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/block"));
        async move { fetch(&client, &url, &[("x-request-id", "careless")]).await }
    });
    let (first, second) = within(LIMIT, "both started", async {
        (tokens.recv().await.unwrap(), tokens.recv().await.unwrap())
    })
    .await;

    // A shutdown whose grace only a bug reaches: it cancels both, and the
    // polite request ends while the careless one blocks.
    let shutdown = tokio::spawn(REQUESTS.shutdown(LIMIT));
    let (status, _, body) = within(LIMIT, "polite", polite).await.unwrap();
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (503, "server shutting down\n")
    );
    assert!(cleaned.load(Ordering::SeqCst));
    assert!(first.is_cancelled() && second.is_cancelled());
    assert!(
        eventually(LIMIT, || REQUESTS.len() == 1).await,
        "{:?}",
        REQUESTS.report()
    );
    assert!(
        !shutdown.is_finished(),
        "shutdown must wait for the blocked request"
    );
    // A second shutdown with no grace reports the straggler at once.
    let report = REQUESTS.shutdown(Duration::ZERO).await;
    assert!(!report.is_clean());
    let keys: Vec<&str> = report
        .stragglers()
        .iter()
        .map(|s| s.key().as_str())
        .collect();
    assert_eq!(keys, ["careless"], "{report}");
    assert_eq!(report.stragglers()[0].name(), "api");
    assert_eq!(
        report.stragglers()[0].cause(),
        Some(Cause::Shutdown),
        "{report}"
    );
    assert!(
        report.to_string().contains("api (key \"careless\") at"),
        "{report}"
    );

    // Refused while shutting down.
    let (status, _, _) = fetch(&client, &server.url("/slow"), &[("x-request-id", "late")]).await;
    assert_eq!(status, 503);

    // The straggler finishes its blocking work. Its handler answered in
    // the poll that ran it, which the layer never throws away.
    release.send(()).unwrap();
    let (status, _, body) = within(LIMIT, "careless", careless).await.unwrap();
    assert_eq!((status.as_u16(), body.as_str()), (200, "done"));
    let report = within(LIMIT, "first shutdown", shutdown).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert!(REQUESTS.is_empty());
    REQUESTS.reopen();
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_deadline_that_passes_mid_stream_cuts_the_stream_off() {
    use axum::response::sse::{Event, Sse};
    use futures_util::stream;

    async fn ticks(
        State(seen): State<Seen>,
        Extension(token): Extension<Token>,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
        seen.send(token).unwrap();
        // The first event at once (the body polls it before looking at
        // the deadline), then one every 5 ms until the deadline cuts in.
        Sse::new(stream::unfold(0u64, |n| async move {
            if n > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Some((Ok(Event::default().data(n.to_string())), n + 1))
        }))
    }
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/ticks", get(ticks))
        .with_state(seen)
        .layer(ScopeLayer::new().timeout(Duration::from_millis(150)));
    let server = Server::start(app).await;
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /ticks HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let token = within(LIMIT, "stream started", tokens.recv())
        .await
        .unwrap();
    // The stream flows until the deadline, then the server cuts the
    // connection (an HTTP body cannot carry an error status mid-stream).
    let mut received = Vec::new();
    let mut buf = vec![0u8; 4096];
    within(LIMIT, "stream cut off", async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("data: 0"), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the chunked body must not end cleanly"
    );
    assert_eq!(token.cause(), Some(Cause::Deadline));
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn requests_under_a_parent_are_answered_503_when_it_is_cancelled() {
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let cleaned = Arc::new(AtomicBool::new(false));
    let lifetime = scoped_cancel::Scope::builder()
        .name("server lifetime")
        .build();
    let app = Router::new()
        .route("/slow", get(stuck))
        .with_state((seen, cleaned.clone()))
        .layer(ScopeLayer::new().parent(&lifetime.token()));
    let server = Server::start(app).await;
    let client = client();
    let call = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/slow"));
        async move { fetch(&client, &url, &[]).await }
    });
    let token = within(LIMIT, "handler started", tokens.recv())
        .await
        .unwrap();
    drop(lifetime);
    let (status, _, body) = within(LIMIT, "503", call).await.unwrap();
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (503, "server shutting down\n")
    );
    assert_eq!(token.cause(), Some(Cause::Parent));
    assert!(cleaned.load(Ordering::SeqCst));
    server.stop().await;
}
