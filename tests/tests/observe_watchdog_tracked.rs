//! The process-wide watchdog over tracked scopes. Alone in its binary: it
//! sees (and cancels) every tracked scope in the process, which would
//! include other tests'.

use std::time::Duration;

use scoped_cancel::testing::track_process;
use scoped_cancel::watchdog::Watchdog;
use scoped_cancel::{Cause, Scope};

#[scoped_cancel::test]
async fn the_tracked_watchdog_expires_anonymous_scopes_on_any_thread_but_not_itself() {
    tokio::time::pause();
    // A scope parked on a thread of its own, seen through process tracking.
    track_process(true);
    let elsewhere = std::thread::spawn(|| Scope::builder().name("tracked::elsewhere").build())
        .join()
        .unwrap();
    track_process(false);
    // And one of this test's, seen through the test's collector.
    let parked = Scope::builder().name("tracked::parked").build();
    let tokens = [parked.token(), elsewhere.token()];

    let watchdog = Watchdog::builder(Duration::from_secs(60))
        .interval(Duration::from_secs(10))
        .cancel_overdue(true)
        .watch_tracked();
    for token in &tokens {
        token.cancelled().await;
        assert_eq!(token.cause(), Some(Cause::Expired));
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
    // Its own scope (as old as the others) is never reported.
    assert_eq!(watchdog.reported(), 2);
    watchdog.stop().await;
    drop((parked, elsewhere));
    tokio::time::resume();
}
