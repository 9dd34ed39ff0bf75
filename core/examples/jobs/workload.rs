//! The demo's workload: the same jobs, in the same order, for every server.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Success,
    EarlyError,
    Panic,
    Deadline,
    CancelById,
    ClientGivesUp,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
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
pub struct Job {
    pub id: u64,
    pub kind: Kind,
    /// How long the work takes if nothing stops it.
    pub work: Duration,
}

/// The job's deadline.
pub const LIMIT: Duration = Duration::from_millis(5);
/// How long a work that never finishes in time takes.
pub const LONG: Duration = Duration::from_millis(200);
/// When the other client cancels, and when a client gives up.
pub const CANCEL_AFTER: Duration = Duration::from_millis(1);
pub const GIVE_UP_AFTER: Duration = Duration::from_millis(2);

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

pub fn workload(jobs: u64, seed: u64, first_id: u64) -> Vec<Job> {
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
pub enum JobError {
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
pub async fn work(job: Job) -> Result<u64, JobError> {
    validate(&job)?;
    tokio::time::sleep(job.work).await;
    if job.kind == Kind::Panic {
        panic!("[jobs demo] job {} hit a bug", job.id);
    }
    Ok(job.id.wrapping_mul(31))
}

/// What the client saw.
pub enum Seen {
    Done,
    Failed,
    Cancelled,
    GaveUp,
}

/// How the client saw a job end.
pub fn seen(out: Result<u64, JobError>) -> Seen {
    match out {
        Ok(_) => Seen::Done,
        Err(JobError::Invalid) => Seen::Failed,
        Err(JobError::Cancelled) => Seen::Cancelled,
    }
}
