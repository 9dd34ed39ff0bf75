//! `GET /debug/scopes`: the live-scope dump as a tower service.

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use http::{header, Method, Request, Response, StatusCode};
use tower_service::Service;

use crate::dump::{wants_json, ScopeDump};

/// A service that answers with a [`ScopeDump`]: text (grouped by site,
/// like a goroutine dump), or JSON for `?format=json` or
/// `Accept: application/json`. Mount it at a route of your choosing;
/// answers `GET` and `HEAD`, and 405 to anything else.
///
/// **Serve it on an admin listener only**: a dump shows keys (user ids and
/// whatever else your keys hold), fn names, source paths and ages. Where
/// even operators should not see keys, [`redact_keys`](DebugScopes::redact_keys).
///
/// By default it dumps every tracked scope ([`ScopeDump::tracked`]: switch
/// [`track_process`](crate::live::track_process) on, or instrument the
/// runtime with a [`Collector`](crate::live::Collector));
/// [`DebugScopes::with`] dumps something else, e.g. one registry.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum::{body::Body, Router};
/// use scoped_cancel::{tower::DebugScopes, dump::ScopeDump, Registry, Scope};
/// use tower_service::Service;
///
/// static JOBS: Registry<u64> = Registry::new();
/// let _job = Scope::builder().name("jobs::run").enter(&JOBS, 7).unwrap();
///
/// let mut app: Router = Router::new()
///     .route_service("/debug/scopes", DebugScopes::new())
///     .route_service("/debug/jobs", DebugScopes::with(|| ScopeDump::registry(&JOBS)));
///
/// let request = http::Request::get("/debug/jobs?format=json").body(Body::empty()).unwrap();
/// let response = app.call(request).await.unwrap();
/// assert_eq!(response.headers()["content-type"], "application/json");
/// # }
/// ```
#[derive(Clone)]
pub struct DebugScopes<F = fn() -> ScopeDump> {
    dump: F,
    redact: bool,
}

impl DebugScopes {
    /// Dumps every tracked scope in the process.
    pub fn new() -> Self {
        DebugScopes {
            dump: ScopeDump::tracked,
            redact: false,
        }
    }
}

impl Default for DebugScopes {
    fn default() -> Self {
        DebugScopes::new()
    }
}

impl<F: Fn() -> ScopeDump> DebugScopes<F> {
    /// Dumps what `dump` returns, taken afresh for every request.
    pub fn with(dump: F) -> Self {
        DebugScopes {
            dump,
            redact: false,
        }
    }

    /// Shows every key as `<redacted>` ([`ScopeDump::redact_keys`]): keys
    /// come from users.
    pub fn redact_keys(mut self) -> Self {
        self.redact = true;
        self
    }
}

impl<F> fmt::Debug for DebugScopes<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DebugScopes").finish_non_exhaustive()
    }
}

impl<B, F: Fn() -> ScopeDump> Service<Request<B>> for DebugScopes<F> {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(answer(&request, &self.dump, self.redact)))
    }
}

fn answer<B>(
    request: &Request<B>,
    dump: &impl Fn() -> ScopeDump,
    redact: bool,
) -> Response<String> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = Response::new("method not allowed: GET or HEAD\n".to_owned());
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let dump = match redact {
        true => dump().redact_keys(),
        false => dump(),
    };
    let (content_type, mut body) = if wants_json(request.uri().query(), accept) {
        ("application/json", dump.json())
    } else {
        ("text/plain; charset=utf-8", dump.to_string())
    };
    // HEAD: the server sends the headers (and the length) without the body.
    body.push('\n');
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
