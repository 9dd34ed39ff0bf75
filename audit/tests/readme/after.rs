//! The job registry of this crate's README after the rewrite: the audit
//! finds nothing in it, and it compiles against `scoped-cancel` (see
//! `tests/readme.rs`).

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

/// The jobs the API can cancel by id.
#[derive(Default)]
pub struct JobRegistry {
    running: Registry<u64>,
}

impl JobRegistry {
    #[scoped_cancel(registry = self.running, key = id)]
    pub async fn run(&self, id: u64, job: Job) -> Result<Report, JobError> {
        job.execute().await
    }

    pub fn cancel(&self, id: u64) -> bool {
        self.running.cancel(&id)
    }
}

pub struct Job(pub u64);
pub struct Report(pub u64);

#[derive(Debug)]
pub enum JobError {
    Cancelled(Cancelled),
}

impl From<Cancelled> for JobError {
    fn from(c: Cancelled) -> Self {
        JobError::Cancelled(c)
    }
}

impl Job {
    /// Job 0 never finishes by itself.
    async fn execute(self) -> Result<Report, JobError> {
        if self.0 == 0 {
            std::future::pending::<()>().await;
        }
        Ok(Report(self.0))
    }
}
