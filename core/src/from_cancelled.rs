//! `FromCancelled`: what a cancelled `#[scoped_cancel]` fn returns.

use crate::cause::Cancelled;

/// A return type that can express "this call was cancelled".
///
/// `#[scoped_cancel]` returns `FromCancelled::from_cancelled(..)` when the
/// call is cancelled or cannot enter its scope. Implemented for `()`,
/// `Option<T>` (`None`) and `Result<T, E>` where `E: From<Cancelled>`
/// (`Err(cancelled.into())`). For any other type, give the value with
/// `#[scoped_cancel(on_cancel = ..)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot express a cancelled call",
    label = "a cancelled `#[scoped_cancel]` fn must return a value of this type",
    note = "return `Result<T, E>` with `E: From<scoped_cancel::Cancelled>`, or `Option<T>`, or `()`",
    note = "or say what to return: `#[scoped_cancel(on_cancel = <expr>)]`"
)]
pub trait FromCancelled {
    /// The value that stands for a cancelled call.
    fn from_cancelled(cancelled: Cancelled) -> Self;
}

// Each impl is `do_not_recommend`: for `Result<T, String>` rustc then says
// that the return type cannot express cancellation (the message above, whose
// notes name all three impls), not `String: From<Cancelled>` followed by a
// list of `String`'s `From` impls.
#[diagnostic::do_not_recommend]
impl FromCancelled for () {
    fn from_cancelled(_: Cancelled) -> Self {}
}

#[diagnostic::do_not_recommend]
impl<T> FromCancelled for Option<T> {
    fn from_cancelled(_: Cancelled) -> Self {
        None
    }
}

#[diagnostic::do_not_recommend]
impl<T, E: From<Cancelled>> FromCancelled for Result<T, E> {
    fn from_cancelled(cancelled: Cancelled) -> Self {
        Err(E::from(cancelled))
    }
}
