//! A million callbacks registered and dropped on one long-lived token, and
//! a hundred thousand scopes linked to it and ended, leave the token's heap
//! as it was. Alone in its binary; counted on the test's own thread, where
//! all of this runs (the harness's threads allocate meanwhile).

use scoped_cancel::Scope;
use scoped_cancel_support::stress_iterations;
use scoped_cancel_tests::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

#[test]
fn registrations_and_links_made_and_dropped_leave_the_token_as_it_was() {
    let long_lived = Scope::root();
    let token = long_lived.token();
    // The first registration makes the token's list; it stays.
    drop(token.after_cancel(|| {}));
    let heap = ALLOC.thread_live_bytes();
    for i in 0..stress_iterations(1_000_000) {
        let captured = vec![i as u8; i % 64];
        let registration = token.after_cancel(move || drop(captured));
        if i % 2 == 0 {
            assert!(registration.stop());
        }
    }
    assert_eq!(
        ALLOC.thread_live_bytes() - heap,
        0,
        "after the registrations"
    );
    for _ in 0..stress_iterations(1_000_000) / 10 {
        let short = Scope::root();
        short.link(&token);
    }
    assert_eq!(ALLOC.thread_live_bytes() - heap, 0, "after the links");
    drop(long_lived);
}
