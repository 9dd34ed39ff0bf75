//! `PropagateDeadlineLayer`: a client passes its scope's remaining budget on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderName, Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::body::ScopeBody;
use super::status::{is_grpc, Outcome};
use super::timeout_header::{
    encode_grpc_timeout, encode_timeout_ms, parse_grpc_timeout, parse_timeout_ms, GRPC_TIMEOUT,
};
use super::BoxError;
use crate::cause::{Cancelled, Cause};
use crate::token::Token;

/// The time left to the current scope's deadline, for a request about to
/// be sent: `Ok(None)` without a current scope or a deadline, `Ok(Some(d))`
/// with `d` left, and `Err` (cause [`Cause::Deadline`]) once it has passed,
/// when the request should not be sent at all.
///
/// For clients that are not tower services: put
/// [`encode_grpc_timeout`]`(d)` in `grpc-timeout`, or
/// [`encode_timeout_ms`]`(d)` in the plain-HTTP header, yourself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use scoped_cancel::{tower::{current_budget, encode_timeout_ms}, Scope};
///
/// assert_eq!(current_budget(), Ok(None)); // no current scope
/// Scope::root()
///     .run_timeout(Duration::from_secs(2), async {
///         let left = current_budget().unwrap().unwrap();
///         // e.g. reqwest: .header("x-timeout-ms", encode_timeout_ms(left))
///         assert_eq!(encode_timeout_ms(left), "2000");
///     })
///     .await
///     .unwrap();
/// # }
/// ```
pub fn current_budget() -> Result<Option<Duration>, Cancelled> {
    match Token::current().and_then(|t| t.remaining()) {
        Some(Duration::ZERO) => Err(Cancelled::new(Cause::Deadline)),
        left => Ok(left),
    }
}

/// Sends the current scope's remaining budget with each request.
///
/// On gRPC requests (content type `application/grpc…`) it sets
/// `grpc-timeout`; with [`header`](PropagateDeadlineLayer::header) it also
/// sets a plain-HTTP milliseconds header on every request. Values are
/// rounded down and never raise a timeout the request already carries (as
/// tonic's `Request::set_timeout` sets), so a budget only shrinks on its
/// way through a chain of services.
///
/// The budget is read when the request is handed to the service (its
/// `call`), from [`Token::current`]: call the client inside the scope whose
/// deadline should travel — a handler under
/// [`ScopeLayer`](super::ScopeLayer), a `#[scoped_cancel(timeout = ..)]`
/// fn, [`Scope::run_timeout`](crate::Scope::run_timeout).
///
/// A request whose budget is already spent is not sent: a gRPC request gets
/// a local trailers-only `DEADLINE_EXCEEDED` response (as a grpc-go client
/// fails locally), and any other request fails with a [`Cancelled`] error
/// whose cause is [`Cause::Deadline`]. A gRPC request that fails with a
/// transport error once its deadline (the budget, or a `grpc-timeout` it
/// already carried) has passed is reported as `DEADLINE_EXCEEDED` too, as
/// grpc-go does: tonic's `Channel` enforces `grpc-timeout` on its own side
/// and reports its expiry as `CANCELLED` ("Timeout expired").
///
/// The header carries a duration, so the callee's deadline is the caller's
/// plus the time the request spends in transit (less the rounding down).
/// [`margin`](PropagateDeadlineLayer::margin) takes an allowance for that off
/// the budget, so that the callee gives up first.
#[derive(Clone, Debug, Default)]
pub struct PropagateDeadlineLayer {
    header: Option<HeaderName>,
    margin: Duration,
}

impl PropagateDeadlineLayer {
    /// A layer that sets `grpc-timeout` on gRPC requests.
    pub fn new() -> Self {
        PropagateDeadlineLayer::default()
    }

    /// Also sets this header, in whole milliseconds, on every request (for
    /// a server whose [`ScopeLayer`](super::ScopeLayer) reads it with
    /// [`deadline_header`](super::ScopeLayer::deadline_header)).
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = Some(name);
        self
    }

    /// Sends the remaining budget less `margin` (default zero): the callee's
    /// deadline is then no later than the caller's while the request takes
    /// less than `margin` to arrive. A budget no larger than the margin
    /// counts as spent.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }
}

impl<S> Layer<S> for PropagateDeadlineLayer {
    type Service = PropagateDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateDeadline {
            inner,
            header: self.header.clone(),
            margin: self.margin,
        }
    }
}

/// The service [`PropagateDeadlineLayer`] wraps around a client.
#[derive(Clone, Debug)]
pub struct PropagateDeadline<S> {
    inner: S,
    header: Option<HeaderName>,
    margin: Duration,
}

/// Sets `name` to the budget unless it already holds a smaller one.
fn shorten(
    headers: &mut HeaderMap,
    name: HeaderName,
    left: Duration,
    parse: fn(&[u8]) -> Result<Duration, super::MalformedTimeout>,
    encode: fn(Duration) -> http::HeaderValue,
) {
    let smaller = headers
        .get(&name)
        .and_then(|v| parse(v.as_bytes()).ok())
        .is_some_and(|set| set <= left);
    if !smaller {
        headers.insert(name, encode(left));
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PropagateDeadline<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<ScopeBody<ResBody>>;
    type Error = BoxError;
    type Future = PropagateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let grpc = is_grpc(req.headers());
        let budget = current_budget().and_then(|left| match left {
            Some(left) if left <= self.margin => Err(Cancelled::new(Cause::Deadline)),
            left => Ok(left.map(|left| left - self.margin)),
        });
        let left = match budget {
            Err(cancelled) => return PropagateFuture::spent(grpc, cancelled),
            Ok(left) => left,
        };
        let headers = req.headers_mut();
        let mut deadline = None;
        if grpc {
            // The earlier of the budget and a timeout the request carries.
            let carried = headers
                .get(GRPC_TIMEOUT)
                .and_then(|v| parse_grpc_timeout(v.as_bytes()).ok());
            if let Some(left) = left {
                shorten(
                    headers,
                    GRPC_TIMEOUT,
                    left,
                    parse_grpc_timeout,
                    encode_grpc_timeout,
                );
            }
            deadline = match (carried, left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            .and_then(|d| Instant::now().checked_add(d));
        }
        if let (Some(name), Some(left)) = (&self.header, left) {
            shorten(
                headers,
                name.clone(),
                left,
                parse_timeout_ms,
                encode_timeout_ms,
            );
        }
        PropagateFuture {
            state: Propagate::Sent {
                fut: self.inner.call(req),
                deadline,
            },
        }
    }
}

pin_project! {
    /// The response future of [`PropagateDeadline`].
    #[must_use = "futures do nothing unless polled"]
    pub struct PropagateFuture<F> {
        #[pin]
        state: Propagate<F>,
    }
}

pin_project! {
    #[project = PropagateProj]
    enum Propagate<F> {
        Sent {
            #[pin]
            fut: F,
            // For gRPC requests: when the budget sent runs out.
            deadline: Option<Instant>,
        },
        Spent { grpc: bool, cancelled: Option<Cancelled> },
    }
}

impl<F> PropagateFuture<F> {
    fn spent(grpc: bool, cancelled: Cancelled) -> Self {
        PropagateFuture {
            state: Propagate::Spent {
                grpc,
                cancelled: Some(cancelled),
            },
        }
    }
}

impl<F, B, E> Future for PropagateFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ScopeBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            PropagateProj::Sent { fut, deadline } => fut.poll(cx).map(|out| match out {
                Ok(response) => Ok(response.map(|b| ScopeBody::new(b, None))),
                // A failure after the deadline is the deadline's doing.
                Err(_) if deadline.is_some_and(|at| Instant::now() >= at) => {
                    let outcome = Outcome::Deadline;
                    Ok(outcome.response(true, ScopeBody::answer(outcome, true)))
                }
                Err(e) => Err(e.into()),
            }),
            PropagateProj::Spent { grpc, cancelled } => {
                let cancelled = cancelled
                    .take()
                    .expect("PropagateFuture polled after completion");
                Poll::Ready(if *grpc {
                    let outcome = Outcome::Deadline;
                    Ok(outcome.response(true, ScopeBody::answer(outcome, true)))
                } else {
                    Err(Box::new(cancelled))
                })
            }
        }
    }
}
