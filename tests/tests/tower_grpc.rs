//! `ScopeLayer` and `PropagateDeadlineLayer` with real tonic servers and
//! clients over loopback HTTP/2. Messages are derived with prost by hand
//! and the service and client are written against tonic's `server::Grpc`
//! and `client::Grpc`, so no `protoc` is needed.
//!
//! The servers are tonic routes served by axum (`Routes::into_axum_router`):
//! tonic's own `transport::Server` puts its `grpc-timeout` timer outside
//! every user layer and answers `CANCELLED` when it fires, racing the
//! layer's spec-conforming `DEADLINE_EXCEEDED`.

mod tower_support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::PathAndQuery;
use scoped_cancel::tower::{parse_grpc_timeout, PropagateDeadlineLayer, ScopeLayer};
use scoped_cancel::{Cause, Registry, Token};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::ServiceExt;
use tower_support::{eventually, within, Server};

/// A generous bound for something that must happen; only a bug reaches it.
const LIMIT: Duration = Duration::from_secs(10);
/// A deadline a handler must outlive: it has to reach its first await
/// (or its callee) before this passes. Wide for a loaded machine; tests
/// that wait for a deadline to pass take this long.
const DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone, PartialEq, prost::Message)]
struct Ask {
    /// How long the handler waits before answering (0: at once).
    #[prost(uint64, tag = "1")]
    wait_ms: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Answer {
    /// The handler's remaining budget in microseconds, if it had a deadline.
    #[prost(uint64, optional, tag = "1")]
    budget_us: Option<u64>,
}

type Reply = Pin<Box<dyn Future<Output = Result<tonic::Response<Answer>, Status>> + Send>>;

type Handler = Arc<dyn Fn(tonic::Request<Ask>) -> Reply + Send + Sync>;

/// One unary method, `/test.Svc/Ask`, served by `handler`.
#[derive(Clone)]
struct Svc {
    handler: Handler,
}

impl NamedService for Svc {
    const NAME: &'static str = "test.Svc";
}

impl tower::Service<http::Request<Body>> for Svc {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let handler = self.handler.clone();
        Box::pin(async move {
            if req.uri().path() != "/test.Svc/Ask" {
                return Ok(Status::unimplemented("").into_http());
            }
            let method = tower::service_fn(move |r| handler(r));
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Answer, Ask>::default());
            Ok(grpc.unary(method, req).await)
        })
    }
}

/// Serves `handler` under `layer` on a fresh loopback port.
async fn serve<F, Fut>(layer: ScopeLayer, handler: F) -> Server
where
    F: Fn(tonic::Request<Ask>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<Answer>, Status>> + Send + 'static,
{
    let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
    let router = tonic::service::Routes::new(Svc { handler })
        .prepare()
        .into_axum_router()
        .layer(layer);
    Server::start(router).await
}

async fn channel(server: &Server) -> Channel {
    Endpoint::from_shared(server.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Calls `/test.Svc/Ask` over `service` (a channel, or a channel under layers).
async fn ask<S>(service: S, request: tonic::Request<Ask>) -> Result<Answer, Status>
where
    S: tonic::client::GrpcService<Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut client = tonic::client::Grpc::new(service);
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    let path = PathAndQuery::from_static("/test.Svc/Ask");
    let codec = ProstCodec::<Ask, Answer>::default();
    client
        .unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// What B's handler saw.
struct Saw {
    token: Token,
    deadline: Option<Instant>,
    /// The `grpc-timeout` it was sent.
    header: Option<Duration>,
}

type Seen = mpsc::UnboundedSender<Saw>;

/// B: reports what it sees, then waits `wait_ms` (cancellable) and answers
/// its remaining budget.
async fn service_b(
    seen: Seen,
    request: tonic::Request<Ask>,
) -> Result<tonic::Response<Answer>, Status> {
    let token = Token::current().expect("the request's scope is current");
    let header = request.metadata().get("grpc-timeout");
    let header = header.map(|v| parse_grpc_timeout(v.as_bytes()).unwrap());
    let deadline = token.deadline();
    seen.send(Saw {
        token: token.clone(),
        deadline,
        header,
    })
    .unwrap();
    if request.get_ref().wait_ms > 0 {
        tokio::time::sleep(Duration::from_millis(request.get_ref().wait_ms)).await;
    }
    let budget_us = token.remaining().map(|d| d.as_micros() as u64);
    Ok(tonic::Response::new(Answer { budget_us }))
}

fn server_b(seen: Seen) -> impl Fn(tonic::Request<Ask>) -> Reply + Send + Sync + 'static {
    move |r| Box::pin(service_b(seen.clone(), r))
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_passes_its_deadline_to_b_which_sees_no_later_one() {
    let (seen_b, mut b_saw) = mpsc::unbounded_channel();
    let b = serve(ScopeLayer::new().name("B"), server_b(seen_b)).await;
    // The margin covers the request's transit on loopback, with room to
    // spare on a loaded machine.
    let margin = Duration::from_secs(2);
    let to_b = tower::ServiceBuilder::new()
        .layer(PropagateDeadlineLayer::new().margin(margin))
        .service(channel(&b).await);

    let (seen_a, mut a_saw) = mpsc::unbounded_channel();
    let a_handler = move |r: tonic::Request<Ask>| {
        let (to_b, seen_a) = (to_b.clone(), seen_a.clone());
        async move {
            let token = Token::current().unwrap();
            seen_a.send((token.deadline(), token.remaining())).unwrap();
            ask(to_b, tonic::Request::new(r.into_inner()))
                .await
                .map(tonic::Response::new)
        }
    };
    let a = serve(
        ScopeLayer::new().name("A").timeout(Duration::from_secs(5)),
        a_handler,
    )
    .await;

    let request = tonic::Request::new(Ask { wait_ms: 0 });
    let answer = within(LIMIT, "A answers", ask(channel(&a).await, request))
        .await
        .unwrap();
    let (a_deadline, a_left_before_call) = a_saw.recv().await.unwrap();
    let b_first = b_saw.recv().await.unwrap();
    let a_deadline = a_deadline.unwrap();
    let b_deadline = b_first.deadline.expect("B got a deadline");
    assert!(
        b_deadline <= a_deadline,
        "B {b_deadline:?} later than A {a_deadline:?}"
    );
    // What went over the wire never exceeds what A had left, less the margin.
    let sent = b_first.header.expect("grpc-timeout sent");
    let a_left = a_left_before_call.unwrap();
    assert!(sent <= a_left - margin, "sent {sent:?}, A had {a_left:?}");
    let budget = Duration::from_micros(answer.budget_us.unwrap());
    assert!(budget > Duration::ZERO && budget <= sent, "{budget:?}");

    // A caller's own shorter timeout wins over A's 5 s, and A passes it on
    // (less the margin).
    let mut request = tonic::Request::new(Ask { wait_ms: 0 });
    request.set_timeout(Duration::from_secs(4));
    let answer = within(LIMIT, "A answers", ask(channel(&a).await, request))
        .await
        .unwrap();
    let budget = Duration::from_micros(answer.budget_us.unwrap());
    assert!(budget <= Duration::from_secs(4) - margin, "{budget:?}");
    let sent = within(LIMIT, "B called", b_saw.recv())
        .await
        .unwrap()
        .header;
    assert!(sent.unwrap() <= Duration::from_secs(4) - margin, "{sent:?}");
    a.stop().await;
    b.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn when_as_deadline_passes_bs_handler_is_cancelled() {
    let (seen_b, mut b_saw) = mpsc::unbounded_channel();
    let b = serve(ScopeLayer::new().name("B"), server_b(seen_b)).await;
    let to_b = tower::ServiceBuilder::new()
        .layer(PropagateDeadlineLayer::new())
        .service(channel(&b).await);
    let a = serve(
        ScopeLayer::new().name("A").timeout(DEADLINE),
        move |_r: tonic::Request<Ask>| {
            let to_b = to_b.clone();
            // B waits for a minute: only A's deadline can stop it.
            async move {
                ask(to_b, tonic::Request::new(Ask { wait_ms: 60_000 }))
                    .await
                    .map(tonic::Response::new)
            }
        },
    )
    .await;

    let started = std::time::Instant::now();
    let status = within(
        LIMIT,
        "A answers",
        ask(channel(&a).await, tonic::Request::new(Ask { wait_ms: 0 })),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() >= DEADLINE);
    let Saw {
        token: b_token,
        deadline,
        ..
    } = within(LIMIT, "B called", b_saw.recv()).await.unwrap();
    assert!(deadline.is_some());
    within(LIMIT, "B cancelled", b_token.cancelled()).await;
    // B's own copy of the deadline or A's hang-up, whichever came first.
    let cause = b_token.cause().unwrap();
    assert!(
        matches!(cause, Cause::Deadline | Cause::ScopeExited),
        "{cause:?}"
    );
    a.stop().await;
    b.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn refusals_and_cancellations_arrive_as_tonic_status_codes() {
    static CALLS: Registry<String> = Registry::new();
    let key = |parts: &http::request::Parts| {
        parts
            .headers
            .get("x-call-id")?
            .to_str()
            .ok()
            .map(str::to_owned)
    };
    let (seen, mut saw) = mpsc::unbounded_channel();
    let handled = Arc::new(AtomicUsize::new(0));
    let b = serve(ScopeLayer::new().name("B").keyed(&CALLS, key), {
        let (inner, handled) = (server_b(seen), handled.clone());
        move |r| {
            handled.fetch_add(1, Ordering::SeqCst);
            inner(r)
        }
    })
    .await;
    let channel = channel(&b).await;
    let with_id = |id: &str, wait_ms: u64| {
        let mut r = tonic::Request::new(Ask { wait_ms });
        r.metadata_mut().insert("x-call-id", id.parse().unwrap());
        r
    };

    // An expired grpc-timeout: DEADLINE_EXCEEDED, as the spec says. (A bare
    // tonic `Channel` races the server with its own timer and reports
    // CANCELLED; `PropagateDeadlineLayer` reports a failure past the
    // deadline as DEADLINE_EXCEEDED, as grpc-go does.)
    let propagating = tower::ServiceBuilder::new()
        .layer(PropagateDeadlineLayer::new())
        .service(channel.clone());
    let mut r = tonic::Request::new(Ask { wait_ms: 60_000 });
    r.set_timeout(DEADLINE);
    let status = within(LIMIT, "expired", ask(propagating, r))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let token = within(LIMIT, "B called", saw.recv()).await.unwrap().token;
    // The server's own timer, or the client's hang-up at the same moment.
    within(LIMIT, "B cancelled", token.cancelled()).await;
    let cause = token.cause().unwrap();
    assert!(
        matches!(cause, Cause::Deadline | Cause::ScopeExited),
        "{cause:?}"
    );

    // A malformed grpc-timeout: INVALID_ARGUMENT, and the handler never runs.
    let before = handled.load(Ordering::SeqCst);
    let mut r = tonic::Request::new(Ask { wait_ms: 0 });
    r.metadata_mut()
        .insert("grpc-timeout", "1X".parse().unwrap());
    assert_eq!(
        ask(channel.clone(), r).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(handled.load(Ordering::SeqCst), before);

    // Cancel by id: CANCELLED; a second call with the same id: ALREADY_EXISTS.
    let first = tokio::spawn(ask(channel.clone(), with_id("c1", 60_000)));
    let token = within(LIMIT, "started", saw.recv()).await.unwrap().token;
    let second = ask(channel.clone(), with_id("c1", 0)).await.unwrap_err();
    assert_eq!(second.code(), Code::AlreadyExists, "{second:?}");
    assert!(CALLS.cancel("c1"));
    let status = within(LIMIT, "cancelled", first)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert_eq!(token.cause(), Some(Cause::Requested));

    // Shutdown: UNAVAILABLE, for the call in flight and for a late one.
    let inflight = tokio::spawn(ask(channel.clone(), with_id("c2", 60_000)));
    within(LIMIT, "started", saw.recv()).await.unwrap();
    let report = CALLS.shutdown(LIMIT).await;
    assert!(report.is_clean(), "{report}");
    let status = within(LIMIT, "shut down", inflight)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let late = ask(channel.clone(), with_id("c3", 0)).await.unwrap_err();
    assert_eq!(late.code(), Code::Unavailable);
    CALLS.reopen();
    assert!(eventually(LIMIT, || CALLS.is_empty()).await);
    drop(channel);
    b.stop().await;
}

/// A client service that counts the requests handed to it: what
/// `PropagateDeadline` passes on is what would have been sent.
#[derive(Clone)]
struct Counting<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S: tower::Service<R>, R> tower::Service<R> for Counting<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> S::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(req)
    }
}

type GrpcClient = scoped_cancel::tower::PropagateDeadline<Counting<Channel>>;

/// Calls B from inside a scope whose 1 ms deadline has passed: the body is
/// cooperative, so it runs on after the deadline and makes the call with a
/// spent budget whatever the machine's speed.
#[scoped_cancel::scoped_cancel(timeout = "1ms", cooperative, token = token)]
async fn ask_after_the_deadline(to_b: GrpcClient) -> Option<Result<Answer, Status>> {
    token.cancelled().await;
    assert_eq!(token.cause(), Some(Cause::Deadline));
    Some(ask(to_b, tonic::Request::new(Ask { wait_ms: 0 })).await)
}

type HttpClient = scoped_cancel::tower::PropagateDeadline<Counting<tower_support::HttpClient>>;

/// The same for a plain HTTP request; the cause of the error it fails with.
#[scoped_cancel::scoped_cancel(timeout = "1ms", cooperative, token = token)]
async fn get_after_the_deadline(http: HttpClient, url: String) -> Option<Option<Cause>> {
    token.cancelled().await;
    let req = http::Request::get(url)
        .body(http_body_util::Empty::new())
        .unwrap();
    let err = http.oneshot(req).await.err()?;
    Some(
        err.downcast::<scoped_cancel::Cancelled>()
            .ok()
            .map(|c| c.cause()),
    )
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn a_spent_budget_fails_at_once_without_sending() {
    let (seen, mut saw) = mpsc::unbounded_channel();
    let handled = Arc::new(AtomicUsize::new(0));
    let b = serve(ScopeLayer::new(), {
        let (inner, handled) = (server_b(seen), handled.clone());
        move |r| {
            handled.fetch_add(1, Ordering::SeqCst);
            inner(r)
        }
    })
    .await;
    let sent = Arc::new(AtomicUsize::new(0));
    let to_b = tower::ServiceBuilder::new()
        .layer(PropagateDeadlineLayer::new())
        .service(Counting {
            inner: channel(&b).await,
            calls: sent.clone(),
        });

    // gRPC: a local trailers-only DEADLINE_EXCEEDED, nothing handed to the
    // channel.
    let status = within(LIMIT, "spent", ask_after_the_deadline(to_b.clone()))
        .await
        .expect("the cooperative body ran to its end")
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 0, "the request was sent");

    // Plain HTTP: fails with `Cancelled` (cause `Deadline`), nothing sent.
    let http = tower::ServiceBuilder::new()
        .layer(PropagateDeadlineLayer::new())
        .service(Counting {
            inner: tower_support::client(),
            calls: sent.clone(),
        });
    let cause = within(
        LIMIT,
        "spent",
        get_after_the_deadline(http.clone(), b.url("/")),
    )
    .await
    .expect("the cooperative body ran to its end");
    assert_eq!(cause, Some(Cause::Deadline));
    assert_eq!(sent.load(Ordering::SeqCst), 0, "the request was sent");

    // The counter sees a request that is sent: one with a budget left
    // goes through, and it is the only one B handled.
    let answer = within(LIMIT, "sent", async {
        ask(to_b, tonic::Request::new(Ask { wait_ms: 0 })).await
    })
    .await
    .unwrap();
    assert_eq!(answer.budget_us, None);
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    assert!(saw.try_recv().is_ok());
    assert!(saw.try_recv().is_err());
    drop(http);
    b.stop().await;
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn under_tonics_own_server_the_layer_still_scopes_each_call() {
    // tonic's `transport::Server` runs its own `grpc-timeout` timer outside
    // every user layer and answers CANCELLED when it fires; the layer's
    // timer fires within the same millisecond with DEADLINE_EXCEEDED.
    // Whichever answers, the handler's scope ends, and everything else the
    // layer does (current scope, keys, cancel by id) holds.
    static CALLS: Registry<String> = Registry::new();
    let key = |parts: &http::request::Parts| {
        parts
            .headers
            .get("x-call-id")?
            .to_str()
            .ok()
            .map(str::to_owned)
    };
    let (seen, mut saw) = mpsc::unbounded_channel();
    let handler = server_b(seen);
    let svc = Svc {
        handler: Arc::new(move |r| handler(r)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(ScopeLayer::new().name("tonic").keyed(&CALLS, key))
            .add_service(svc)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async move {
                    let _ = stopped.await;
                },
            ),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let answer = ask(channel.clone(), tonic::Request::new(Ask { wait_ms: 0 }))
        .await
        .unwrap();
    assert_eq!(answer.budget_us, None);
    assert!(saw.recv().await.unwrap().deadline.is_none());

    let mut r = tonic::Request::new(Ask { wait_ms: 60_000 });
    r.set_timeout(DEADLINE);
    let status = within(LIMIT, "expired", ask(channel.clone(), r))
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{status:?}"
    );
    let token = within(LIMIT, "handler called", saw.recv())
        .await
        .unwrap()
        .token;
    within(LIMIT, "handler's scope ended", token.cancelled()).await;

    let mut r = tonic::Request::new(Ask { wait_ms: 60_000 });
    r.metadata_mut().insert("x-call-id", "t1".parse().unwrap());
    let call = tokio::spawn(ask(channel.clone(), r));
    let token = within(LIMIT, "started", saw.recv()).await.unwrap().token;
    assert!(CALLS.cancel("t1"));
    let status = within(LIMIT, "cancelled", call).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert_eq!(token.cause(), Some(Cause::Requested));
    assert!(eventually(LIMIT, || CALLS.is_empty()).await);

    drop(channel);
    let _ = stop.send(());
    within(LIMIT, "server stopped", server)
        .await
        .unwrap()
        .unwrap();
}
