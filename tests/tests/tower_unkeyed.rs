//! `ScopeLayer::keyed` with a key extractor that returns `None`: such a
//! request gets an anonymous scope — it runs, is cancelled with its
//! connection and by the layer's parent, ends when answered, but is not in
//! the registry, cannot be cancelled by key, and never conflicts with
//! another request.

mod tower_support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Router};
use scoped_cancel::tower::ScopeLayer;
use scoped_cancel::{Cause, Registry, Scope, Token};
use tokio::sync::{mpsc, Semaphore};
use tower_support::{client, get as fetch, within, Server};

/// A generous bound for something that must happen; only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(10);

fn request_id(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("x-request-id")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// Sends its token to the test, then answers once the test adds a permit.
async fn gated(
    State((seen, gate)): State<(mpsc::UnboundedSender<Token>, Arc<Semaphore>)>,
    Extension(token): Extension<Token>,
) -> &'static str {
    assert_eq!(
        Token::current().as_ref(),
        Some(&token),
        "the request's scope is current"
    );
    seen.send(token).unwrap();
    gate.acquire().await.unwrap().forget();
    "done"
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn requests_without_a_key_get_anonymous_scopes() {
    static REQUESTS: Registry<String> = Registry::new();
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let app = Router::new()
        .route("/", get(gated))
        .with_state((seen, gate.clone()))
        .layer(
            ScopeLayer::new()
                .name("unkeyed")
                .keyed(&REQUESTS, request_id),
        );
    let server = Server::start(app).await;
    let client = client();
    let url = server.url("/");

    // Two requests without an id run at once: no conflict, no entry.
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { fetch(&client, &url, &[]).await })
        })
        .collect();
    let first = within(LIMIT, "first started", tokens.recv()).await.unwrap();
    let second = within(LIMIT, "second started", tokens.recv())
        .await
        .unwrap();
    assert_ne!(first, second, "each request has its own scope");
    assert!(!first.is_cancelled() && !second.is_cancelled());
    assert!(REQUESTS.is_empty(), "{:?}", REQUESTS.report());
    assert_eq!(first.deadline(), None);

    // A keyed request alongside them is in the registry, alone.
    let keyed = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { fetch(&client, &url, &[("x-request-id", "k1")]).await }
    });
    let keyed_token = within(LIMIT, "keyed started", tokens.recv()).await.unwrap();
    let report = REQUESTS.report();
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].key(), "k1");
    assert_eq!(report[0].name(), "unkeyed");
    // A cancel by any key reaches none of the anonymous requests.
    assert_eq!(REQUESTS.cancel_all(), 1);
    assert_eq!(keyed_token.cause(), Some(Cause::Shutdown));
    assert!(!first.is_cancelled() && !second.is_cancelled());
    let (status, _, _) = within(LIMIT, "keyed answered", keyed).await.unwrap();
    assert_eq!(status, 503);

    // Answered: each anonymous scope ends with its response.
    gate.add_permits(2);
    for call in calls {
        let (status, _, body) = within(LIMIT, "answered", call).await.unwrap();
        assert_eq!((status.as_u16(), body.as_str()), (200, "done"));
    }
    for token in [&first, &second] {
        within(LIMIT, "scope ended", token.cancelled()).await;
        assert_eq!(token.cause(), Some(Cause::ScopeExited));
    }
    assert!(REQUESTS.is_empty());
    server.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn an_unkeyed_request_is_a_child_of_the_layers_parent() {
    static REQUESTS: Registry<String> = Registry::new();
    let (seen, mut tokens) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let lifetime = Scope::builder().name("server lifetime").build();
    let app = Router::new()
        .route("/", get(gated))
        .with_state((seen, gate))
        .layer(
            ScopeLayer::new()
                .parent(&lifetime.token())
                .timeout(Duration::from_secs(600))
                .keyed(&REQUESTS, request_id),
        );
    let server = Server::start(app).await;
    let client = client();
    let call = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/"));
        async move { fetch(&client, &url, &[]).await }
    });
    let token = within(LIMIT, "started", tokens.recv()).await.unwrap();
    assert!(REQUESTS.is_empty());
    // The layer's timeout applies to it too.
    let left = token.remaining().expect("the layer's timeout");
    assert!(left <= Duration::from_secs(600) && left > Duration::from_secs(590));
    drop(lifetime);
    let (status, _, body) = within(LIMIT, "answered", call).await.unwrap();
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (503, "server shutting down\n")
    );
    assert_eq!(token.cause(), Some(Cause::Parent));
    server.stop().await;
}
