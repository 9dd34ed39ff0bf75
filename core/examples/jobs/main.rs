//! One job server written three ways, run on the same workload:
//!
//! 1. **naive** — a `HashMap<u64, CancellationToken>` with the cleanup at the
//!    end of the happy path, as real projects often write it;
//! 2. **guarded** — the same map with an RAII guard that removes and cancels
//!    on drop: what a careful engineer writes by hand;
//! 3. **scoped** — `#[scoped_cancel]`: one attribute.
//!
//! ```text
//! cargo run --release -p scoped-cancel --example jobs            # defaults: < 10 s on 2 cores
//! cargo run --release -p scoped-cancel --example jobs -- --help
//! ```
//!
//! Each job is a client request that ends one of six ways: success, an early
//! `?` error, a panic, its deadline, a cancel-by-id from another client, or
//! the client giving up (dropping the request's future). Each running job
//! has a watcher task waiting for its token to be cancelled. The naive
//! server's cleanup is skipped by every exit but the happy path and the
//! cancel endpoint: the map keeps the entry, the server's root keeps the
//! child token, and the watcher waits forever. The guarded and scoped
//! servers clean up on every exit; the difference is who has to remember.
//! Every number printed is measured in the run (`measure.rs`). The demo
//! exits with status 1 if the naive server leaves nothing behind or either
//! other server leaves anything (entries, tasks or heap bytes).

mod cli;
mod measure;
mod workload;

use std::future::Future;
use std::time::Duration;

use workload::{seen, work, Job, JobError, Kind, Seen, CANCEL_AFTER, GIVE_UP_AFTER, LIMIT};

/// What the driver needs from a server: run a job, cancel one by id, count
/// the registry's entries.
pub trait Server: 'static {
    const TITLE: &'static str;
    /// The server's root; every job's token is a child of it.
    type Root: Clone + Send + Sync + 'static;
    fn root() -> Self::Root;
    fn run(
        root: &Self::Root,
        job: Job,
        limit: Duration,
    ) -> impl Future<Output = Result<u64, JobError>> + Send;
    fn cancel(id: u64) -> bool;
    fn entries() -> usize;
}

/// The hand-written servers' deadline: the caller drops the job's future
/// when `limit` passes (what `tokio::time::timeout` does).
async fn within(
    limit: Duration,
    job: impl Future<Output = Result<u64, JobError>>,
) -> Result<u64, JobError> {
    tokio::time::timeout(limit, job)
        .await
        .unwrap_or(Err(JobError::Cancelled))
}

// ---------------------------------------------------------------------------
// (1) What people often write.

mod naive {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};

    use scoped_cancel::tokio_util::sync::CancellationToken;

    use super::*;

    // scoped-cancel-audit: allow(the demo's naive server: the leak it measures)
    static JOBS: LazyLock<Mutex<HashMap<u64, CancellationToken>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));

    async fn run_job(root: &CancellationToken, job: Job) -> Result<u64, JobError> {
        let token = root.child_token();
        // scoped-cancel-audit: allow(the demo's naive server: the leak it measures)
        JOBS.lock().unwrap().insert(job.id, token.clone());
        let watched = token.clone();
        tokio::spawn(async move { watched.cancelled().await });
        let out = match token.run_until_cancelled(work(job)).await {
            Some(out) => out?,
            // The cancel endpoint removed the entry already.
            None => return Err(JobError::Cancelled),
        };
        // The cleanup: skipped by the `?` above, by a panic in `work`, and
        // when the caller drops this future (deadline, client gone).
        JOBS.lock().unwrap().remove(&job.id);
        token.cancel();
        Ok(out)
    }

    pub struct Naive;

    impl Server for Naive {
        const TITLE: &'static str = "naive: HashMap<u64, CancellationToken>, cleanup at the end";
        type Root = CancellationToken;
        fn root() -> CancellationToken {
            CancellationToken::new()
        }
        async fn run(root: &CancellationToken, job: Job, limit: Duration) -> Result<u64, JobError> {
            within(limit, run_job(root, job)).await
        }
        fn cancel(id: u64) -> bool {
            let token = JOBS.lock().unwrap().remove(&id);
            token.map(|token| token.cancel()).is_some()
        }
        fn entries() -> usize {
            JOBS.lock().unwrap().len()
        }
    }
}

// ---------------------------------------------------------------------------
// (2) What a careful engineer writes by hand: a drop guard.

mod guarded {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};

    use scoped_cancel::tokio_util::sync::CancellationToken;

    use super::*;

    // scoped-cancel-audit: allow(the demo's guarded server: its `Entry` guard removes)
    static RUNNING: LazyLock<Mutex<HashMap<u64, CancellationToken>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));

    /// Removes the job's entry and cancels its token on every exit. It
    /// removes only its own token: a newer job under the same id keeps
    /// its entry.
    struct Entry {
        id: u64,
        token: CancellationToken,
    }

    impl Entry {
        fn insert(id: u64, token: CancellationToken) -> Result<Entry, JobError> {
            let mut jobs = RUNNING.lock().unwrap();
            if jobs.contains_key(&id) {
                return Err(JobError::Cancelled);
            }
            jobs.insert(id, token.clone());
            Ok(Entry { id, token })
        }
    }

    impl Drop for Entry {
        fn drop(&mut self) {
            self.token.cancel();
            let mut jobs = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
            if jobs.get(&self.id).is_some_and(|t| t.eq(&self.token)) {
                jobs.remove(&self.id);
            }
        }
    }

    async fn run_job(root: &CancellationToken, job: Job) -> Result<u64, JobError> {
        let entry = Entry::insert(job.id, root.child_token())?;
        let watched = entry.token.clone();
        tokio::spawn(async move { watched.cancelled().await });
        match entry.token.run_until_cancelled(work(job)).await {
            Some(out) => out,
            None => Err(JobError::Cancelled),
        }
    }

    pub struct Guarded;

    impl Server for Guarded {
        const TITLE: &'static str = "guarded: the same map + a drop guard, by hand";
        type Root = CancellationToken;
        fn root() -> CancellationToken {
            CancellationToken::new()
        }
        async fn run(root: &CancellationToken, job: Job, limit: Duration) -> Result<u64, JobError> {
            within(limit, run_job(root, job)).await
        }
        fn cancel(id: u64) -> bool {
            let token = RUNNING.lock().unwrap().get(&id).cloned();
            token.is_some_and(|token| {
                let live = !token.is_cancelled();
                token.cancel();
                live
            })
        }
        fn entries() -> usize {
            RUNNING.lock().unwrap().len()
        }
    }
}

// ---------------------------------------------------------------------------
// (3) The same job with `#[scoped_cancel]`.

mod scoped {
    use std::sync::Arc;

    use scoped_cancel::{scoped_cancel, Registry, Scope, Token};

    use super::*;

    static JOBS: Registry<u64> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = job.id, parent = root, timeout = limit, token = tok)]
    async fn run_job(root: &Token, job: Job, limit: Duration) -> Result<u64, JobError> {
        let watched = tok.clone();
        tokio::spawn(async move { watched.cancelled().await });
        work(job).await
    }

    pub struct Scoped;

    impl Server for Scoped {
        const TITLE: &'static str = "scoped: #[scoped_cancel(registry = JOBS, key = job.id, ...)]";
        type Root = Arc<Scope>;
        fn root() -> Arc<Scope> {
            Arc::new(Scope::builder().name("server").build())
        }
        async fn run(root: &Arc<Scope>, job: Job, limit: Duration) -> Result<u64, JobError> {
            run_job(&root.token(), job, limit).await
        }
        fn cancel(id: u64) -> bool {
            JOBS.cancel(&id)
        }
        fn entries() -> usize {
            JOBS.len()
        }
    }
}

// ---------------------------------------------------------------------------
// The clients: the same requests against every server.

/// One client request: with a deadline, given up early, cancelled by id
/// from another client, or waited for.
async fn client<S: Server>(root: S::Root, job: Job) -> Seen {
    let limit = match job.kind {
        Kind::Deadline => LIMIT,
        _ => Duration::from_secs(3600),
    };
    match job.kind {
        Kind::ClientGivesUp => tokio::select! {
            out = S::run(&root, job, limit) => seen(out),
            () = tokio::time::sleep(GIVE_UP_AFTER) => Seen::GaveUp,
        },
        Kind::CancelById => {
            tokio::spawn(async move {
                // Shortly after the job starts; retried until it is registered.
                tokio::time::sleep(CANCEL_AFTER).await;
                while !S::cancel(job.id) {
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
            });
            seen(S::run(&root, job, limit).await)
        }
        _ => seen(S::run(&root, job, limit).await),
    }
}

fn main() {
    let opts = cli::options().unwrap_or_else(|message| {
        eprintln!("error: {message}");
        std::process::exit(2);
    });
    measure::quiet_demo_panics();
    println!(
        "jobs demo: {} jobs per server, {} in flight, {} worker threads, seed {}",
        opts.jobs, opts.concurrency, opts.threads, opts.seed
    );
    let started = std::time::Instant::now();
    let runs = [
        measure::run::<naive::Naive>(&opts),
        measure::run::<guarded::Guarded>(&opts),
        measure::run::<scoped::Scoped>(&opts),
    ];
    for run in &runs {
        run.print();
    }
    println!();
    println!(
        "  (tasks counted after up to {:?} to finish; heap bytes measured against a warm baseline, under a byte per job read as none; total {:.1?})",
        opts.settle,
        started.elapsed()
    );
    // The demo's claim, checked: the naive server leaks entries, tasks and
    // heap; the guarded and scoped ones leave none of the three. Exit 1
    // otherwise, so that CI notices a demo that no longer shows it.
    let [naive, guarded, scoped] = &runs;
    let failures: Vec<String> = [
        naive.verdict(true),
        guarded.verdict(false),
        scoped.verdict(false),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("error: {failure}");
        }
        std::process::exit(1);
    }
}
