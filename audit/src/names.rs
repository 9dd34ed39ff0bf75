//! What the names of one file stand for: its `use` declarations.
//!
//! syn does no name resolution, so this is deliberately small: a name brought
//! in by `use a::b::C` or renamed by `use a::b::C as D` maps to the last
//! segment of what it names (`C`). Glob imports are not followed.

use std::collections::HashMap;
use syn::visit::Visit;
use syn::{ItemUse, UseTree};

/// Local name -> the name of the item it refers to.
#[derive(Default, Debug)]
pub struct UseMap {
    /// Local name -> (original name, imported from another crate).
    map: HashMap<String, (String, bool)>,
    /// `use X as Y` pairs (target, rename), for crate-wide re-exports.
    pub renames: Vec<(String, String)>,
}

impl UseMap {
    pub fn of(file: &syn::File) -> UseMap {
        let mut uses = UseMap::default();
        uses.visit_file(file);
        uses
    }

    /// The original name behind a local one (itself when it was not renamed).
    pub fn original<'s>(&'s self, name: &'s str) -> &'s str {
        self.map.get(name).map(|(o, _)| o.as_str()).unwrap_or(name)
    }

    /// Whether `name` was imported from another crate (`use other::Name`):
    /// then a rename elsewhere in this crate cannot be what it means.
    pub fn is_external(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|(_, ext)| *ext)
    }

    fn add_tree(&mut self, tree: &UseTree, parent: Option<&str>, first: Option<&str>) {
        match tree {
            UseTree::Path(p) => {
                let ident = p.ident.to_string();
                let first = first.unwrap_or(&ident);
                self.add_tree(&p.tree, Some(&ident), Some(first));
            }
            UseTree::Name(n) => {
                let name = n.ident.to_string();
                let ext = is_external(first);
                if name == "self" {
                    if let Some(parent) = parent {
                        self.map.insert(parent.to_owned(), (parent.to_owned(), ext));
                    }
                } else {
                    self.map.insert(name.clone(), (name, ext));
                }
            }
            UseTree::Rename(r) => {
                let target = r.ident.to_string();
                let target = match (target.as_str(), parent) {
                    ("self", Some(parent)) => parent.to_owned(),
                    _ => target,
                };
                let rename = r.rename.to_string();
                if rename != "_" {
                    self.renames.push((target.clone(), rename.clone()));
                    self.map.insert(rename, (target, is_external(first)));
                }
            }
            UseTree::Group(g) => {
                for item in &g.items {
                    self.add_tree(item, parent, first);
                }
            }
            UseTree::Glob(_) => {}
        }
    }
}

/// A path that starts outside `crate`, `self` and `super` names another crate.
fn is_external(first: Option<&str>) -> bool {
    first.is_some_and(|f| !matches!(f, "crate" | "self" | "super"))
}

impl<'ast> Visit<'ast> for UseMap {
    fn visit_item_use(&mut self, node: &'ast ItemUse) {
        self.add_tree(&node.tree, None, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_groups_and_self() {
        let file: syn::File = syn::parse_str(
            "use tokio_util::sync::{CancellationToken as Ct, DropGuard};
             use std::collections::{self as coll, HashMap};
             mod inner { use dashmap::DashMap as Dm; }
             use crate::jobs::Job;
             use foo::*;",
        )
        .unwrap();
        let uses = UseMap::of(&file);
        assert_eq!(uses.original("Ct"), "CancellationToken");
        assert_eq!(uses.original("DropGuard"), "DropGuard");
        assert!(!uses.is_external("Job"));
        assert_eq!(uses.original("coll"), "collections");
        assert_eq!(uses.original("HashMap"), "HashMap");
        assert_eq!(uses.original("Dm"), "DashMap");
        assert_eq!(uses.original("Other"), "Other");
        assert!(uses.is_external("Ct"));
        assert!(!uses.is_external("Other"));
        assert_eq!(
            uses.renames,
            [
                ("CancellationToken".to_owned(), "Ct".to_owned()),
                ("collections".to_owned(), "coll".to_owned()),
                ("DashMap".to_owned(), "Dm".to_owned())
            ]
        );
    }
}
