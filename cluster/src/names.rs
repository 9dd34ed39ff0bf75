//! Redis names for one namespace, and the value a holder writes.

use std::fmt;
use std::time::Duration;

/// The Redis names of one namespace. Every name starts with the hash tag
/// `{namespace}` (never empty: the settings refuse an empty namespace), so
/// a namespace lives in one Redis Cluster slot and a script may touch any
/// number of its keys.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    tag: String,
}

impl Names {
    pub(crate) fn new(namespace: &str) -> Names {
        // A `}` would end the hash tag early.
        let clean: String = namespace.chars().filter(|&c| c != '}').collect();
        Names {
            tag: format!("{{{clean}}}"),
        }
    }

    pub(crate) fn lease(&self, key: &str) -> String {
        format!("{}:k:{key}", self.tag)
    }

    pub(crate) fn marker(&self, key: &str) -> String {
        format!("{}:x:{key}", self.tag)
    }

    pub(crate) fn fence(&self) -> String {
        format!("{}:fence", self.tag)
    }

    pub(crate) fn channel_prefix(&self) -> String {
        format!("{}:cancel:", self.tag)
    }

    /// The channel on which `node` hears cancels.
    pub(crate) fn channel(&self, node: &str) -> String {
        format!("{}{node}", self.channel_prefix())
    }

    pub(crate) fn lease_prefix(&self) -> String {
        format!("{}:k:", self.tag)
    }

    /// A `SCAN MATCH` pattern for every lease key (glob characters escaped).
    pub(crate) fn lease_pattern(&self) -> String {
        let mut out = String::new();
        for c in self.lease_prefix().chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('*');
        out
    }
}

/// Who holds a key: parsed from the value its holder wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    node: String,
    scope: u64,
    fence: u64,
    since_ms: u64,
}

impl Holder {
    /// Parses `node|scope|fence|since_ms`; `None` for anything else.
    pub(crate) fn parse(value: &str) -> Option<Holder> {
        let mut parts = value.split('|');
        let node = parts.next()?.to_owned();
        let scope = parts.next()?.parse().ok()?;
        let fence = parts.next()?.parse().ok()?;
        let since_ms = parts.next()?.parse().ok()?;
        if parts.next().is_some() || node.is_empty() {
            return None;
        }
        Some(Holder {
            node,
            scope,
            fence,
            since_ms,
        })
    }

    /// The holding node's id ([`ClusterRegistry::node_id`](crate::ClusterRegistry::node_id)).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The scope's number on its node.
    pub fn scope(&self) -> u64 {
        self.scope
    }

    /// The fencing token of this grant (see [`ClusterRegistry::fence`](crate::ClusterRegistry::fence)).
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// How long the key has been held, by the Redis server's clock at `now_ms`.
    pub(crate) fn age_at(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.since_ms))
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} (scope {}, fence {})",
            self.node, self.scope, self.fence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    /// The part of `key` Redis Cluster hashes: the first `{...}` if
    /// non-empty, else the whole key.
    fn hashed(key: &str) -> &str {
        if let Some(open) = key.find('{') {
            if let Some(len) = key[open + 1..].find('}') {
                if len > 0 {
                    return &key[open + 1..open + 1 + len];
                }
            }
        }
        key
    }

    #[test]
    fn every_name_of_a_namespace_hashes_its_tag_alone() {
        for ns in ["jobs", "a{b", "x}y}", "{", "sp ace"] {
            let names = Names::new(ns);
            let tag = hashed(&names.fence()).to_owned();
            assert_eq!(tag, ns.replace('}', ""), "{ns}");
            for key in ["k", "{other}", "}", "a}b{c}", ""] {
                assert_eq!(hashed(&names.lease(key)), tag, "{ns} {key}");
                assert_eq!(hashed(&names.marker(key)), tag, "{ns} {key}");
            }
        }
    }
}
