//! A small paired runner shared by the bench targets.
//!
//! Every case is a pair: ours (A) and the hand-written tokio-util code it
//! replaces (B). One round runs a batch of A and a batch of B back to back,
//! alternating which goes first (A B, B A, ...), and records the ratio A/B of
//! that round. The shared 2-core VMs have slow regimes lasting seconds; both
//! halves of a round almost always fall in the same regime, so the median of
//! the per-round ratios is far steadier than a ratio of two separate medians.
//!
//! Knobs (environment):
//! - `SC_BENCH_ROUNDS`: rounds per case (default set by each target);
//! - `SC_BENCH_SCALE`: multiplies batch sizes (default 1.0);
//! - `SC_BENCH_SIDE=ours` or `hand`: run one side only (for profiling with
//!   `valgrind --tool=callgrind`; ratios are then meaningless);
//! - `SC_BENCH_VERBOSE=1`: print every round;
//! - command-line words: run only the cases whose name contains one of them,
//!   or, written `=id`, the case whose id (the name up to its first `:`) is
//!   exactly that (cargo's own `--bench` flag is ignored).

#![allow(dead_code)]

use std::time::Instant;

/// What one batch measured, in the unit of the case (ns per call, ms, bytes).
pub type Sample = f64;

/// One row of the result table.
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub ours: Vec<Sample>,
    pub hand: Vec<Sample>,
    pub ratios: Vec<f64>,
    pub target: Option<f64>,
}

/// Command-line filters and environment knobs.
pub struct Options {
    filters: Vec<String>,
    pub rounds: Option<usize>,
    pub scale: f64,
}

impl Options {
    pub fn from_env() -> Options {
        let filters = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let rounds = std::env::var("SC_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok());
        let scale = std::env::var("SC_BENCH_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.0);
        Options {
            filters,
            rounds,
            scale,
        }
    }

    /// Case names read `id: description`. A filter `=id` selects exactly the
    /// case with that id; any other filter, the cases whose name contains it.
    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| match f.strip_prefix('=') {
                Some(id) => name.split(':').next() == Some(id),
                None => name.contains(f.as_str()),
            })
    }

    pub fn rounds(&self, default: usize) -> usize {
        self.rounds.unwrap_or(default).max(1)
    }

    pub fn scaled(&self, n: usize) -> usize {
        ((n as f64 * self.scale) as usize).max(1)
    }
}

/// Runs `rounds` interleaved rounds (after `warmup` discarded ones) of two
/// batch functions, each returning its measurement.
pub fn paired(
    name: &str,
    unit: &'static str,
    target: Option<f64>,
    warmup: usize,
    rounds: usize,
    mut ours: impl FnMut() -> Sample,
    mut hand: impl FnMut() -> Sample,
) -> Row {
    let side = std::env::var("SC_BENCH_SIDE").unwrap_or_default();
    let mut skip = || f64::NAN;
    let (ours, hand): (&mut dyn FnMut() -> Sample, &mut dyn FnMut() -> Sample) = match side.as_str()
    {
        "ours" => (&mut ours, &mut skip),
        "hand" => (&mut skip, &mut hand),
        _ => (&mut ours, &mut hand),
    };
    for _ in 0..warmup {
        ours();
        hand();
    }
    let mut row = Row {
        name: name.to_string(),
        unit,
        ours: Vec::with_capacity(rounds),
        hand: Vec::with_capacity(rounds),
        ratios: Vec::with_capacity(rounds),
        target,
    };
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = ours();
            (a, hand())
        } else {
            let b = hand();
            (ours(), b)
        };
        if std::env::var_os("SC_BENCH_VERBOSE").is_some() {
            eprintln!(
                "    round {round}: ours {a:.1}, hand {b:.1}, ratio {:.3}",
                a / b
            );
        }
        row.ours.push(a);
        row.hand.push(b);
        row.ratios.push(a / b);
    }
    eprintln!("  {}", row.line());
    row
}

/// Times `f`, returning nanoseconds per `count` operations.
pub fn ns_per(count: usize, f: impl FnOnce()) -> Sample {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / count as f64
}

pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

impl Row {
    /// An empty row, for runners that record rounds themselves ([`Row::push`]).
    pub fn new(name: String, unit: &'static str) -> Row {
        Row {
            name,
            unit,
            ours: Vec::new(),
            hand: Vec::new(),
            ratios: Vec::new(),
            target: None,
        }
    }

    /// Records one round: ours, the baseline, and their ratio.
    pub fn push(&mut self, ours: Sample, hand: Sample) {
        self.ours.push(ours);
        self.hand.push(hand);
        self.ratios.push(ours / hand);
    }

    pub fn ratio(&self) -> f64 {
        median(&self.ratios)
    }

    fn verdict(&self) -> &'static str {
        match self.target {
            None => "",
            Some(t) if self.ratio() <= t => "met",
            Some(_) => "MISSED",
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: ours {:.1} {u}, hand {:.1} {u}, ratio {:.3} [{:.3}..{:.3}]",
            self.name,
            median(&self.ours),
            median(&self.hand),
            self.ratio(),
            quantile(&self.ratios, 0.1),
            quantile(&self.ratios, 0.9),
            u = self.unit,
        )
    }
}

/// Prints the result table as Markdown (to stdout; progress goes to stderr).
pub fn print_table(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| case | ours (median) | hand-written (median) | ratio ours/hand: median | p10 – p90 | rounds | target | |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for row in rows {
        println!(
            "| {} | {:.1} {u} | {:.1} {u} | **{:.3}** | {:.3} – {:.3} | {} | {} | {} |",
            row.name,
            median(&row.ours),
            median(&row.hand),
            row.ratio(),
            quantile(&row.ratios, 0.1),
            quantile(&row.ratios, 0.9),
            row.ratios.len(),
            row.target.map_or(String::new(), |t| format!("≤ {t:.2}")),
            row.verdict(),
            u = row.unit,
        );
    }
}

/// Awaits `fut`, polling it from a function of its own that is never inlined
/// into the caller (one per future type, shared by every case using it).
pub async fn call<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| poll_call(fut.as_mut(), cx)).await
}

#[inline(never)]
fn poll_call<F: std::future::Future>(
    fut: std::pin::Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<F::Output> {
    fut.poll(cx)
}

/// A current-thread runtime with timers and no I/O driver: a `block_on`
/// whose future wakes itself then re-polls it after an atomic swap, where
/// the I/O driver would take two syscalls (eventfd write, epoll) that would
/// dominate a waiting body's measure.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

pub mod calls;
pub mod jobs;
pub mod static_jobs;

/// With `SC_BENCH_PERF_CTL=/path/to/fifo` (perf record's `--control
/// fifo:PATH -D -1`), brackets the measured window so that perf samples only
/// it: `perf_window(true)` before, `perf_window(false)` after.
pub fn perf_window(enable: bool) {
    use std::io::Write;
    if let Some(path) = std::env::var_os("SC_BENCH_PERF_CTL") {
        if let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(path) {
            let _ = fifo.write_all(if enable { b"enable\n" } else { b"disable\n" });
        }
    }
}

/// Times `n` sequential calls inside one `block_on`: ns per call. Each
/// call's future is polled through [`call`], whose poll is never
/// inlined into the timing loop: ours and the hand-written code are then
/// compiled alike, whatever number of cases share a fn (inlining decisions
/// otherwise moved single cases by ±10 %).
#[allow(unused_macros)]
macro_rules! timed {
    ($rt:expr, $n:expr, |$i:ident| $future:expr) => {{
        let n = $n;
        $crate::common::ns_per(n, || {
            $rt.block_on(async {
                for $i in 0..n as u64 {
                    let _ = ::std::hint::black_box($crate::common::call($future).await);
                }
            })
        })
    }};
}
#[allow(unused_imports)]
pub(crate) use timed;
