//! `PropagateDeadlineLayer::header(..)` over plain HTTP, against a real
//! server whose `ScopeLayer` reads the same header: the caller's remaining
//! budget travels in whole milliseconds (less the margin), never raises a
//! value the request already carries, is absent without a deadline, and
//! the callee enforces it.

mod tower_support;

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::{BodyExt, Empty};
use scoped_cancel::tower::{PropagateDeadlineLayer, ScopeLayer, TIMEOUT_MS};
use scoped_cancel::{scoped_cancel, Cause, Scope, Token};
use tower::ServiceExt;
use tower_support::{client, within, Server};

/// A generous bound for something that must happen; only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(10);

/// Answers `"<x-timeout-ms or -> <its own remaining budget in ms or ->"`.
async fn budget(headers: http::HeaderMap, Extension(token): Extension<Token>) -> String {
    let header = headers
        .get("x-timeout-ms")
        .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned());
    let left = token
        .remaining()
        .map_or("-".to_owned(), |d| d.as_millis().to_string());
    format!("{header} {left}")
}

async fn serve() -> Server {
    let app = Router::new()
        .route("/budget", get(budget))
        .route("/stuck", get(std::future::pending::<&'static str>))
        .layer(ScopeLayer::new().deadline_header(TIMEOUT_MS));
    Server::start(app).await
}

/// One GET through `layer` over a plain HTTP client, with `headers`:
/// status and body, or the error's cause.
async fn send(
    layer: PropagateDeadlineLayer,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), Option<Cause>> {
    let mut req = http::Request::get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Empty::new()).unwrap();
    let service = tower::ServiceBuilder::new().layer(layer).service(client());
    match service.oneshot(req).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        }
        Err(err) => Err(err
            .downcast::<scoped_cancel::Cancelled>()
            .ok()
            .map(|c| c.cause())),
    }
}

/// The two numbers of a `budget` answer (`None` for `-`).
fn numbers(body: &str) -> (Option<u64>, Option<u64>) {
    let mut parts = body.split(' ').map(|p| p.parse().ok());
    (parts.next().flatten(), parts.next().flatten())
}

fn header() -> PropagateDeadlineLayer {
    PropagateDeadlineLayer::new().header(TIMEOUT_MS)
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn the_remaining_budget_travels_in_the_header() {
    let server = serve().await;
    let url = server.url("/budget");
    let budget = Duration::from_secs(30);
    let margin = Duration::from_secs(5);
    let (left_before, sent, with_margin) = Scope::root()
        .run_timeout(budget, async {
            let left = Token::current().unwrap().remaining().unwrap();
            let sent = send(header(), &url, &[]).await.unwrap();
            let with_margin = send(header().margin(margin), &url, &[]).await.unwrap();
            (left, sent, with_margin)
        })
        .await
        .unwrap();
    let bound = |d: Duration| d.as_millis() as u64;

    // Sent: at most what the caller had left, never less than that less
    // the time the calls may take.
    assert_eq!(sent.0, 200);
    let (header_ms, callee_left) = numbers(&sent.1);
    let header_ms = header_ms.expect("x-timeout-ms sent");
    assert!(
        header_ms <= bound(left_before),
        "{header_ms} ms sent, {left_before:?} left"
    );
    assert!(header_ms >= bound(left_before - LIMIT), "{header_ms}");
    // The callee's deadline comes from it.
    assert!(callee_left.expect("a deadline") <= header_ms);

    // With a margin, the margin comes off.
    let (header_ms, _) = numbers(&with_margin.1);
    assert!(
        header_ms.expect("x-timeout-ms sent") <= bound(left_before - margin),
        "{with_margin:?}"
    );
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_header_already_on_the_request_is_only_ever_lowered() {
    let server = serve().await;
    let url = server.url("/budget");
    let (smaller, larger) = Scope::root()
        .run_timeout(Duration::from_secs(30), async {
            let smaller = send(header(), &url, &[("x-timeout-ms", "1000")]).await;
            let larger = send(header(), &url, &[("x-timeout-ms", "99999999")]).await;
            (smaller.unwrap(), larger.unwrap())
        })
        .await
        .unwrap();
    assert_eq!(numbers(&smaller.1).0, Some(1000), "{smaller:?}");
    let lowered = numbers(&larger.1).0.unwrap();
    assert!(lowered <= 30_000, "{larger:?}");
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn no_header_without_a_deadline_or_without_asking_for_it() {
    let server = serve().await;
    let url = server.url("/budget");
    // No current scope.
    let (_, body) = send(header(), &url, &[]).await.unwrap();
    assert_eq!(body, "- -");
    // A current scope without a deadline.
    let out = Scope::root().run(send(header(), &url, &[])).await.unwrap();
    assert_eq!(out.unwrap().1, "- -");
    // A deadline, but the layer was not asked for the header: a plain HTTP
    // request carries no budget (`grpc-timeout` is for gRPC requests).
    let out = Scope::root()
        .run_timeout(
            Duration::from_secs(30),
            send(PropagateDeadlineLayer::new(), &url, &[]),
        )
        .await
        .unwrap();
    assert_eq!(out.unwrap().1, "- -");
    server.stop().await;
}

/// Calls the stuck route from a scope with `DEADLINE` left; cooperative, so
/// the call is not dropped at the caller's own deadline and the callee's
/// answer arrives.
#[scoped_cancel(timeout = "2s", cooperative, token = _token)]
async fn call_stuck(url: String) -> Option<Result<(u16, String), Option<Cause>>> {
    Some(send(header(), &url, &[]).await)
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn the_callee_enforces_the_budget_it_was_sent() {
    let server = serve().await;
    let started = std::time::Instant::now();
    let answer = within(
        LIMIT,
        "the callee answered",
        call_stuck(server.url("/stuck")),
    )
    .await
    .expect("the body ran to its end");
    assert_eq!(answer, Ok((504, "deadline exceeded\n".to_owned())));
    // Not before the budget sent (2 s, rounded down to whole ms) ran out.
    assert!(started.elapsed() >= Duration::from_millis(1999));
    server.stop().await;
}
