//! Guards: types whose `Drop` removes from a collection. An insert into
//! that collection, in a fn that builds the guard (or in the guard's own
//! methods), is removed on every exit.

use super::body::{Body, Removal};
use crate::types::Crate;
use std::collections::HashMap;
use syn::visit::Visit;
use syn::Type;

/// Collection name -> the types whose `Drop` removes from it.
#[derive(Default, Debug)]
pub struct Guards {
    by_root: HashMap<String, Vec<String>>,
}

impl Guards {
    /// The guard types whose `Drop` removes from `root`.
    pub fn removing(&self, root: &str) -> &[String] {
        self.by_root.get(root).map_or(&[], Vec::as_slice)
    }
}

/// Finds every `impl Drop for G` whose `drop` removes from a collection.
pub fn guards(krate: &Crate) -> Guards {
    let mut finder = GuardFinder::default();
    for file in krate.files {
        finder.visit_file(&file.ast);
    }
    finder.guards
}

#[derive(Default)]
struct GuardFinder {
    guards: Guards,
}

impl<'a> Visit<'a> for GuardFinder {
    fn visit_item_impl(&mut self, node: &'a syn::ItemImpl) {
        let is_drop = node
            .trait_
            .as_ref()
            .and_then(|(path, _)| path.segments.last())
            .is_some_and(|s| s.ident == "Drop");
        if let (true, Some(guard)) = (is_drop, type_name(&node.self_ty)) {
            for item in &node.items {
                if let syn::ImplItem::Fn(f) = item {
                    let mut body = Body::default();
                    body.visit_block(&f.block);
                    for Removal { root, .. } in body.removals {
                        self.guards
                            .by_root
                            .entry(root)
                            .or_default()
                            .push(guard.clone());
                    }
                }
            }
        }
        syn::visit::visit_item_impl(self, node);
    }
}

pub(super) fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
