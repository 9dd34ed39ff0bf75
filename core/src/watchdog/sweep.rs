//! One watchdog's loop: snapshot, age, report once, cancel if configured.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::source::Source;
use super::WatchdogBuilder;
use crate::cause::Cause;
use crate::facts::Facts;
use crate::node::Node;
use crate::token::Token;

/// What the watchdog remembers of a scope it has seen.
struct Seen {
    /// Weak: keeps the allocation (so the address cannot be reused by a new
    /// node while this entry exists), never the scope.
    _node: Weak<Node>,
    first: Instant,
    reported: bool,
    /// The sweep that last saw it; entries not seen by the latest are dropped.
    sweep: u64,
}

pub(super) struct Sweeper {
    config: WatchdogBuilder,
    /// The watchdog's own scope, never reported.
    own: Token,
    reported: Arc<AtomicU64>,
    seen: HashMap<usize, Seen>,
    sweeps: u64,
}

impl Sweeper {
    pub(super) fn new(config: WatchdogBuilder, own: Token, reported: Arc<AtomicU64>) -> Self {
        Sweeper {
            config,
            own,
            reported,
            seen: HashMap::new(),
            sweeps: 0,
        }
    }

    pub(super) async fn run<S: Source>(mut self, source: S) {
        // A sweep at once, then one an interval after the end of the last
        // (a late sweep delays the next, as `MissedTickBehavior::Delay`
        // does); an interval past what the clock counts (`Duration::MAX`)
        // means no second sweep.
        loop {
            if !self.sweep(&source) {
                return;
            }
            match Instant::now().checked_add(self.config.interval) {
                Some(next) => tokio::time::sleep_until(next).await,
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// One look; `false` once the source is gone.
    fn sweep<S: Source>(&mut self, source: &S) -> bool {
        let Some(live) = source.live() else {
            return false;
        };
        // Every lock of the source is released here.
        let now = Instant::now();
        self.sweeps += 1;
        let sweep = self.sweeps;
        let mut overdue = Vec::new();
        for (node, key) in live {
            if Arc::ptr_eq(&node, &self.own.node) || node.has_ended() {
                continue;
            }
            let id = Arc::as_ptr(&node) as usize;
            let seen = self.seen.entry(id).or_insert_with(|| Seen {
                _node: Arc::downgrade(&node),
                first: now,
                reported: false,
                sweep,
            });
            seen.sweep = sweep;
            let age = node.born.age().max(now - seen.first);
            if age >= self.config.max_age && !seen.reported {
                seen.reported = true;
                overdue.push((node, key, age));
            }
        }
        self.seen.retain(|_, seen| seen.sweep == sweep);
        for (node, key, age) in overdue {
            let cancelled = self.config.cancel_overdue && node.cancel_with(Cause::Expired);
            let key = S::key_text(&key, &node);
            if cancelled {
                crate::observe::cancelled(&node, Cause::Expired, || key.clone());
            }
            let mut facts = Facts::of(&node);
            facts.age = facts.age.max(age);
            self.reported.fetch_add(1, Ordering::Relaxed);
            crate::observe::overdue(&facts, key.as_deref(), cancelled);
        }
        true
    }
}
