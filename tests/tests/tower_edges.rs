//! The layer's edges, on a real server and a real client on loopback: a
//! body whose frames are always ready still ends at the deadline or the
//! cancel; keys longer than the cap are refused; a repeated `grpc-timeout`
//! keeps the smallest; gRPC-Web requests get gRPC's trailers-only answers.

mod tower_support;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::{Extension, Router};
use http_body::Frame;
use http_body_util::BodyExt;
use scoped_cancel::tower::ScopeLayer;
use scoped_cancel::{Cause, Registry, Token};
use tokio::sync::mpsc;
use tower_support::{client, get as fetch, within, Server};

/// A body that never waits: every frame is ready at once, for ever.
struct Endless {
    sent: Arc<AtomicU64>,
}

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[b'x'; 1024])))))
    }
}

/// The deadline of the tests that wait for one: long enough that a loaded
/// machine sends frames before it, short enough to keep the test quick.
const DEADLINE: Duration = Duration::from_millis(300);
/// How long an ending may take: a hundred deadlines.
const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_ready_stream_ends_at_the_deadline() {
    let sent = Arc::new(AtomicU64::new(0));
    let (tokens, mut seen) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/stream",
            get({
                let sent = sent.clone();
                move |Extension(token): Extension<Token>| async move {
                    tokens.send(token).unwrap();
                    Body::new(Endless { sent })
                }
            }),
        )
        .layer(ScopeLayer::new().timeout(DEADLINE));
    let server = Server::start(app).await;
    let client = client();
    let started = std::time::Instant::now();
    let response = client
        .get(server.url("/stream").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = seen.recv().await.unwrap();
    // The client reads until the server cuts the body off with an error.
    let mut body = response.into_body();
    let ended = within(LIMIT, "the endless body ended", async {
        loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return,
            }
        }
    });
    ended.await;
    assert!(started.elapsed() >= DEADLINE);
    assert_eq!(token.cause(), Some(Cause::Deadline));
    assert!(
        sent.load(Ordering::Relaxed) > 1,
        "frames were sent before the deadline"
    );
    server.stop().await;
}

static STREAMS: Registry<u64> = Registry::new();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_ready_stream_ends_when_its_key_is_cancelled() {
    let sent = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/stream",
            get({
                let sent = sent.clone();
                move || async move { Body::new(Endless { sent }) }
            }),
        )
        .layer(ScopeLayer::new().keyed(&STREAMS, |_| Some(1)));
    let server = Server::start(app).await;
    let client = client();
    let response = client
        .get(server.url("/stream").parse().unwrap())
        .await
        .unwrap();
    let mut body = response.into_body();
    // Some frames arrive while the key is held.
    assert!(matches!(body.frame().await, Some(Ok(_))));
    assert!(STREAMS.cancel(&1));
    within(LIMIT, "the endless body ended", async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
    within(LIMIT, "the key was released", async {
        while STREAMS.contains_key(&1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    server.stop().await;
}

static KEYED: Registry<String> = Registry::new();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_longer_than_the_cap_is_refused_with_400_and_invalid_argument() {
    let app = Router::new().route("/", get(|| async { "ok" })).layer(
        ScopeLayer::new().max_key_len(16).keyed(&KEYED, |parts| {
            Some(parts.headers.get("x-id")?.to_str().ok()?.to_owned())
        }),
    );
    let server = Server::start(app).await;
    let client = client();
    let url = server.url("/");
    // `Debug` of a String adds two quotes: 14 characters fit in 16 bytes.
    let (status, _, body) = fetch(&client, &url, &[("x-id", &"a".repeat(14))]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
    let (status, _, body) = fetch(&client, &url, &[("x-id", &"a".repeat(15))]).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (400, "request key too long\n")
    );
    let grpc = [
        ("x-id", "a".repeat(4_000)),
        ("content-type", "application/grpc".into()),
    ];
    let grpc: Vec<(&str, &str)> = grpc.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, headers, _) = fetch(&client, &url, &grpc).await;
    assert_eq!(status, 200);
    assert_eq!(headers["grpc-status"], "3");
    assert!(KEYED.is_empty());
    server.stop().await;
}

/// Answers the request's remaining budget, in milliseconds.
async fn budget(Extension(token): Extension<Token>) -> String {
    token
        .remaining()
        .map_or(0, |left| left.as_millis())
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_grpc_timeout_keeps_the_smallest_and_a_bad_one_is_refused() {
    let app = Router::new()
        .route("/", get(budget))
        .layer(ScopeLayer::new());
    let server = Server::start(app).await;
    let client = client();
    let url = server.url("/");
    let grpc = ("content-type", "application/grpc");
    for order in [["10S", "20000m"], ["20000m", "10S"]] {
        let headers = [grpc, ("grpc-timeout", order[0]), ("grpc-timeout", order[1])];
        let (status, _, body) = fetch(&client, &url, &headers).await;
        assert_eq!(status, 200);
        let left: u64 = body.parse().unwrap();
        assert!(left <= 10_000 && left > 0, "{order:?}: {left} ms left");
    }
    let headers = [grpc, ("grpc-timeout", "10S"), ("grpc-timeout", "soon")];
    let (status, headers, _) = fetch(&client, &url, &headers).await;
    assert_eq!(status, 200);
    assert_eq!(headers["grpc-status"], "3", "every copy must parse");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_web_request_gets_a_trailers_only_answer_it_can_read() {
    let app = Router::new()
        .route("/", get(std::future::pending::<String>))
        .layer(ScopeLayer::new());
    let server = Server::start(app).await;
    let client = client();
    for content_type in ["application/grpc-web+proto", "application/grpc-web-text"] {
        let headers = [("content-type", content_type), ("grpc-timeout", "50m")];
        let (status, headers, body) = fetch(&client, &server.url("/"), &headers).await;
        // gRPC-Web reads a trailers-only response's status from its headers.
        assert_eq!(status, 200, "{content_type}");
        assert_eq!(headers["grpc-status"], "4", "{content_type}");
        assert!(body.is_empty(), "{content_type}: {body:?}");
    }
    server.stop().await;
}
