//! Rule `unguarded-insert`: a token goes into a long-lived collection in a fn
//! that does not remove it on every exit — the removal comes after an
//! `.await`, a `?` or a `return`, or lives in another fn — and no guard's
//! `Drop` in the crate removes from that collection.

use super::body::{type_names, Body, ExitAt, Insert, Removal, Tokenish};
use super::guards::Guards;
use super::Decls;
use crate::diag::{Finding, Rule};
use crate::source::{Parsed, Pos};
use crate::types::Crate;
use std::collections::{HashMap, HashSet};
use syn::visit::Visit;
use syn::{ExprMethodCall, FnArg, Pat};

/// One fn of the crate and what its body does.
pub(super) struct FnSite<'a> {
    pub(super) file: usize,
    pub(super) name: String,
    /// The type of the `impl` it is in.
    pub(super) self_ty: Option<String>,
    pub(super) line: usize,
    pub(super) body: Body<'a>,
    /// Params typed as a token collection (with the map's key type).
    pub(super) params: HashMap<String, Option<String>>,
    /// Every param's type names.
    pub(super) param_types: HashMap<String, HashSet<String>>,
}

/// An insert whose removal is in no place of its own fn.
pub(super) struct Wrapped {
    pub(super) fn_index: usize,
    pub(super) insert: usize,
}

/// Runs the rule over a crate: inserts whose removal may be skipped in
/// their own fn are reported here; those with no removal in their fn are
/// returned, for `wrappers` to follow to their callers.
pub(super) fn check<'a>(
    krate: &Crate<'a>,
    fns: &[FnSite<'a>],
    decls: &Decls,
    guards: &Guards,
    out: &mut Vec<Finding>,
) -> Vec<Wrapped> {
    let mut wrapped = Vec::new();
    for (fn_index, f) in fns.iter().enumerate() {
        let parsed = &krate.files[f.file];
        // Removals by collection, in source order: the next one after an
        // insert is a binary search away, however many there are.
        let mut removals: HashMap<&str, Vec<&Removal>> = HashMap::new();
        for r in &f.body.removals {
            removals.entry(r.root.as_str()).or_default().push(r);
        }
        for list in removals.values_mut() {
            list.sort_by_key(|r| r.pos);
        }
        for (i, ins) in f.body.inserts.iter().enumerate() {
            if !relevant(krate, f, ins, decls) {
                continue;
            }
            let next_removal = removals.get(ins.root.as_str()).and_then(|list| {
                let at = list.partition_point(|r| r.pos <= ins.pos);
                list.get(at).copied()
            });
            let Some(removal) = next_removal else {
                wrapped.push(Wrapped {
                    fn_index,
                    insert: i,
                });
                continue;
            };
            let Some(exit) = exit_between(
                &f.body,
                ins.pos,
                &ins.regions,
                removal.pos,
                &removal.regions,
            ) else {
                continue;
            };
            if !guards.removing(&ins.root).is_empty() {
                continue;
            }
            let message = format!(
                "the cancellation token stored in `{}` here is removed on line {} only if this \
                 fn gets past the {} on line {}: {}",
                ins.root,
                removal.pos.line,
                exit.kind.what(),
                exit.pos.line,
                exit.kind.consequence()
            );
            out.push(insert_finding(parsed, f, ins, decls, message));
        }
    }
    wrapped
}

/// The finding at an insert, with its rewrite.
pub(super) fn insert_finding(
    parsed: &Parsed,
    f: &FnSite,
    ins: &Insert,
    decls: &Decls,
    message: String,
) -> Finding {
    let span = ins
        .call
        .method
        .span()
        .join(ins.call.paren_token.span.close())
        .unwrap_or_else(|| ins.call.method.span());
    let mut finding = Finding::new(parsed, Rule::UnguardedInsert, span, message);
    let key = f
        .params
        .get(&ins.root)
        .or_else(|| decls.token.get(&ins.root))
        .cloned()
        .flatten();
    finding.help = help(ins, key.as_deref().unwrap_or("u64"));
    finding.anchors = vec![f.line];
    finding
}

/// The first exit between two points of a body that can skip the second:
/// an exit of a nested closure or async block that holds neither point
/// leaves only itself.
pub(super) fn exit_between<'b>(
    body: &'b Body,
    from: Pos,
    from_regions: &[usize],
    to: Pos,
    to_regions: &[usize],
) -> Option<&'b ExitAt> {
    // Exits are sorted by position once the body is visited.
    let start = body.exits.partition_point(|e| e.pos <= from);
    body.exits[start..]
        .iter()
        .take_while(|e| e.pos < to)
        .find(|e| {
            e.region
                .is_none_or(|r| from_regions.contains(&r) || to_regions.contains(&r))
        })
}

fn relevant(krate: &Crate, f: &FnSite, ins: &Insert, decls: &Decls) -> bool {
    if f.params.contains_key(&ins.root) {
        return true;
    }
    if f.body.fresh.contains(&ins.root) || !decls.token.contains_key(&ins.root) {
        return false;
    }
    !decls.plain.contains(&ins.root) || tokenish(krate, f.file, ins.call, &f.body.token_vars)
}

/// Whether the inserted value looks like a token: a `child_token()`, a
/// `CancellationToken` path, a name saying token or cancel, or a value of
/// a crate type holding one.
fn tokenish(
    krate: &Crate,
    file: usize,
    call: &ExprMethodCall,
    token_vars: &HashSet<String>,
) -> bool {
    let mut seen = Tokenish {
        krate: Some((krate, file)),
        token_vars,
        found: false,
    };
    for arg in &call.args {
        seen.visit_expr(arg);
    }
    seen.found
}

/// Collects every fn of one file with its body.
pub(super) fn collect_fns<'a>(krate: &Crate<'a>, file: usize, out: &mut Vec<FnSite<'a>>) {
    let mut v = FnCollector {
        krate,
        file,
        impls: Vec::new(),
        out,
    };
    v.visit_file(&krate.files[file].ast);
}

struct FnCollector<'v, 'a> {
    krate: &'v Crate<'a>,
    file: usize,
    impls: Vec<Option<String>>,
    out: &'v mut Vec<FnSite<'a>>,
}

impl<'a> Visit<'a> for FnCollector<'_, 'a> {
    fn visit_item_impl(&mut self, node: &'a syn::ItemImpl) {
        let name = match &*node.self_ty {
            syn::Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.impls.push(name);
        syn::visit::visit_item_impl(self, node);
        self.impls.pop();
    }

    fn visit_item_trait(&mut self, node: &'a syn::ItemTrait) {
        self.impls.push(Some(node.ident.to_string()));
        syn::visit::visit_item_trait(self, node);
        self.impls.pop();
    }

    fn visit_item_fn(&mut self, node: &'a syn::ItemFn) {
        // A free fn, even when nested in an impl's method.
        self.impls.push(None);
        self.add(&node.sig, &node.block);
        syn::visit::visit_item_fn(self, node);
        self.impls.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'a syn::ImplItemFn) {
        self.add(&node.sig, &node.block);
        syn::visit::visit_impl_item_fn(self, node);
    }

    fn visit_trait_item_fn(&mut self, node: &'a syn::TraitItemFn) {
        if let Some(block) = &node.default {
            self.add(&node.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, node);
    }
}

impl<'a> FnCollector<'_, 'a> {
    fn add(&mut self, sig: &'a syn::Signature, block: &'a syn::Block) {
        let mut body = Body::default();
        // Parameters typed as a token collection count as one here.
        let mut params = HashMap::new();
        let mut param_types = HashMap::new();
        for arg in &sig.inputs {
            if let FnArg::Typed(pt) = arg {
                if let Pat::Ident(p) = &*pt.pat {
                    let name = p.ident.to_string();
                    param_types.insert(name.clone(), type_names(&pt.ty));
                    let info = self.krate.analyze(self.file, &pt.ty, &[], 0);
                    if info.collection.is_some() {
                        params.insert(name, info.key);
                    } else if info.holds {
                        body.token_vars.insert(name);
                    }
                }
            }
        }
        body.visit_block(block);
        body.exits.sort_by_key(|e| e.pos);
        self.out.push(FnSite {
            file: self.file,
            name: sig.ident.to_string(),
            self_ty: self.impls.last().cloned().flatten(),
            line: sig.ident.span().start().line,
            body,
            params,
            param_types,
        });
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
