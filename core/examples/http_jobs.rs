//! A job server over HTTP: every request runs in its own scope
//! (`ScopeLayer`), jobs run detached in keyed scopes that outlive the
//! request that started them, and Ctrl-C shuts everything down with a
//! report of what did not stop in time.
//!
//! ```text
//! cargo run -p scoped-cancel --features tower --example http_jobs [ADDR]   # default 127.0.0.1:3000
//!
//! curl -X POST localhost:3000/jobs/7?secs=60            # start job 7 (202; 409 if running)
//! curl -X POST 'localhost:3000/jobs/8?secs=60&stubborn=1'  # a job that ignores cancellation
//! curl localhost:3000/jobs                                # live jobs, JSON
//! curl localhost:3000/debug/scopes                        # every live scope, a tree
//! curl -X DELETE localhost:3000/jobs/7                    # cancel job 7 (202; 404 if none)
//! curl -H 'x-timeout-ms: 100' localhost:3000/slow         # the caller's deadline: 504
//! ```

use std::collections::HashMap;
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, Query, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use scoped_cancel::live::track_process;
use scoped_cancel::tower::{DebugScopes, ScopeLayer, TIMEOUT_MS};
use scoped_cancel::{scoped_cancel, Cancelled, EnterError, Registry, Scope, Token};

/// Live jobs, by id.
static JOBS: Registry<u64> = Registry::new();
/// Live requests, by an id this server gives each one: never a key a
/// client chooses (a client could then take, or cancel, another's).
static REQUESTS: Registry<u64> = Registry::new();

/// A request's id, given by [`number`] before the request's scope is made.
#[derive(Clone, Copy)]
struct RequestId(u64);

/// Numbers every request, in front of the scope layer.
async fn number(mut request: Request) -> Request {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = RequestId(NEXT.fetch_add(1, Ordering::Relaxed));
    request.extensions_mut().insert(id);
    request
}

/// `POST /jobs/{id}`: starts job `id` in its own keyed scope. The scope is
/// entered here, eagerly, so a second start of a live id gets 409 at once;
/// it is a root scope (explicit constructors never read the current scope),
/// so the job outlives this request.
async fn start(Path(id): Path<u64>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let secs = q.get("secs").and_then(|s| s.parse().ok()).unwrap_or(60);
    let scope = match Scope::builder().name("job").enter(&JOBS, id) {
        Ok(scope) => scope,
        Err(EnterError::Occupied(_)) => return (StatusCode::CONFLICT, "job is running\n"),
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
    };
    if q.get("stubborn").is_some_and(|v| v == "1") {
        // Holds its scope but never races it against cancellation.
        tokio::spawn(async move {
            let _scope = scope;
            stubborn(secs).await;
        });
    } else {
        tokio::spawn(scope.run(work(id, secs)));
    }
    (StatusCode::ACCEPTED, "started\n")
}

/// A job: steps of a second; cancelled at its current step.
async fn work(id: u64, secs: u64) {
    for n in 0..secs {
        if step(id, n).await.is_err() {
            return;
        }
    }
}

/// Each step runs in a scope of its own, a child of the job's (the current
/// scope when it starts), so cancelling the job cancels the step; it shows
/// in `/debug/scopes` beside the job.
#[scoped_cancel(timeout = "2s")]
async fn step(id: u64, n: u64) -> Result<(), Cancelled> {
    let _ = (id, n);
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

/// A job that never looks at its token: shutdown reports it as a straggler.
async fn stubborn(secs: u64) {
    tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_secs(secs)))
        .await
        .ok();
}

/// `DELETE /jobs/{id}`: cancels job `id`.
async fn cancel(Path(id): Path<u64>) -> impl IntoResponse {
    if JOBS.cancel(&id) {
        (StatusCode::ACCEPTED, "cancelled\n")
    } else {
        (StatusCode::NOT_FOUND, "no such live job\n")
    }
}

/// `GET /jobs`: the live jobs, as JSON.
async fn list() -> Json<serde_json::Value> {
    let jobs = JOBS
        .report()
        .iter()
        .map(|info| {
            serde_json::json!({
                "id": info.key(),
                "age_ms": info.age().as_millis() as u64,
                "cancelled": info.is_cancelled(),
                "site": format!("{}:{}", info.file(), info.line()),
            })
        })
        .collect();
    Json(serde_json::Value::Array(jobs))
}

/// `GET /slow`: waits 10 s; the caller's `x-timeout-ms` cuts it short.
async fn slow() -> String {
    let left = Token::current().and_then(|t| t.remaining());
    tokio::time::sleep(Duration::from_secs(10)).await;
    format!("done (budget was {left:?})\n")
}

#[tokio::main]
async fn main() {
    // Lists every scope for /debug/scopes; costs ~15 % of a scope's price.
    track_process(true);
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let app = Router::new()
        .route("/jobs", get(list))
        .route("/jobs/{id}", post(start).delete(cancel))
        .route("/slow", get(slow))
        .layer(
            ScopeLayer::new()
                .name("http")
                .timeout(Duration::from_secs(30))
                .deadline_header(TIMEOUT_MS)
                .keyed(&REQUESTS, |req| Some(req.extensions.get::<RequestId>()?.0)),
        )
        .layer(middleware::map_request(number))
        // Every live scope, as a tree: keys, names and source paths are for
        // operators, so in production serve this on an admin listener.
        .route_service("/debug/scopes", DebugScopes::new());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
            println!("shutting down");
        })
        .await
        .expect("serve");
    // The server has stopped taking requests; now the jobs.
    let report = JOBS.shutdown(Duration::from_secs(2)).await;
    println!("{report}");
    let requests = REQUESTS.shutdown(Duration::from_millis(100)).await;
    println!("requests: {requests}");
}
