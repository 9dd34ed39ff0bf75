//! `#[scoped_cancel(occupied = ..)]`: refuse (the default), replace, wait;
//! with `wait`, the timeout covers the time in the queue and a cancelled
//! parent ends a waiting call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scoped_cancel::{scoped_cancel, Cancelled, Cause, Registry, Scope, Token};

/// Spins the scheduler until `cond` holds (a spawned call enters at its
/// first poll); bounded in wall time, generously, so a bug fails instead of
/// hanging and a slow machine does not.
async fn until(cond: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "condition never held"
        );
        tokio::task::yield_now().await;
    }
}

static REFUSING: Registry<u64> = Registry::new();

#[scoped_cancel(registry = REFUSING, key = id)]
async fn refusing(id: u64) -> Result<u64, Cancelled> {
    std::future::pending::<()>().await;
    Ok(id)
}

#[scoped_cancel(registry = REFUSING, key = id, occupied = refuse)]
async fn refusing_explicitly(id: u64) -> Result<u64, Cancelled> {
    Ok(id)
}

#[tokio::test]
async fn refuse_is_the_default() {
    let first = tokio::spawn(refusing(1));
    until(|| REFUSING.contains_key(&1)).await;
    assert_eq!(refusing(1).await.unwrap_err().cause(), Cause::KeyOccupied);
    assert_eq!(
        refusing_explicitly(1).await.unwrap_err().cause(),
        Cause::KeyOccupied
    );
    REFUSING.cancel(&1);
    assert_eq!(first.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert_eq!(refusing_explicitly(1).await, Ok(1));
}

static SEARCHES: Registry<u32> = Registry::new();

/// Latest wins: each keystroke's search supersedes the previous one.
#[scoped_cancel(registry = SEARCHES, key = session, occupied = replace)]
async fn search(
    session: u32,
    query: &'static str,
    started: tokio::sync::mpsc::UnboundedSender<()>,
    gate: Arc<tokio::sync::Semaphore>,
) -> Result<&'static str, Cancelled> {
    started.send(()).unwrap();
    let _permit = gate.acquire().await.unwrap();
    Ok(query)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_supersedes_the_running_call() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (started, mut running) = tokio::sync::mpsc::unbounded_channel();
    let mut calls = Vec::new();
    for query in ["r", "ru", "rus", "rust"] {
        calls.push(tokio::spawn(search(
            1,
            query,
            started.clone(),
            gate.clone(),
        )));
        running.recv().await.unwrap(); // this call holds the key now
    }
    let last = calls.pop().unwrap();
    // The superseded calls end without the gate opening: their tokens did.
    let mut outs = Vec::new();
    for call in calls {
        outs.push(call.await.unwrap());
    }
    gate.add_permits(1);
    outs.push(last.await.unwrap());
    let superseded = outs
        .iter()
        .filter(|o| matches!(o, Err(c) if c.cause() == Cause::Superseded))
        .count();
    assert_eq!(superseded, 3, "{outs:?}");
    assert_eq!(outs[3], Ok("rust"));
    assert!(SEARCHES.is_empty());
}

static MIGRATIONS: Registry<&'static str> = Registry::new();

#[scoped_cancel(registry = MIGRATIONS, key = tenant, occupied = wait, timeout = "10s")]
async fn migrate(
    tenant: &'static str,
    step: u32,
    log: Arc<Mutex<Vec<u32>>>,
) -> Result<u32, Cancelled> {
    log.lock().unwrap().push(step);
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(step)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_runs_calls_one_at_a_time_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let holder = MIGRATIONS.enter("acme").unwrap();
    let mut calls = Vec::new();
    for step in 0..10 {
        calls.push(tokio::spawn(migrate("acme", step, log.clone())));
        // Each call queues before the next is spawned.
        until(|| MIGRATIONS.waiting() == step as usize + 1).await;
    }
    drop(holder);
    for (step, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), Ok(step as u32));
    }
    assert_eq!(*log.lock().unwrap(), (0..10).collect::<Vec<_>>());
    assert!(MIGRATIONS.is_empty());
    assert_eq!(MIGRATIONS.waiting(), 0);
}

static QUEUE: Registry<u64> = Registry::new();

#[scoped_cancel(registry = QUEUE, key = id, occupied = wait, timeout = limit)]
async fn queued(id: u64, limit: Duration) -> Result<u64, Cancelled> {
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(id)
}

/// The timeout counts from the call's start: time spent queued is part of
/// it, and a call that times out in the queue returns `Deadline`.
#[tokio::test(start_paused = true)]
async fn wait_time_counts_against_the_timeout() {
    let holder = QUEUE.enter(1).unwrap();
    let started = tokio::time::Instant::now();
    let out = queued(1, Duration::from_secs(5)).await;
    assert_eq!(out.unwrap_err().cause(), Cause::Deadline);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(QUEUE.waiting(), 0, "the timed-out call left the queue");

    // Queued 4 s of a 5 s budget, the 3 s body then has 1 s left.
    let call = tokio::spawn(queued(1, Duration::from_secs(5)));
    until(|| QUEUE.waiting() == 1).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    drop(holder);
    let started = tokio::time::Instant::now();
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Deadline);
    assert_eq!(started.elapsed(), Duration::from_secs(1));

    // With time to spare, it runs.
    let holder = QUEUE.enter(1).unwrap();
    let call = tokio::spawn(queued(1, Duration::from_secs(5)));
    until(|| QUEUE.waiting() == 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(holder);
    assert_eq!(call.await.unwrap(), Ok(1));
    assert!(QUEUE.is_empty());
}

static PARENTED: Registry<u64> = Registry::new();

#[scoped_cancel(registry = PARENTED, key = id, occupied = wait, parent = request)]
async fn under_request(id: u64, request: Token) -> Result<u64, Cancelled> {
    Ok(id)
}

#[tokio::test]
async fn a_cancelled_parent_cancels_a_waiting_call() {
    let holder = PARENTED.enter(3).unwrap();
    let request = Scope::root();
    let call = tokio::spawn(under_request(3, request.token()));
    until(|| PARENTED.waiting() == 1).await;
    request.cancel();
    // The waiting call reports why its request was cancelled.
    assert_eq!(call.await.unwrap().unwrap_err().cause(), Cause::Requested);
    assert_eq!(PARENTED.waiting(), 0);
    // The holder was not touched, and the next waiter still gets the key.
    assert!(!holder.is_cancelled());
    let request = Scope::root();
    let call = tokio::spawn(under_request(3, request.token()));
    until(|| PARENTED.waiting() == 1).await;
    drop(holder);
    assert_eq!(call.await.unwrap(), Ok(3));
    assert!(PARENTED.is_empty());
}

static SHUTTING: Registry<u64> = Registry::new();

#[scoped_cancel(registry = SHUTTING, key = id, occupied = wait)]
async fn shut_out(id: u64) -> Option<u64> {
    Some(id)
}

#[tokio::test]
async fn shutdown_refuses_waiting_calls() {
    let holder = SHUTTING.enter(1).unwrap();
    let calls: Vec<_> = (0..3).map(|_| tokio::spawn(shut_out(1))).collect();
    until(|| SHUTTING.waiting() == 3).await;
    let report = SHUTTING.shutdown(Duration::from_secs(1));
    for call in calls {
        assert_eq!(call.await.unwrap(), None);
    }
    drop(holder);
    assert!(report.await.is_clean());
}
