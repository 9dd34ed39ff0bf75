//! A bounded load run through `ScopeLayer` on a real server: 10,000
//! requests, 200 at a time, that end every way a request can — answered,
//! timed out, cancelled by id, refused for an occupied key, or abandoned by
//! a client that disconnects mid-request. Each is counted by the status its
//! client saw, and each count must be exactly its share. Afterwards no
//! scope is alive and the runtime runs exactly the tasks it ran before.

mod tower_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use scoped_cancel::tower::{ScopeLayer, TIMEOUT_MS};
use scoped_cancel::Registry;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower_support::{client, eventually, get as fetch, within, Server};

const REQUESTS: usize = 10_000;
const CONCURRENCY: usize = 200;

static LIVE: Registry<String> = Registry::new();

/// `/work/{ms}`: yields, then sleeps `ms` (0: answers at once).
async fn work(Path(ms): Path<u64>) -> &'static str {
    tokio::task::yield_now().await;
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    "ok"
}

fn request_id(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("x-request-id")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// What happened to the requests, counted from what the clients saw.
#[derive(Default)]
struct Tally {
    /// Answered 200.
    ok: AtomicUsize,
    /// Answered 504: past their 50 ms deadline.
    timed_out: AtomicUsize,
    /// Answered 503 after a cancel by id hit them.
    cancelled: AtomicUsize,
    /// Answered 409: their key was held by a running request.
    occupied: AtomicUsize,
    /// Seen running (key entered), then abandoned by their client.
    abandoned: AtomicUsize,
    /// Abandoned at once, started or not.
    dropped: AtomicUsize,
}

/// Waits until the request under `id` has entered its key (it runs until
/// cancelled), or `call` ended first; the status if it ended.
async fn until_running<F>(id: &str, call: &mut std::pin::Pin<&mut F>) -> Option<http::StatusCode>
where
    F: std::future::Future<Output = (http::StatusCode, http::HeaderMap, String)>,
{
    loop {
        tokio::select! {
            biased;
            (status, _, _) = call.as_mut() => return Some(status),
            () = tokio::task::yield_now() => {
                if LIVE.contains_key(id) {
                    return None;
                }
            }
        }
    }
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn ten_thousand_mixed_requests_leave_no_scope_and_no_task() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();

    // No layer timeout: only the requests that send `x-timeout-ms` have a
    // deadline, so an answer never depends on how fast the machine is.
    let app = Router::new().route("/work/{ms}", get(work)).layer(
        ScopeLayer::new()
            .name("load")
            .deadline_header(TIMEOUT_MS)
            .keyed(&LIVE, request_id),
    );
    let server = Server::start(app).await;
    let addr = server.addr;
    let client = client();
    let tally = Arc::new(Tally::default());
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut clients = JoinSet::new();

    for i in 0..REQUESTS {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (client, tally) = (client.clone(), tally.clone());
        let id = format!("r{i}");
        clients.spawn(within(Duration::from_secs(60), "one client", async move {
            let _permit = permit;
            let url = |ms: u64| format!("http://{addr}/work/{ms}");
            // A handler that waits until cancelled (a minute: only a bug
            // lets it answer).
            let (slow, header) = (url(60_000), [("x-request-id", id.as_str())]);
            match i % 10 {
                // Answered.
                0..=4 => {
                    let (status, _, _) = fetch(&client, &url(0), &header).await;
                    assert_eq!(status, 200);
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                }
                // Past its own 50 ms deadline.
                5 => {
                    let headers = [("x-request-id", id.as_str()), ("x-timeout-ms", "50")];
                    let (status, _, _) = fetch(&client, &slow, &headers).await;
                    assert_eq!(status, 504);
                    tally.timed_out.fetch_add(1, Ordering::Relaxed);
                }
                // Cancelled by id once it runs.
                6 => {
                    let mut call = std::pin::pin!(fetch(&client, &slow, &header));
                    let early = until_running(&id, &mut call).await;
                    assert_eq!(early, None, "ended before it was cancelled");
                    assert!(LIVE.cancel(id.as_str()), "the cancel hit nothing");
                    let (status, _, body) = call.await;
                    assert_eq!(
                        (status.as_u16(), body.as_str()),
                        (503, "request cancelled\n")
                    );
                    tally.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                // A second request under a key that is in use, then the
                // first cancelled by id.
                7 => {
                    let mut first = std::pin::pin!(fetch(&client, &slow, &header));
                    let early = until_running(&id, &mut first).await;
                    assert_eq!(early, None, "ended before the second request");
                    let (second, _, _) = fetch(&client, &url(0), &header).await;
                    assert_eq!(second, 409);
                    tally.occupied.fetch_add(1, Ordering::Relaxed);
                    assert!(LIVE.cancel(id.as_str()));
                    assert_eq!(first.await.0, 503);
                    tally.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                // A client that sends its request and goes away: once it
                // runs, or at once.
                n => {
                    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let head = format!(
                        "GET /work/60000 HTTP/1.1\r\nhost: x\r\nx-request-id: {id}\r\n\r\n"
                    );
                    conn.write_all(head.as_bytes()).await.unwrap();
                    if n == 8 {
                        while !LIVE.contains_key(id.as_str()) {
                            tokio::task::yield_now().await;
                        }
                        tally.abandoned.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tally.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(conn);
                }
            }
        }));
    }
    within(Duration::from_secs(120), "all clients done", async {
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
    })
    .await;
    let count = |n: &AtomicUsize| n.load(Ordering::Relaxed);
    let tenth = REQUESTS / 10;
    assert_eq!(count(&tally.ok), 5 * tenth, "200");
    assert_eq!(count(&tally.timed_out), tenth, "504");
    assert_eq!(count(&tally.cancelled), 2 * tenth, "503 by id");
    assert_eq!(count(&tally.occupied), tenth, "409");
    assert_eq!(count(&tally.abandoned), tenth, "abandoned while running");
    assert_eq!(count(&tally.dropped), tenth, "abandoned at once");

    // Abandoned requests end when the server notices the closed socket.
    assert!(
        eventually(Duration::from_secs(10), || LIVE.is_empty()).await,
        "{} live: {:?}",
        LIVE.len(),
        LIVE.report().iter().take(5).collect::<Vec<_>>()
    );
    drop(client);
    server.stop().await;
    assert!(
        eventually(Duration::from_secs(10), || metrics.num_alive_tasks()
            == tasks_before)
        .await,
        "alive tasks {} (before: {tasks_before})",
        metrics.num_alive_tasks()
    );
}
