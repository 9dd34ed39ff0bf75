//! Measuring aids shared by scoped-cancel's integration tests, benches and
//! the `jobs` demo: a counting allocator and a lag-tolerant live-task count.
//! Not published.

mod alloc;
mod tasks;

pub use alloc::CountingAlloc;
pub use tasks::alive_tasks;
