//! The only paths macro-generated code uses. No semver promise.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::from_cancelled::FromCancelled;
pub use crate::site::Site;
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use core::time::Duration as StdDuration;

use crate::cause::Cancelled;
pub use crate::registry::WaitCall;
use crate::registry::{Key, Registry};
use crate::run::Run;
use crate::scope::Scope;
use crate::site::Origin;
use crate::token::{Scoped, Token};

/// Enters a keyed scope for an annotated fn; the key is cloned.
pub fn enter<K: Key>(
    registry: &Registry<K>,
    key: &K,
    site: &'static Site,
    parent: Option<&CancellationToken>,
) -> Result<Scope, Cancelled> {
    registry
        .enter_at(key.clone(), Origin::Site(site), parent)
        .map_err(Cancelled::from)
}

/// `occupied = replace`: takes the key, superseding its holder.
pub fn enter_replacing<K: Key>(
    registry: &Registry<K>,
    key: &K,
    site: &'static Site,
    parent: Option<&CancellationToken>,
) -> Result<Scope, Cancelled> {
    registry
        .replace_at(key.clone(), Origin::Site(site), parent)
        .map_err(Cancelled::from)
}

/// `occupied = wait`: queues for the key; the wait is raced against the
/// timeout and the parent, and resolves to the scope and the time left.
pub fn enter_waiting<K: Key>(
    registry: &Registry<K>,
    key: &K,
    site: &'static Site,
    parent: Option<&CancellationToken>,
    timeout: Option<Duration>,
) -> WaitCall<K> {
    WaitCall::new(registry, key.clone(), Origin::Site(site), parent, timeout)
}

/// Enters an anonymous scope for an annotated fn.
pub fn enter_anonymous(site: &'static Site, parent: Option<&CancellationToken>) -> Scope {
    Scope::under(parent, Origin::Site(site))
}

/// Races `body` against the scope (unless `cooperative`) and the timeout.
pub fn run<F: Future>(
    scope: Scope,
    body: F,
    timeout: Option<Duration>,
    cooperative: bool,
) -> Run<F> {
    Run::new(scope, body, timeout, cooperative)
}

/// The value a cancelled call returns.
pub fn cancelled<R: FromCancelled>(cancelled: Cancelled) -> R {
    R::from_cancelled(cancelled)
}

/// What `parent = <expr>` accepts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the parent of a scope",
    label = "expected a `Token<Scoped>`, a `&Token<Scoped>` or a `&Scope`",
    note = "pass the parent scope's token: `parent = scope.token()` or `parent = &token`",
    note = "a tokio-util `CancellationToken` becomes a parent through a scope: \
            `let scope = Token::adopt(&ct).into_scope();` then `parent = scope`"
)]
pub trait AsParent {
    fn cancellation(&self) -> &CancellationToken;
}

#[diagnostic::do_not_recommend]
impl AsParent for Token<Scoped> {
    fn cancellation(&self) -> &CancellationToken {
        &self.node.ct
    }
}

#[diagnostic::do_not_recommend]
impl AsParent for Scope {
    fn cancellation(&self) -> &CancellationToken {
        &self.node().ct
    }
}

#[diagnostic::do_not_recommend]
impl<T: AsParent + ?Sized> AsParent for &T {
    fn cancellation(&self) -> &CancellationToken {
        (**self).cancellation()
    }
}

/// The parent's tokio-util token, for [`enter`] and [`enter_anonymous`].
pub fn parent<P: AsParent + ?Sized>(parent: &P) -> &CancellationToken {
    parent.cancellation()
}

/// What `#[scoped_cancel::test]` expands to call.
pub use crate::testing::private as testing;
