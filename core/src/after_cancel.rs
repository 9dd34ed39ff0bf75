//! `AfterCancel`: the registration of a callback run when a token is
//! cancelled ([`Token::after_cancel`](crate::Token::after_cancel)).

use std::fmt;
use std::sync::Arc;

use crate::node::{Call, Node};

/// A callback registered with [`Token::after_cancel`](crate::Token::after_cancel).
///
/// Dropping it unregisters the callback: nothing of it stays in the token.
/// It holds the token's shared state (not a scope), so it neither keeps a
/// scope alive nor cancels anything.
#[must_use = "dropping an `AfterCancel` unregisters its callback at once"]
pub struct AfterCancel {
    node: Arc<Node>,
    /// The callback's place in the token's list; `None` once it ran at
    /// registration (the token was already cancelled) or was unregistered.
    index: Option<u32>,
}

impl AfterCancel {
    pub(crate) fn register(node: &Arc<Node>, call: Call) -> AfterCancel {
        AfterCancel {
            node: node.clone(),
            index: node.listen(call),
        }
    }

    /// Unregisters the callback; `true` if it had not run (and now never
    /// will), `false` if it has run or is running on another thread.
    pub fn stop(mut self) -> bool {
        self.unregister()
    }

    fn unregister(&mut self) -> bool {
        match self.index.take() {
            Some(index) => self.node.unlisten(index),
            None => false,
        }
    }
}

impl Drop for AfterCancel {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl fmt::Debug for AfterCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterCancel")
            .field("registered", &self.index.is_some())
            .finish()
    }
}
