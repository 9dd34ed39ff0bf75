//! `DebugScopes` mounted in a real axum server, read by a real HTTP client
//! over loopback: text grouped by site, JSON by query or `Accept`, 405 for
//! other methods.

mod tower_support;

use axum::Router;
use scoped_cancel::dump::ScopeDump;
use scoped_cancel::tower::DebugScopes;
use scoped_cancel::{Registry, Scope};
use tower_support::{client, get, Server};

static JOBS: Registry<u64> = Registry::new();
const NAME: &str = "debug::job";

#[scoped_cancel::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn debug_scopes_serves_the_dump_as_text_or_json() {
    let enter = |k| Scope::builder().name(NAME).enter(&JOBS, k).unwrap();
    let line = line!() - 1; // of the enter above
    let jobs: Vec<Scope> = (1..=3).map(enter).collect();
    jobs[0].cancel();
    let app = Router::new()
        .route_service("/debug/scopes", DebugScopes::new())
        .route_service(
            "/debug/jobs",
            DebugScopes::with(|| ScopeDump::registry(&JOBS)),
        );
    let server = Server::start(app).await;
    let http = client();

    // Every tracked scope: this test's collector records the jobs.
    let (status, headers, text) = get(&http, &server.url("/debug/scopes"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let site = format!("3 × debug::job at {}:{line}, oldest ", file!());
    assert!(text.contains(&site), "{text}");
    assert!(text.contains(", 1 cancelled\n"), "{text}");
    for key in 1..=3 {
        assert!(text.contains(&format!("\n    key {key}, age ")), "{text}");
    }

    // One registry, as JSON, asked for either way.
    for (path, accept) in [
        ("/debug/jobs?format=json", "*/*"),
        ("/debug/jobs", "application/json"),
    ] {
        let (status, headers, json) = get(&http, &server.url(path), &[("accept", accept)]).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/json");
        assert!(
            json.starts_with(r#"{"scopes":3,"tracking":true,"sites":[{"name":"debug::job","#),
            "{json}"
        );
        assert!(json.contains(r#""count":3,"cancelled":1,"#), "{json}");
        assert!(json.contains(r#"{"key":"1","age_seconds":"#), "{json}");
        assert!(
            json.contains(r#""cause":"requested","reason":null}"#),
            "{json}"
        );
    }

    // Other methods are refused.
    let request = http::Request::post(server.url("/debug/jobs"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = http.request(request).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    drop(response);

    server.stop().await;
    drop(jobs);
    assert!(ScopeDump::registry(&JOBS).is_empty());
}
