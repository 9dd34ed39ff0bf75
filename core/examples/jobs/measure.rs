//! The demo's measuring machinery: a warm baseline, then one measured run
//! per server, counting registry entries, live tasks and live heap bytes.

use std::time::{Duration, Instant};

use scoped_cancel_support::{alive_tasks, CountingAlloc};
use tokio::task::JoinSet;

use crate::cli::Options;
use crate::workload::{workload, Job, Kind, Seen, LONG};
use crate::{client, Server};

#[global_allocator]
static HEAP: CountingAlloc = CountingAlloc::new();

#[derive(Default)]
struct Tally {
    done: u64,
    failed: u64,
    cancelled: u64,
    gave_up: u64,
    panicked: u64,
}

/// What one server left behind after the measured workload.
pub struct Measured {
    title: &'static str,
    tally: Tally,
    jobs: usize,
    entries: usize,
    tasks: usize,
    heap: isize,
    wall: Duration,
}

/// Runs the workload against server `S` on a fresh runtime, after a warm-up
/// that grows tables, queues and thread-locals to size, so that what is
/// left is what the jobs leaked.
pub fn run<S: Server>(opts: &Options) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads)
        .enable_time()
        .on_thread_start(|| {
            // The thread's handle is allocated on first use: not mid-run.
            let _ = std::thread::current();
        })
        .build()
        .expect("build the runtime");
    let warmup = workload(opts.jobs, opts.seed, 0);
    let measured = workload(opts.jobs, opts.seed, 1 << 32);
    rt.block_on(async {
        // The root lives for the whole run, so whatever a job left in its
        // tree is still there when we look.
        let root = S::root();
        prewarm::<S>(&root, 4 * opts.concurrency as u64).await;
        // The warm-up load, with only the kinds that leak in no server.
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
        serve::<S>(&root, &clean, opts.concurrency).await;
        warm_runtime(opts).await;
        let _ = alive_tasks(opts.settle).await;
        drop(clean);

        let before_entries = S::entries();
        let before = HEAP.live_bytes();
        let started = Instant::now();
        let tally = serve::<S>(&root, &measured, opts.concurrency).await;
        let wall = started.elapsed();
        let tasks = alive_tasks(opts.settle).await;
        let heap = HEAP.live_bytes() - before;
        Measured {
            title: S::TITLE,
            tally,
            jobs: measured.len(),
            entries: S::entries() - before_entries,
            tasks,
            heap,
            wall,
        }
    })
}

/// Grows the server's map and its root's list of children to a high-water
/// mark the run will not reach (neither ever shrinks), then empties them:
/// `n` long jobs, all live at once, then all cancelled by id.
async fn prewarm<S: Server>(root: &S::Root, n: u64) {
    let mut set = JoinSet::new();
    for id in u64::MAX - n..u64::MAX {
        let root = root.clone();
        let job = Job {
            id,
            kind: Kind::Success,
            work: LONG,
        };
        set.spawn(async move { S::run(&root, job, Duration::from_secs(3600)).await });
    }
    while S::entries() < n as usize {
        tokio::task::yield_now().await;
    }
    for id in u64::MAX - n..u64::MAX {
        S::cancel(id);
    }
    while set.join_next().await.is_some() {}
}

/// The first panic on a thread allocates a little for good, and workers keep
/// a list of tasks that yielded that only grows: get both over with.
async fn warm_runtime(opts: &Options) {
    let mut panics = JoinSet::new();
    for _ in 0..64 * opts.threads {
        panics.spawn(async {
            tokio::task::yield_now().await;
            panic!("[jobs demo] warm-up");
        });
    }
    while panics.join_next().await.is_some() {}
    let mut yields = JoinSet::new();
    for _ in 0..16 * opts.concurrency {
        yields.spawn(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
    }
    while yields.join_next().await.is_some() {}
}

/// Runs `jobs` as client tasks, at most `concurrency` at a time.
async fn serve<S: Server>(root: &S::Root, jobs: &[Job], concurrency: usize) -> Tally {
    let mut tally = Tally::default();
    let mut set = JoinSet::new();
    for &job in jobs {
        if set.len() >= concurrency {
            if let Some(out) = set.join_next().await {
                tally.count(out);
            }
        }
        set.spawn(client::<S>(root.clone(), job));
    }
    while let Some(out) = set.join_next().await {
        tally.count(out);
    }
    tally
}

impl Tally {
    fn count(&mut self, out: Result<Seen, tokio::task::JoinError>) {
        match out {
            Ok(Seen::Done) => self.done += 1,
            Ok(Seen::Failed) => self.failed += 1,
            Ok(Seen::Cancelled) => self.cancelled += 1,
            Ok(Seen::GaveUp) => self.gave_up += 1,
            Err(err) if err.is_panic() => self.panicked += 1,
            Err(_) => {}
        }
    }
}

impl Measured {
    /// `Err` naming what is wrong if the server left something behind
    /// (`should_leak` false) or left nothing (`should_leak` true: the demo
    /// would then show nothing).
    ///
    /// Heap bytes count as left from one byte per job up: a leak of any
    /// part of a job, in every job that takes its path, is far above that,
    /// while a runtime or allocator table that grew past its warm-up size
    /// in this run (a few hundred bytes, seldom) is below it.
    pub fn verdict(&self, should_leak: bool) -> Result<(), String> {
        let heap_left = self.heap >= self.jobs as isize;
        let left = [
            ("entries", self.entries as isize, self.entries != 0),
            ("tasks", self.tasks as isize, self.tasks != 0),
            ("heap bytes", self.heap, heap_left),
        ];
        let wrong: Vec<String> = left
            .iter()
            .filter(|(_, _, is_left)| *is_left != should_leak)
            .map(|(what, n, _)| format!("{n} {what}"))
            .collect();
        match (wrong.is_empty(), should_leak) {
            (true, _) => Ok(()),
            (false, true) => Err(format!(
                "{}: expected to leak, but left {}",
                self.title,
                wrong.join(", ")
            )),
            (false, false) => Err(format!(
                "{}: expected to leave nothing, but left {}",
                self.title,
                wrong.join(", ")
            )),
        }
    }

    pub fn print(&self) {
        let t = &self.tally;
        println!();
        println!("  {}", self.title);
        println!("  {}", "-".repeat(60));
        println!(
            "  jobs run                {:>10}   (done {}, `?` error {}, panicked {}, cancelled {}, gave up {})",
            self.jobs, t.done, t.failed, t.panicked, t.cancelled, t.gave_up
        );
        println!("  entries left in the map {:>10}", self.entries);
        println!("  tasks still alive       {:>10}", self.tasks);
        println!("  live heap bytes left    {:>10}", self.heap);
        println!("  wall time               {:>10.1?}", self.wall);
    }
}

/// The demo's panics are deliberate: keep them off the terminal.
pub fn quiet_demo_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if !message.is_some_and(|message| message.starts_with("[jobs demo]")) {
            default_hook(info);
        }
    }));
}
