//! Rule `unguarded-insert`: a token goes into a long-lived collection in a fn
//! that does not remove it on every exit — the removal comes after an
//! `.await`, a `?` or a `return`, or lives in another fn — and no guard's
//! `Drop` in the crate removes from that collection.

use super::body::{Body, Insert, Tokenish};
use super::guards::Guards;
use super::Decls;
use crate::diag::{Finding, Rule};
use crate::source::Parsed;
use crate::types::Crate;
use std::collections::{HashMap, HashSet};
use syn::visit::Visit;
use syn::{ExprMethodCall, FnArg, Pat};

/// Runs the rule over one file.
pub fn check(krate: &Crate, file: usize, decls: &Decls, guards: &Guards, out: &mut Vec<Finding>) {
    let parsed = &krate.files[file];
    let mut v = FnFinder {
        krate,
        file,
        parsed,
        decls,
        guards,
        out,
    };
    v.visit_file(&parsed.ast);
}

struct FnFinder<'v, 'a> {
    krate: &'v Crate<'a>,
    file: usize,
    parsed: &'a Parsed,
    decls: &'v Decls,
    guards: &'v Guards,
    out: &'v mut Vec<Finding>,
}

impl<'a> Visit<'a> for FnFinder<'_, 'a> {
    fn visit_item_fn(&mut self, node: &'a syn::ItemFn) {
        self.check_fn(&node.sig, &node.block);
        syn::visit::visit_item_fn(self, node);
    }

    fn visit_impl_item_fn(&mut self, node: &'a syn::ImplItemFn) {
        self.check_fn(&node.sig, &node.block);
        syn::visit::visit_impl_item_fn(self, node);
    }

    fn visit_trait_item_fn(&mut self, node: &'a syn::TraitItemFn) {
        if let Some(block) = &node.default {
            self.check_fn(&node.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, node);
    }
}

impl<'a> FnFinder<'_, 'a> {
    fn check_fn(&mut self, sig: &'a syn::Signature, block: &'a syn::Block) {
        let mut body = Body::default();
        // Parameters typed as a token collection count as one here.
        let mut params = HashMap::new();
        for arg in &sig.inputs {
            if let FnArg::Typed(pt) = arg {
                if let Pat::Ident(p) = &*pt.pat {
                    let info = self.krate.analyze(self.file, &pt.ty, &[], 0);
                    if info.collection.is_some() {
                        params.insert(p.ident.to_string(), info.key);
                    } else if info.holds {
                        body.token_vars.insert(p.ident.to_string());
                    }
                }
            }
        }
        body.visit_block(block);
        let fn_line = sig.ident.span().start().line;
        for ins in &body.inserts {
            if !self.relevant(ins, &params, &body, &body.token_vars) || self.guarded(&ins.root) {
                continue;
            }
            let next_removal = body
                .removals
                .iter()
                .filter(|r| r.root == ins.root && r.pos > ins.pos)
                .min_by_key(|r| r.pos);
            let exit = next_removal.and_then(|removal| {
                body.exits
                    .iter()
                    .filter(|e| e.pos > ins.pos && e.pos < removal.pos)
                    // An exit of a nested closure or async block that holds
                    // neither the insert nor the removal leaves only itself.
                    .filter(|e| {
                        e.region.is_none_or(|r| {
                            ins.regions.contains(&r) || removal.regions.contains(&r)
                        })
                    })
                    .min_by_key(|e| e.pos)
                    .map(|e| (e.kind, e.pos, removal.pos))
            });
            let message = match (next_removal, exit) {
                (Some(_), None) => continue,
                (None, _) => format!(
                    "the cancellation token stored in `{}` here is not removed by this fn: an \
                     early return, a panic or a dropped future leaves the entry and its token \
                     behind",
                    ins.root
                ),
                (Some(_), Some((kind, at, removal))) => format!(
                    "the cancellation token stored in `{}` here is removed on line {} only if \
                     this fn gets past the {} on line {}: {}",
                    ins.root,
                    removal.line,
                    kind.what(),
                    at.line,
                    kind.consequence()
                ),
            };
            let span = ins
                .call
                .method
                .span()
                .join(ins.call.paren_token.span.close())
                .unwrap_or_else(|| ins.call.method.span());
            let mut f = Finding::new(self.parsed, Rule::UnguardedInsert, span, message);
            let key = params
                .get(&ins.root)
                .or_else(|| self.decls.token.get(&ins.root))
                .cloned()
                .flatten();
            f.help = help(ins, key.as_deref().unwrap_or("u64"));
            f.anchors = vec![fn_line];
            self.out.push(f);
        }
    }

    fn relevant(
        &self,
        ins: &Insert,
        params: &HashMap<String, Option<String>>,
        body: &Body,
        token_vars: &HashSet<String>,
    ) -> bool {
        if params.contains_key(&ins.root) {
            return true;
        }
        if body.fresh.contains(&ins.root) || !self.decls.token.contains_key(&ins.root) {
            return false;
        }
        !self.decls.plain.contains(&ins.root) || self.tokenish(ins.call, token_vars)
    }

    /// Whether some guard's `Drop` removes from `root`.
    fn guarded(&self, root: &str) -> bool {
        !self.guards.removing(root).is_empty()
    }

    /// Whether the inserted value looks like a token: a `child_token()`, a
    /// `CancellationToken` path, a name saying token or cancel, or a value of
    /// a crate type holding one.
    fn tokenish(&self, call: &ExprMethodCall, token_vars: &HashSet<String>) -> bool {
        let mut seen = Tokenish {
            krate: Some((self.krate, self.file)),
            token_vars,
            found: false,
        };
        for arg in &call.args {
            seen.visit_expr(arg);
        }
        seen.found
    }
}

/// The rewrite: enter a `Scope` (by the macro or by hand) instead of inserting.
fn help(ins: &Insert, key: &str) -> Vec<String> {
    let method = ins.call.method.to_string();
    if method.starts_with("push") {
        return vec![
            "let a `Scope` own the token instead: a child scope ends, and cancels, on every \
             exit"
                .into(),
            "let child = scope.child();                  // a `Scope`, not a raw token".into(),
            "tokio::spawn(worker(child));                // the task owns it".into(),
        ];
    }
    let registry = if ins.through_field {
        format!("self.{}", ins.root)
    } else {
        ins.root.clone()
    };
    let recv = if ins.through_field { "&self, " } else { "" };
    vec![
        format!(
            "make `{}` a `scoped_cancel::Registry` and enter a `Scope` instead: its guard \
             removes the entry and cancels the token on every exit",
            ins.root
        ),
        format!("#[scoped_cancel(registry = {registry}, key = id, token = token)]"),
        format!(
            "async fn run({recv}id: {key}) {{ .. }}  // removed on return, `?`, panic and drop"
        ),
        format!("// or by hand: let scope = {registry}.enter(id)?;"),
    ]
}
