//! A bounded load run through `ScopeLayer` on a real server: 10,000
//! requests, 200 at a time, that end every way a request can — answered,
//! timed out, cancelled by id, refused for an occupied key, or abandoned by
//! a client that disconnects mid-request. Afterwards no scope is alive and
//! the runtime runs exactly the tasks it ran before.

mod tower_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use scoped_cancel::tower::ScopeLayer;
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

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    timed_out: AtomicUsize,
    cancelled: AtomicUsize,
    occupied: AtomicUsize,
    disconnected: AtomicUsize,
}

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "5s")]
async fn ten_thousand_mixed_requests_leave_no_scope_and_no_task() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();

    let app = Router::new().route("/work/{ms}", get(work)).layer(
        ScopeLayer::new()
            .name("load")
            .timeout(Duration::from_millis(50))
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
            let (slow, header) = (url(10_000), [("x-request-id", id.as_str())]);
            match i % 10 {
                // Answered.
                0..=4 => {
                    let (status, _, _) = fetch(&client, &url(0), &[("x-request-id", &id)]).await;
                    assert_eq!(status, 200);
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                }
                // Past the layer's 50 ms timeout.
                5 => {
                    let (status, _, _) =
                        fetch(&client, &url(10_000), &[("x-request-id", &id)]).await;
                    assert_eq!(status, 504);
                    tally.timed_out.fetch_add(1, Ordering::Relaxed);
                }
                // Cancelled by id while it runs (or timed out first).
                6 => {
                    let mut call = std::pin::pin!(fetch(&client, &slow, &header));
                    let status = loop {
                        tokio::select! {
                            biased;
                            (status, _, _) = &mut call => break status,
                            () = tokio::time::sleep(Duration::from_millis(1)) => {
                                LIVE.cancel(&id);
                            }
                        }
                    };
                    assert!(status == 503 || status == 504, "{status}");
                    tally.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                // A second request under a key that is in use.
                7 => {
                    let mut first = std::pin::pin!(fetch(&client, &slow, &header));
                    let first = loop {
                        tokio::select! {
                            biased;
                            (status, _, _) = &mut first => break status,
                            () = tokio::time::sleep(Duration::from_millis(1)) => {
                                if LIVE.contains_key(&id) {
                                    let (second, _, _) = fetch(&client, &url(0), &header).await;
                                    // 409 unless the first had just ended.
                                    assert!(second == 409 || second == 200, "{second}");
                                    break first.await.0;
                                }
                            }
                        }
                    };
                    assert_eq!(first, 504);
                    tally.occupied.fetch_add(1, Ordering::Relaxed);
                }
                // A client that sends its request and goes away.
                _ => {
                    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let head = format!(
                        "GET /work/10000 HTTP/1.1\r\nhost: x\r\nx-request-id: {id}\r\n\r\n"
                    );
                    conn.write_all(head.as_bytes()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis((i % 7) as u64)).await;
                    drop(conn);
                    tally.disconnected.fetch_add(1, Ordering::Relaxed);
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
    let sum = [
        &tally.ok,
        &tally.timed_out,
        &tally.cancelled,
        &tally.occupied,
        &tally.disconnected,
    ]
    .iter()
    .map(|n| n.load(Ordering::Relaxed))
    .sum::<usize>();
    assert_eq!(sum, REQUESTS);

    // Disconnected requests end when the server notices the closed socket.
    assert!(
        eventually(Duration::from_secs(5), || LIVE.is_empty()).await,
        "{} live: {:?}",
        LIVE.len(),
        LIVE.report().iter().take(5).collect::<Vec<_>>()
    );
    drop(client);
    server.stop().await;
    assert!(
        eventually(Duration::from_secs(5), || metrics.num_alive_tasks()
            == tasks_before)
        .await,
        "alive tasks {} (before: {tasks_before})",
        metrics.num_alive_tasks()
    );
}
