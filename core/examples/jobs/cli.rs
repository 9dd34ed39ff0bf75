//! The demo's command line.

use std::time::Duration;

pub struct Options {
    pub jobs: u64,
    pub concurrency: usize,
    pub threads: usize,
    pub seed: u64,
    pub settle: Duration,
}

const HELP: &str = "\
jobs: one job server, three ways, on one workload: naive map, map + drop guard, #[scoped_cancel]

Exits with status 1 if the naive server leaves nothing behind, or the
guarded or scoped server leaves anything (entries, tasks, heap bytes).

USAGE:
    cargo run --release -p scoped-cancel --example jobs -- [OPTIONS]

OPTIONS:
    --jobs N          jobs per variant (default 20000)
    --concurrency N   jobs in flight at once (default 256)
    --threads N       runtime worker threads (default 2)
    --seed N          workload seed (default 1)
    --settle-ms N     how long to let tasks finish before counting them (default 2000;
                      counting stops as soon as none is left)
    -h, --help        print this help

Job mix: 55% success, 15% early `?` error, 8% panic, 8% deadline (5 ms),
7% cancel by id, 7% client gives up (drops the request's future).";

pub fn options() -> Result<Options, String> {
    let mut opts = Options {
        jobs: 20_000,
        concurrency: 256,
        threads: 2,
        seed: 1,
        // Generous for a loaded machine: a server whose tasks all end
        // stops waiting as soon as they have.
        settle: Duration::from_secs(2),
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
