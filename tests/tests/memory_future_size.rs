//! A keyed job's future stays within a few words of the leanest
//! hand-written job's. tokio allocates a task in 128-byte steps (its cell
//! is 128-aligned), so a few bytes more in the future can cost a spawned
//! job 128 bytes of heap: the memory bench found ours at 184 B against
//! 120 B once, a 384-byte task against a 256-byte one (1.37× per live
//! job). Sizes differ between debug and release builds, so the check is
//! relative, in the same build.

#[path = "../benches/common/static_jobs.rs"]
mod static_jobs;

use static_jobs::{lean_job, ours_job};

#[test]
fn a_keyed_jobs_future_is_at_most_two_words_over_the_leanest_hand_written_one() {
    let ours = std::mem::size_of_val(&ours_job(0));
    let lean = std::mem::size_of_val(&lean_job(0));
    eprintln!("future sizes: ours {ours} B, leanest hand-written {lean} B");
    assert!(
        ours <= lean + 16,
        "a keyed job's future is {ours} B against {lean} B by hand"
    );
}
