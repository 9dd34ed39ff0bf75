//! A job server, run twice on the same workload: once with the hand-written
//! `HashMap<u64, CancellationToken>` pattern real projects write, once with
//! `#[scoped_cancel]`. Every number in the tables is measured in this run.
//!
//! ```text
//! cargo run --release -p scoped-cancel --example jobs            # defaults: < 10 s on 2 cores
//! cargo run --release -p scoped-cancel --example jobs -- --help
//! ```
//!
//! Each job is a client request. It ends one of six ways: success, an early
//! `?` error, a panic, its deadline, a cancel-by-id from another client, or
//! the client giving up (dropping the request's future). Each running job
//! also has a watcher task waiting for the job's token to be cancelled.
//!
//! The hand-written server cleans up at the end of the happy path and in
//! its cancel endpoint, as careful code does. Every other exit skips the
//! cleanup: the map keeps the entry, the server root keeps the child token,
//! and the watcher waits forever. The scoped server ends the scope on every
//! exit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use scoped_cancel::tokio_util::sync::CancellationToken;
use tokio::runtime::Handle;
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------
// Live heap bytes: a counting allocator.

struct Counting {
    live: AtomicIsize,
}

impl Counting {
    /// Passes `ptr` through, counting `delta` bytes if the call succeeded.
    fn counted(&self, ptr: *mut u8, delta: isize) -> *mut u8 {
        if !ptr.is_null() {
            self.live.fetch_add(delta, Ordering::Relaxed);
        }
        ptr
    }
}

// SAFETY: every call forwards to `System` unchanged; the counter is a side
// effect that never touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        self.counted(unsafe { System.alloc(layout) }, layout.size() as isize)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        self.counted(
            unsafe { System.alloc_zeroed(layout) },
            layout.size() as isize,
        )
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) };
        self.live
            .fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        self.counted(new, new_size as isize - layout.size() as isize)
    }
}

#[global_allocator]
static HEAP: Counting = Counting {
    live: AtomicIsize::new(0),
};

fn live_bytes() -> isize {
    HEAP.live.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------------
// The workload, shared by both servers.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Success,
    EarlyError,
    Panic,
    Deadline,
    CancelById,
    ClientGivesUp,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Success,
        Kind::EarlyError,
        Kind::Panic,
        Kind::Deadline,
        Kind::CancelById,
        Kind::ClientGivesUp,
    ];

    /// Out of 100 jobs.
    fn share(self) -> u64 {
        match self {
            Kind::Success => 55,
            Kind::EarlyError => 15,
            Kind::Panic => 8,
            Kind::Deadline => 8,
            Kind::CancelById => 7,
            Kind::ClientGivesUp => 7,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Job {
    id: u64,
    kind: Kind,
    /// How long the work takes if nothing stops it.
    work: Duration,
}

/// The job's deadline.
const LIMIT: Duration = Duration::from_millis(5);
/// How long a work that never finishes in time takes.
const LONG: Duration = Duration::from_millis(200);
/// When the other client cancels, and when a client gives up.
const CANCEL_AFTER: Duration = Duration::from_millis(1);
const GIVE_UP_AFTER: Duration = Duration::from_millis(2);

/// A small deterministic generator (splitmix64), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn workload(jobs: u64, seed: u64, first_id: u64) -> Vec<Job> {
    let mut rng = Rng(seed);
    (0..jobs)
        .map(|i| {
            let mut roll = rng.next() % 100;
            let kind = Kind::ALL
                .into_iter()
                .find(|kind| {
                    let hit = roll < kind.share();
                    roll = roll.saturating_sub(kind.share());
                    hit
                })
                .unwrap_or(Kind::Success);
            let work = match kind {
                Kind::Success | Kind::Panic => Duration::from_micros(rng.next() % 2000),
                Kind::EarlyError => Duration::ZERO,
                Kind::Deadline | Kind::CancelById | Kind::ClientGivesUp => LONG,
            };
            Job {
                id: first_id + i,
                kind,
                work,
            }
        })
        .collect()
}

#[derive(Debug)]
enum JobError {
    /// The request was invalid: the early `?` exit.
    Invalid,
    /// Cancelled: deadline, cancel-by-id, server shutdown.
    Cancelled,
}

impl From<scoped_cancel::Cancelled> for JobError {
    fn from(_: scoped_cancel::Cancelled) -> Self {
        JobError::Cancelled
    }
}

fn validate(job: &Job) -> Result<(), JobError> {
    match job.kind {
        Kind::EarlyError => Err(JobError::Invalid),
        _ => Ok(()),
    }
}

/// The job's work: the same for both servers.
async fn work(job: Job) -> Result<u64, JobError> {
    validate(&job)?;
    tokio::time::sleep(job.work).await;
    if job.kind == Kind::Panic {
        panic!("[jobs demo] job {} hit a bug", job.id);
    }
    Ok(job.id.wrapping_mul(31))
}

/// What the client saw.
enum Seen {
    Done,
    Failed,
    Cancelled,
    GaveUp,
}

// ---------------------------------------------------------------------------
// (1) The hand-written pattern.

mod hand_written {
    use super::*;

    // scoped-cancel-audit: allow(the demo's hand-written variant: the leak it shows)
    /// The server's registry of running jobs.
    pub static JOBS: LazyLock<Mutex<HashMap<u64, CancellationToken>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));

    // scoped-cancel-audit: allow(the demo's hand-written variant: the leak it shows)
    pub async fn run_job(root: &CancellationToken, job: Job) -> Result<u64, JobError> {
        let token = root.child_token();
        JOBS.lock().unwrap().insert(job.id, token.clone());
        // A watcher per job (progress reporting, releasing a slot, ...).
        let watched = token.clone();
        tokio::spawn(async move { watched.cancelled().await });
        let out = tokio::select! {
            // The cancel endpoint removed the entry already.
            () = token.cancelled() => return Err(JobError::Cancelled),
            out = work(job) => out?,
        };
        // The cleanup: skipped by the `?` above, by a panic in `work`, and
        // when the caller drops this future (timeout, client gone).
        JOBS.lock().unwrap().remove(&job.id);
        token.cancel();
        Ok(out)
    }

    /// The cancel endpoint: careful code removes and cancels.
    pub fn cancel(id: u64) -> bool {
        let token = JOBS.lock().unwrap().remove(&id);
        token.map(|token| token.cancel()).is_some()
    }

    pub fn entries() -> usize {
        JOBS.lock().unwrap().len()
    }

    pub async fn client(root: CancellationToken, job: Job) -> Seen {
        match job.kind {
            Kind::Deadline => match tokio::time::timeout(LIMIT, run_job(&root, job)).await {
                Ok(out) => seen(out),
                Err(_elapsed) => Seen::Cancelled,
            },
            Kind::ClientGivesUp => tokio::select! {
                out = run_job(&root, job) => seen(out),
                () = tokio::time::sleep(GIVE_UP_AFTER) => Seen::GaveUp,
            },
            Kind::CancelById => {
                cancel_soon(job.id, cancel);
                seen(run_job(&root, job).await)
            }
            _ => seen(run_job(&root, job).await),
        }
    }
}

// ---------------------------------------------------------------------------
// (2) The same jobs with `#[scoped_cancel]`.

mod scoped {
    use super::*;
    use scoped_cancel::{scoped_cancel, Registry, Token};

    pub static JOBS: Registry<u64> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = job.id, parent = root, timeout = limit, token = tok)]
    pub async fn run_job(root: &Token, job: Job, limit: Duration) -> Result<u64, JobError> {
        let watched = tok.clone();
        tokio::spawn(async move { watched.cancelled().await });
        let out = work(job).await?;
        Ok(out)
    }

    pub fn cancel(id: u64) -> bool {
        JOBS.cancel(&id)
    }

    pub fn entries() -> usize {
        JOBS.len()
    }

    pub async fn client(root: Token, job: Job) -> Seen {
        let limit = if job.kind == Kind::Deadline {
            LIMIT
        } else {
            Duration::from_secs(3600)
        };
        match job.kind {
            Kind::ClientGivesUp => tokio::select! {
                out = run_job(&root, job, limit) => seen(out),
                () = tokio::time::sleep(GIVE_UP_AFTER) => Seen::GaveUp,
            },
            Kind::CancelById => {
                cancel_soon(job.id, cancel);
                seen(run_job(&root, job, limit).await)
            }
            _ => seen(run_job(&root, job, limit).await),
        }
    }
}

/// Another client cancels job `id` by id, shortly after it starts (retrying
/// until the job is registered).
fn cancel_soon(id: u64, cancel: fn(u64) -> bool) {
    tokio::spawn(async move {
        tokio::time::sleep(CANCEL_AFTER).await;
        while !cancel(id) {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
    });
}

fn seen(out: Result<u64, JobError>) -> Seen {
    match out {
        Ok(_) => Seen::Done,
        Err(JobError::Invalid) => Seen::Failed,
        Err(JobError::Cancelled) => Seen::Cancelled,
    }
}

// ---------------------------------------------------------------------------
// The driver.

#[derive(Clone, Copy)]
enum Variant {
    HandWritten,
    Scoped,
}

impl Variant {
    fn title(self) -> &'static str {
        match self {
            Variant::HandWritten => "hand-written HashMap<u64, CancellationToken>",
            Variant::Scoped => "#[scoped_cancel(registry = JOBS, key = job.id, ...)]",
        }
    }

    fn entries(self) -> usize {
        match self {
            Variant::HandWritten => hand_written::entries(),
            Variant::Scoped => scoped::entries(),
        }
    }
}

#[derive(Default)]
struct Tally {
    done: u64,
    failed: u64,
    cancelled: u64,
    gave_up: u64,
    panicked: u64,
}

/// The server's root: every job's token is a child of it.
struct Server {
    variant: Variant,
    hand_root: CancellationToken,
    scoped_root: scoped_cancel::Scope,
}

impl Server {
    fn new(variant: Variant) -> Server {
        Server {
            variant,
            hand_root: CancellationToken::new(),
            scoped_root: scoped_cancel::Scope::root_named("server"),
        }
    }

    /// Grows the job map and the root's list of children past what the
    /// run will need, and empties them again, so that the baseline is
    /// taken at their high-water mark (neither ever shrinks).
    fn prewarm(&self, n: u64) {
        match self.variant {
            Variant::HandWritten => {
                // scoped-cancel-audit: allow(a local pre-warm batch, dropped at the end of the fn)
                let tokens: Vec<CancellationToken> =
                    (0..n).map(|_| self.hand_root.child_token()).collect();
                let mut map = hand_written::JOBS.lock().unwrap();
                for (id, token) in (u64::MAX - n..).zip(&tokens) {
                    map.insert(id, token.clone());
                }
                for id in u64::MAX - n..u64::MAX {
                    map.remove(&id);
                }
            }
            Variant::Scoped => {
                let root = self.scoped_root.token();
                let scopes: Vec<scoped_cancel::Scope> = (u64::MAX - n..u64::MAX)
                    .map(|id| scoped::JOBS.enter_child(id, &root).unwrap())
                    .collect();
                drop(scopes);
            }
        }
    }
}

/// Runs `jobs` as client tasks, at most `concurrency` at a time.
async fn serve(server: &Server, jobs: &[Job], concurrency: usize) -> Tally {
    let mut tally = Tally::default();
    let mut set = JoinSet::new();
    let (hand_root, scoped_root) = (&server.hand_root, &server.scoped_root);
    for &job in jobs {
        if set.len() >= concurrency {
            if let Some(out) = set.join_next().await {
                count(&mut tally, out);
            }
        }
        match server.variant {
            Variant::HandWritten => set.spawn(hand_written::client(hand_root.clone(), job)),
            Variant::Scoped => set.spawn(scoped::client(scoped_root.token(), job)),
        };
    }
    while let Some(out) = set.join_next().await {
        count(&mut tally, out);
    }
    tally
}

fn count(tally: &mut Tally, out: Result<Seen, tokio::task::JoinError>) {
    match out {
        Ok(Seen::Done) => tally.done += 1,
        Ok(Seen::Failed) => tally.failed += 1,
        Ok(Seen::Cancelled) => tally.cancelled += 1,
        Ok(Seen::GaveUp) => tally.gave_up += 1,
        Err(err) if err.is_panic() => tally.panicked += 1,
        Err(_) => {}
    }
}

/// Tasks still alive on this runtime, after giving them up to `settle` to
/// finish (tokio's count lags on the multi-thread runtime).
async fn alive_tasks(settle: Duration) -> usize {
    let started = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        let alive = Handle::current().metrics().num_alive_tasks();
        if alive == 0 || started.elapsed() >= settle {
            return alive;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

struct Measured {
    tally: Tally,
    jobs: usize,
    entries: usize,
    tasks: usize,
    heap: isize,
    wall: Duration,
}

fn run_variant(variant: Variant, opts: &Options) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads)
        .enable_time()
        .on_thread_start(|| {
            // The thread's handle is allocated on first use; make that
            // happen now, not in the middle of a measurement.
            let _ = std::thread::current();
        })
        .build()
        .expect("build the runtime");
    let warmup = workload(opts.jobs, opts.seed, 0);
    let measured = workload(opts.jobs, opts.seed, 1 << 32);
    rt.block_on(async {
        // The server runs for the whole variant: its root is not cancelled
        // until after the measurement, so whatever a job left behind is
        // still there when we look.
        let server = Server::new(variant);
        server.prewarm(4 * opts.concurrency as u64);
        // Warm-up: the same load with the job kinds that leak in neither
        // variant, so that tables, queues and thread-locals have grown to
        // size before the baseline is taken.
        let clean: Vec<Job> = warmup
            .iter()
            .map(|job| match job.kind {
                Kind::Success | Kind::CancelById => *job,
                _ => Job {
                    kind: Kind::Success,
                    work: Duration::from_micros(job.id % 2000),
                    ..*job
                },
            })
            .collect();
        serve(&server, &clean, opts.concurrency).await;
        // The first panic on a thread allocates a little for good: have
        // every worker panic once now.
        let mut panics = JoinSet::new();
        for _ in 0..64 * opts.threads {
            panics.spawn(async {
                tokio::task::yield_now().await;
                panic!("[jobs demo] warm-up");
            });
        }
        while panics.join_next().await.is_some() {}
        drop(panics);
        // Workers keep a list of tasks that yielded, which only grows: take
        // it to a high-water mark the run will not reach.
        let mut yields = JoinSet::new();
        for _ in 0..16 * opts.concurrency {
            yields.spawn(async {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
            });
        }
        while yields.join_next().await.is_some() {}
        drop(yields);
        let _ = alive_tasks(opts.settle).await;
        drop(clean);

        let before_entries = variant.entries();
        let before = live_bytes();
        let started = Instant::now();
        let tally = serve(&server, &measured, opts.concurrency).await;
        let wall = started.elapsed();
        let tasks = alive_tasks(opts.settle).await;
        let heap = live_bytes() - before;
        Measured {
            tally,
            jobs: measured.len(),
            entries: variant.entries() - before_entries,
            tasks,
            heap,
            wall,
        }
    })
}

fn print(variant: Variant, m: &Measured) {
    println!();
    println!("  {}", variant.title());
    println!("  {}", "-".repeat(60));
    let t = &m.tally;
    println!(
        "  jobs run                {:>10}   (done {}, `?` error {}, panicked {}, cancelled {}, gave up {})",
        m.jobs, t.done, t.failed, t.panicked, t.cancelled, t.gave_up
    );
    println!("  entries left in the map {:>10}", m.entries);
    println!("  tasks still alive       {:>10}", m.tasks);
    println!("  live heap bytes left    {:>10}", m.heap);
    println!("  wall time               {:>10.1?}", m.wall);
}

// ---------------------------------------------------------------------------
// Options.

struct Options {
    jobs: u64,
    concurrency: usize,
    threads: usize,
    seed: u64,
    settle: Duration,
}

const HELP: &str = "\
jobs: a job server run twice on one workload, hand-written vs #[scoped_cancel]

USAGE:
    cargo run --release -p scoped-cancel --example jobs -- [OPTIONS]

OPTIONS:
    --jobs N          jobs per variant (default 20000)
    --concurrency N   jobs in flight at once (default 256)
    --threads N       runtime worker threads (default 2)
    --seed N          workload seed (default 1)
    --settle-ms N     how long to let tasks finish before counting them (default 200)
    -h, --help        print this help

Job mix: 55% success, 15% early `?` error, 8% panic, 8% deadline (5 ms),
7% cancel by id, 7% client gives up (drops the request's future).";

fn options() -> Result<Options, String> {
    let mut opts = Options {
        jobs: 20_000,
        concurrency: 256,
        threads: 2,
        seed: 1,
        settle: Duration::from_millis(200),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            println!("{HELP}");
            std::process::exit(0);
        }
        let mut value = |name: &str| -> Result<u64, String> {
            let text = args.next().ok_or(format!("{name} needs a value"))?;
            text.parse()
                .map_err(|_| format!("{name}: `{text}` is not a number"))
        };
        match arg.as_str() {
            "--jobs" => opts.jobs = value("--jobs")?,
            "--concurrency" => opts.concurrency = value("--concurrency")?.max(1) as usize,
            "--threads" => opts.threads = value("--threads")?.max(1) as usize,
            "--seed" => opts.seed = value("--seed")?,
            "--settle-ms" => opts.settle = Duration::from_millis(value("--settle-ms")?),
            other => return Err(format!("unknown option `{other}` (try --help)")),
        }
    }
    Ok(opts)
}

fn main() {
    let opts = match options() {
        Ok(opts) => opts,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    // The demo's panics are deliberate: keep them off the terminal.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        let demo = message.is_some_and(|message| message.starts_with("[jobs demo]"));
        if !demo {
            default_hook(info);
        }
    }));
    println!(
        "jobs demo: {} jobs per variant, {} in flight, {} worker threads, seed {}",
        opts.jobs, opts.concurrency, opts.threads, opts.seed
    );
    let started = Instant::now();
    let hand = run_variant(Variant::HandWritten, &opts);
    let scoped = run_variant(Variant::Scoped, &opts);
    print(Variant::HandWritten, &hand);
    print(Variant::Scoped, &scoped);
    println!();
    println!(
        "  (tasks counted after up to {:?} to finish; heap bytes measured against a warm baseline; total {:.1?})",
        opts.settle,
        started.elapsed()
    );
}
