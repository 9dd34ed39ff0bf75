//! `RegistryEntry`: the guard of a token indexed with `Registry::insert`.

use std::fmt;
use std::sync::Arc;

use crate::link::Link;
use crate::node::Node;
use crate::token::{Scoped, Token};

/// Keeps a token indexed under a key; removes that entry (and only that
/// entry) when dropped. It does not cancel the token: the token's own scope
/// does. `let _ = JOBS.insert(..)?` removes the entry at once: bind it.
#[must_use = "the entry is removed when this guard drops: `let _ = ...` removes it at once"]
pub struct RegistryEntry {
    link: Option<Link>,
    node: Arc<Node>,
    /// This entry's number: tells its slot from others of the same token.
    entry: u64,
}

impl RegistryEntry {
    pub(crate) fn new(link: Link, node: Arc<Node>, entry: u64) -> Self {
        RegistryEntry {
            link: Some(link),
            node,
            entry,
        }
    }

    /// The indexed token.
    pub fn token(&self) -> Token<Scoped> {
        Token::from_node(self.node.clone())
    }
}

impl Drop for RegistryEntry {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            link.unlink(&self.node, self.entry);
        }
    }
}

impl fmt::Debug for RegistryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryEntry")
            .field("token", &self.token())
            .finish()
    }
}
