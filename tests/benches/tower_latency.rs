//! What `ScopeLayer` adds to a request's latency on a real axum server over
//! loopback HTTP/1, against the same server without it and against a
//! hand-written tokio-util middleware doing the same job (a child token per
//! request in the extensions, a timeout, cancelled on every exit).
//!
//! One keep-alive connection per server; each round sends a batch of
//! sequential requests to the two servers of a pair, alternating which goes
//! first, and records the ratios of the batches' p50 and p99 latencies.
//! Then the same routers are called in process (`oneshot`, no network), to
//! isolate the layer's own cost per request.
//!
//! `cargo bench -p scoped-cancel-tests --bench tower_latency [-- FILTER...]`;
//! `SC_BENCH_ROUNDS` (default 21), `SC_BENCH_SCALE` (batches of 2,000
//! requests over the network, 20,000 in process).

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::{median, print_table, quantile, Options, Row};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use scoped_cancel::tower::ScopeLayer;
use scoped_cancel::{Registry, Token};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

static LIVE: Registry<u64> = Registry::new();
const TIMEOUT: Duration = Duration::from_secs(30);

async fn hello(req: Request) -> &'static str {
    // Both layered servers hand the handler a token; it looks at it.
    if let Some(token) = req.extensions().get::<Token>() {
        std::hint::black_box(token.is_cancelled());
    }
    if let Some(token) = req.extensions().get::<CancellationToken>() {
        std::hint::black_box(token.is_cancelled());
    }
    "hello"
}

/// The hand-written equivalent: a child of the server's token per request,
/// in the extensions, raced (body first) against it and a timeout, and
/// cancelled on every exit by its drop guard.
async fn hand_layer(root: CancellationToken, mut req: Request, next: Next) -> Response {
    let token = root.child_token();
    req.extensions_mut().insert(token.clone());
    let _guard = token.clone().drop_guard();
    let run = tokio::time::timeout(TIMEOUT, async {
        tokio::select! {
            biased;
            r = next.run(req) => Some(r),
            () = token.cancelled() => None,
        }
    });
    match run.await {
        Ok(Some(r)) => r,
        Ok(None) => http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(_) => http::StatusCode::GATEWAY_TIMEOUT.into_response(),
    }
}

fn app(kind: &str) -> Router {
    let router = Router::new().route("/", get(hello));
    match kind {
        "none" => router,
        "scope" => router.layer(ScopeLayer::new().timeout(TIMEOUT)),
        "scope_keyed" => {
            let next = std::sync::atomic::AtomicU64::new(0);
            router.layer(ScopeLayer::new().timeout(TIMEOUT).keyed(&LIVE, move |_| {
                Some(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            }))
        }
        "hand" => {
            let root = CancellationToken::new();
            router.layer(middleware::from_fn(move |req, next| {
                hand_layer(root.clone(), req, next)
            }))
        }
        other => unreachable!("{other}"),
    }
}

/// A server of `kind` and one keep-alive client connection to it.
async fn connect(kind: &str) -> SendRequest<Empty<Bytes>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(kind);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

/// `n` sequential requests; their latencies in µs.
fn batch(rt: &Runtime, send: &mut SendRequest<Empty<Bytes>>, n: usize) -> Vec<f64> {
    rt.block_on(async {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let req = http::Request::get("/").body(Empty::new()).unwrap();
            let start = Instant::now();
            send.ready().await.unwrap();
            let resp = send.send_request(req).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            out.push(start.elapsed().as_nanos() as f64 / 1_000.0);
            assert_eq!(&body[..], b"hello");
        }
        out
    })
}

fn block<F: Future>(rt: &Runtime, f: F) -> F::Output {
    rt.block_on(f)
}

/// `n` requests through the router in process (no network): ns per request.
fn in_process(rt: &Runtime, app: &Router, n: usize) -> f64 {
    use tower::ServiceExt;
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let req = http::Request::get("/")
                .body(axum::body::Body::empty())
                .unwrap();
            let resp = common::call(app.clone().oneshot(req)).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            std::hint::black_box(body);
        }
        start.elapsed().as_nanos() as f64 / n as f64
    })
}

fn main() {
    let options = Options::from_env();
    let rounds = options.rounds(21);
    let n = options.scaled(2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pairs = [
        ("ScopeLayer (timeout) vs no layer", "scope", "none"),
        (
            "ScopeLayer (timeout, keyed) vs no layer",
            "scope_keyed",
            "none",
        ),
        (
            "ScopeLayer (timeout) vs hand-written middleware",
            "scope",
            "hand",
        ),
        ("hand-written middleware vs no layer", "hand", "none"),
    ];
    let mut rows = Vec::new();
    for (name, a, b) in pairs {
        if !options.wants(name) {
            continue;
        }
        let mut send_a = block(&rt, connect(a));
        let mut send_b = block(&rt, connect(b));
        // Warm-up: connections, allocator, caches.
        batch(&rt, &mut send_a, n / 4);
        batch(&rt, &mut send_b, n / 4);
        let mut p50 = Row::new(format!("{name}: p50"), "µs");
        let mut p99 = Row::new(format!("{name}: p99"), "µs");
        for round in 0..rounds {
            let (la, lb) = if round % 2 == 0 {
                let la = batch(&rt, &mut send_a, n);
                (la, batch(&rt, &mut send_b, n))
            } else {
                let lb = batch(&rt, &mut send_b, n);
                (batch(&rt, &mut send_a, n), lb)
            };
            p50.push(quantile(&la, 0.5), quantile(&lb, 0.5));
            p99.push(quantile(&la, 0.99), quantile(&lb, 0.99));
        }
        eprintln!(
            "  {name}: p50 ratio {:.3}, p99 ratio {:.3}",
            median(&p50.ratios),
            median(&p99.ratios)
        );
        rows.push(p50);
        rows.push(p99);
    }
    assert!(LIVE.is_empty(), "a request's scope outlived the run");
    print_table(
        "Request latency through the layer (axum, loopback HTTP/1, one keep-alive connection)",
        &rows,
    );

    // The layer's own cost: the router called in process, no network.
    let local = common::current_thread();
    let m = options.scaled(20_000);
    let mut rows = Vec::new();
    for (name, a, b) in pairs {
        let name = format!("in process: {name}");
        if !options.wants(&name) {
            continue;
        }
        let (app_a, app_b) = (app(a), app(b));
        in_process(&local, &app_a, m / 4);
        in_process(&local, &app_b, m / 4);
        let mut row = Row::new(name, "ns");
        for round in 0..rounds {
            let (x, y) = if round % 2 == 0 {
                let x = in_process(&local, &app_a, m);
                (x, in_process(&local, &app_b, m))
            } else {
                let y = in_process(&local, &app_b, m);
                (in_process(&local, &app_a, m), y)
            };
            row.push(x, y);
        }
        eprintln!("  {}: ratio {:.3}", row.name, median(&row.ratios));
        rows.push(row);
    }
    assert!(LIVE.is_empty(), "a request's scope outlived the run");
    print_table(
        "Per request in process (axum router, current-thread runtime)",
        &rows,
    );
}
