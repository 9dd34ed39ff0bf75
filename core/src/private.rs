//! The only paths macro-generated code uses. No semver promise.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use crate::from_cancelled::FromCancelled;
pub use crate::site::Site;
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use core::time::Duration as StdDuration;
/// For expansions that must build in the user's crate with the user's
/// tokio features (`flavor = "multi_thread"` needs `rt-multi-thread`).
pub use tokio;

use crate::cause::Cancelled;
use crate::node::Node;
pub use crate::registry::WaitCall;
use crate::registry::{Key, Registry};
use crate::run::{Run, Timer};
use crate::scope::Scope;
use crate::site::Origin;
use crate::token::{Scoped, Token};

/// Where an annotated fn's scope hangs.
pub enum Parent<'a> {
    /// Under [`Token::current`], or a root when there is none.
    Ambient,
    /// A root (`detached`).
    Detached,
    /// Under this token (`parent = ..`).
    Given(&'a Token<Scoped>),
}

/// Enters a keyed scope for an annotated fn; the key is cloned.
pub fn enter<K: Key>(
    registry: &Registry<K>,
    key: &K,
    site: &'static Site,
    parent: Parent<'_>,
) -> Result<Scope, Cancelled> {
    registry
        .enter_node(key.clone(), node(site, parent, true))
        .map_err(Cancelled::from)
}

/// The node of an annotated fn's scope. Built before the key is cloned or
/// hashed: the key's `Clone`, `Hash` and `Eq` are user code, which must not
/// run while the current scope is taken out to read it.
fn node(site: &'static Site, parent: Parent<'_>, keyed: bool) -> Arc<Node> {
    let origin = Origin::Site(site);
    let parent = match parent {
        Parent::Ambient => return crate::ambient::child_of_current(origin, keyed),
        Parent::Detached => None,
        Parent::Given(token) => Some(&token.node),
    };
    match keyed {
        true => Node::keyed_under(parent, origin),
        false => Node::under(parent, origin),
    }
}

/// `occupied = replace`: takes the key, superseding its holder.
pub fn enter_replacing<K: Key>(
    registry: &Registry<K>,
    key: &K,
    site: &'static Site,
    parent: Parent<'_>,
) -> Result<Scope, Cancelled> {
    registry
        .replace_node(key.clone(), node(site, parent, true))
        .map_err(Cancelled::from)
}

/// `occupied = wait`: queues for the key; the wait is raced against the
/// timeout and the parent, and resolves to the scope and the time left.
pub fn enter_waiting<K: Key>(
    registry: &Registry<K>,
    key: &K,
    site: &'static Site,
    parent: Parent<'_>,
    timeout: Option<Duration>,
) -> WaitCall<K> {
    WaitCall::new(registry, key.clone(), node(site, parent, true), timeout)
}

/// Enters an anonymous scope for an annotated fn.
pub fn enter_anonymous(site: &'static Site, parent: Parent<'_>) -> Scope {
    Scope::from_node(node(site, parent, false))
}

/// Races `body` against the scope (unless `cooperative`) and the timeout.
pub fn run<F: Future>(
    scope: Scope,
    body: F,
    timeout: Option<Duration>,
    cooperative: bool,
) -> Run<F> {
    Run::new(scope, body, timeout.and_then(Timer::after), cooperative)
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
    fn parent_token(&self) -> &Token<Scoped>;
}

#[diagnostic::do_not_recommend]
impl AsParent for Token<Scoped> {
    fn parent_token(&self) -> &Token<Scoped> {
        self
    }
}

#[diagnostic::do_not_recommend]
impl AsParent for Scope {
    fn parent_token(&self) -> &Token<Scoped> {
        self.token_ref()
    }
}

#[diagnostic::do_not_recommend]
impl<T: AsParent + ?Sized> AsParent for &T {
    fn parent_token(&self) -> &Token<Scoped> {
        (**self).parent_token()
    }
}

/// `parent = ..`, for [`enter`] and [`enter_anonymous`].
pub fn parent<P: AsParent + ?Sized>(parent: &P) -> Parent<'_> {
    Parent::Given(parent.parent_token())
}

/// What `#[scoped_cancel::test]` expands to call.
pub use crate::testing::private as testing;
