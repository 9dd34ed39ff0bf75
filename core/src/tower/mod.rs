//! Per-request scopes and deadlines for tower services (axum, tonic, hyper):
//! feature `tower`.
//!
//! - [`ScopeLayer`] (servers): every request runs inside its own scope, with
//!   a deadline taken from the layer and from the caller's headers; the
//!   scope ends when the response body ends or is dropped, so a client that
//!   disconnects cancels everything the request started.
//! - [`PropagateDeadlineLayer`] (clients): sends the current scope's
//!   remaining budget on as `grpc-timeout` (and a plain-HTTP header), and
//!   fails a request whose budget is spent without sending it;
//!   [`current_budget`] does the same for clients that are not tower services.
//! - [`DebugScopes`]: a `GET /debug/scopes` endpoint, the live scopes
//!   grouped by site as text or JSON ([`crate::dump`]).
//! - Deadline headers: [`parse_grpc_timeout`], [`encode_grpc_timeout`] and
//!   the plain-HTTP milliseconds header ([`TIMEOUT_MS`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! use std::time::Duration;
//! use axum::{body::Body, routing::get, Router};
//! use scoped_cancel::{scoped_cancel, tower::ScopeLayer, Cancelled, Token};
//! use tower_service::Service;
//!
//! // Nests under the request's scope (the current one) and inherits its deadline.
//! #[scoped_cancel]
//! async fn lookup() -> Result<String, Cancelled> {
//!     let left = Token::current().unwrap().remaining().unwrap();
//!     tokio::time::sleep(Duration::from_secs(60)).await;
//!     Ok(format!("{left:?}"))
//! }
//!
//! let mut app = Router::new()
//!     .route("/", get(|| async { lookup().await.unwrap_or_default() }))
//!     .layer(ScopeLayer::new().timeout(Duration::from_secs(5)));
//!
//! let request = http::Request::get("/").body(Body::empty()).unwrap();
//! let response = app.call(request).await.unwrap();
//! assert_eq!(response.status(), 504); // the layer's 5 s ran out first
//!
//! let request = http::Request::get("/")
//!     .header("content-type", "application/grpc")
//!     .header("grpc-timeout", "100m")
//!     .body(Body::empty())
//!     .unwrap();
//! let response = app.call(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["grpc-status"], "4"); // DEADLINE_EXCEEDED
//! # }
//! ```

mod body;
mod debug;
mod layer;
mod propagate;
mod service;
mod status;
mod timeout_header;

pub use body::ScopeBody;
pub use debug::DebugScopes;
pub use layer::ScopeLayer;
pub use propagate::{current_budget, PropagateDeadline, PropagateDeadlineLayer, PropagateFuture};
pub use service::{ResponseFuture, ScopeService};
pub use timeout_header::{
    encode_grpc_timeout, encode_timeout_ms, parse_grpc_timeout, parse_timeout_ms, MalformedTimeout,
    GRPC_TIMEOUT,
};

/// The errors bodies and clients in this module return: boxed, as hyper,
/// axum and tonic take them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A plain-HTTP deadline header, in whole milliseconds: `x-timeout-ms`.
///
/// HTTP has no standard deadline header. This one is read only when a
/// [`ScopeLayer`] is told to ([`ScopeLayer::deadline_header`]); it carries
/// milliseconds as Connect's `connect-timeout-ms` and Envoy's
/// `x-envoy-expected-rq-timeout-ms` do.
pub const TIMEOUT_MS: http::HeaderName = http::HeaderName::from_static("x-timeout-ms");
