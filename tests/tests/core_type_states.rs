//! Compile-time checks of the type states: which types cross threads.
//! (The rejected *uses* live in the trybuild suite, ui-tests/.)

use scoped_cancel::{Cancelled, Registry, RegistryEntry, Run, Scope, Scoped, Token, Unscoped};

fn assert_send_sync_static<T: Send + Sync + 'static>() {}
fn assert_send_static<T: Send + 'static>() {}

/// Compiles only if `T` is NOT `Send`: with `Send`, both impls apply and the
/// call is ambiguous.
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

trait AmbiguousIfSync<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

#[test]
fn scoped_things_cross_threads() {
    assert_send_sync_static::<Token<Scoped>>();
    assert_send_sync_static::<Token>();
    assert_send_sync_static::<Registry<u64>>();
    assert_send_sync_static::<Cancelled>();
    assert_send_static::<Scope>();
    assert_send_static::<RegistryEntry>();
    assert_send_static::<Run<std::future::Ready<()>>>();
    fn clone<T: Clone>() {}
    clone::<Token>();
}

#[test]
fn unscoped_tokens_do_not() {
    <Token<Unscoped> as AmbiguousIfSend<_>>::check();
    <Token<Unscoped> as AmbiguousIfSync<_>>::check();
    fn unpin<T: Unpin>() {}
    unpin::<Token<Unscoped>>();
}
