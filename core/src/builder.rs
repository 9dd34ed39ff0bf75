//! `ScopeBuilder`: the one way to give a new scope a name (and a parent),
//! whichever way it is made.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use crate::node::Node;
use crate::registry::{EnterError, EnterWaiting, Key, Registry};
use crate::scope::Scope;
use crate::site::Origin;
use crate::token::{Scoped, Token};

/// Options for a new [`Scope`]: its name in reports, its parent. Made by
/// [`Scope::builder`]; it ends in the constructor that makes the scope.
///
/// Every constructor names its scopes after itself (`Scope::root`,
/// `Registry::enter`, ...) and records its caller's file and line; a name
/// of your own makes reports, dumps, events and metrics say what the scope
/// is for. Names are `&'static str`: a metric label and a report's
/// grouping, not a place for a key or an id (reports show keys).
///
/// ```
/// use scoped_cancel::{Registry, Scope};
///
/// static EXPORTS: Registry<u64> = Registry::new();
///
/// let server = Scope::builder().name("server").build();
/// let export = Scope::builder()
///     .name("export")
///     .parent(&server)
///     .enter(&EXPORTS, 7)
///     .unwrap();
/// assert_eq!(export.name(), "export");
/// assert_eq!(EXPORTS.report()[0].name(), "export");
/// drop(server);                              // the export is its child
/// assert!(export.is_cancelled());
/// ```
#[must_use = "a builder makes no scope until `build`, `enter`, `enter_replacing` or `enter_waiting`"]
pub struct ScopeBuilder {
    name: Option<&'static str>,
    parent: Option<Arc<Node>>,
}

/// What [`ScopeBuilder::parent`] accepts: a [`Scope`], or one of its
/// tokens.
pub trait AsParentScope: sealed::Sealed {
    #[doc(hidden)]
    fn parent_token(&self) -> &Token<Scoped>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Scope {}
    impl Sealed for crate::Token<crate::Scoped> {}
}

impl AsParentScope for Scope {
    fn parent_token(&self) -> &Token<Scoped> {
        self.token_ref()
    }
}

impl AsParentScope for Token<Scoped> {
    fn parent_token(&self) -> &Token<Scoped> {
        self
    }
}

impl Scope {
    /// Options for a new scope: a name, a parent. See [`ScopeBuilder`].
    pub fn builder() -> ScopeBuilder {
        ScopeBuilder {
            name: None,
            parent: None,
        }
    }
}

impl ScopeBuilder {
    /// The scope's name in reports, dumps, events and metrics.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    /// Makes the scope a child of `parent` (a [`Scope`] or a [`Token`]):
    /// cancelled with it, inheriting its deadline; tasks spawned below a
    /// keyed scope count in that scope's registry.
    pub fn parent<P: AsParentScope>(mut self, parent: &P) -> Self {
        self.parent = Some(parent.parent_token().node.clone());
        self
    }

    #[track_caller]
    fn node(&self, default: &'static str, keyed: bool) -> Arc<Node> {
        let origin = Origin::Caller {
            name: self.name.unwrap_or(default),
            location: Location::caller(),
        };
        match keyed {
            true => Node::keyed_under(self.parent.as_ref(), origin),
            false => Node::under(self.parent.as_ref(), origin),
        }
    }

    /// An anonymous scope: a root, or a child of the parent given.
    #[track_caller]
    pub fn build(self) -> Scope {
        let default = if self.parent.is_some() {
            "Scope::child"
        } else {
            "Scope::root"
        };
        Scope::from_node(self.node(default, false))
    }

    /// [`Token::adopt`] with these options: a scope whose token is a child
    /// of the foreign `source` (cancelled with it, reading
    /// [`Cause::Parent`](crate::Cause::Parent)); a parent given before is
    /// not used.
    #[track_caller]
    pub fn adopt(self, source: &tokio_util::sync::CancellationToken) -> Scope {
        let origin = Origin::Caller {
            name: self.name.unwrap_or("Token::adopt"),
            location: Location::caller(),
        };
        Scope::from_node(Node::adopted(source, origin))
    }

    /// [`Registry::enter`] with these options.
    #[track_caller]
    pub fn enter<K: Key>(self, registry: &Registry<K>, key: K) -> Result<Scope, EnterError<K>> {
        registry.enter_node(key, self.node("Registry::enter", true))
    }

    /// [`Registry::enter_replacing`] with these options.
    #[track_caller]
    pub fn enter_replacing<K: Key>(
        self,
        registry: &Registry<K>,
        key: K,
    ) -> Result<Scope, EnterError<K>> {
        registry.replace_node(key, self.node("Registry::enter_replacing", true))
    }

    /// [`Registry::enter_waiting`] with these options.
    #[track_caller]
    pub fn enter_waiting<K: Key>(self, registry: &Registry<K>, key: K) -> EnterWaiting<K> {
        registry.wait_node(key, self.node("Registry::enter_waiting", true))
    }
}

impl fmt::Debug for ScopeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeBuilder")
            .field("name", &self.name)
            .field("parent", &self.parent.as_ref().map(|p| p.origin.name()))
            .finish()
    }
}
