//! Guards: types whose `Drop` removes from a collection, directly or by
//! calling a fn of the crate that does. Such a collection is cleaned on
//! every exit of whoever holds the guard, so its inserts are not reported
//! (its declaration still is: the guard must be created for each insert).

use super::body::Body;
use crate::types::Crate;
use std::collections::{HashMap, HashSet};
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
    let mut removers = Removers::default();
    for file in krate.files {
        removers.visit_file(&file.ast);
    }
    let mut finder = GuardFinder {
        removers: removers.by_fn,
        guards: Guards::default(),
    };
    for file in krate.files {
        finder.visit_file(&file.ast);
    }
    finder.guards
}

/// Fn name -> the collections its body removes from.
#[derive(Default)]
struct Removers {
    by_fn: HashMap<String, HashSet<String>>,
}

impl Removers {
    fn add(&mut self, name: &syn::Ident, block: &syn::Block) {
        let mut body = Body::default();
        body.visit_block(block);
        if !body.removals.is_empty() {
            self.by_fn
                .entry(name.to_string())
                .or_default()
                .extend(body.removals.into_iter().map(|r| r.root));
        }
    }
}

impl<'a> Visit<'a> for Removers {
    fn visit_item_fn(&mut self, node: &'a syn::ItemFn) {
        self.add(&node.sig.ident, &node.block);
        syn::visit::visit_item_fn(self, node);
    }

    fn visit_impl_item_fn(&mut self, node: &'a syn::ImplItemFn) {
        self.add(&node.sig.ident, &node.block);
        syn::visit::visit_impl_item_fn(self, node);
    }
}

struct GuardFinder {
    removers: HashMap<String, HashSet<String>>,
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
                    let mut roots: HashSet<String> =
                        body.removals.into_iter().map(|r| r.root).collect();
                    for call in &body.calls {
                        if let Some(removed) = self.removers.get(call) {
                            roots.extend(removed.iter().cloned());
                        }
                    }
                    for root in roots {
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

fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
