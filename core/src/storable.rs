//! `Storable`: the sealed set of values a registry accepts.

use crate::token::{Scoped, Token};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Token<crate::Scoped> {}
}

/// A value a [`Registry`](crate::Registry) may store: only `Token<Scoped>`,
/// which a live scope is bound to cancel.
///
/// Sealed: an un-scoped token or a raw `CancellationToken` would sit in the
/// registry with nobody bound to cancel it or remove it — the leak this crate
/// exists to prevent.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scoped token, so a registry cannot store it",
    label = "nobody is bound to cancel this token or to remove its entry",
    note = "give the token an owner first: `let scope = token.into_scope();` and store `scope.token()`",
    note = "or let the registry create the scope: `let scope = REGISTRY.enter(key)?;`",
    note = "a raw `CancellationToken` becomes scoped with `Token::adopt(&ct).into_scope()`"
)]
pub trait Storable: sealed::Sealed {
    #[doc(hidden)]
    fn into_token(self) -> Token<Scoped>;
}

impl Storable for Token<Scoped> {
    fn into_token(self) -> Token<Scoped> {
        self
    }
}
