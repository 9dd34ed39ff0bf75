//! Measuring aids shared by scoped-cancel's integration tests, benches and
//! the `jobs` demo: a counting allocator, a lag-tolerant live-task count and
//! the race tests' iteration count.
//! Not published.

mod alloc;
mod stress;
mod tasks;

pub use alloc::CountingAlloc;
pub use stress::stress_iterations;
pub use tasks::alive_tasks;
