//! Rule `unguarded-insert`: a token goes into a long-lived collection in a fn
//! that does not remove it on every exit — the removal comes after an
//! `.await`, a `?` or a `return`, or lives in another fn — and no guard whose
//! `Drop` removes from that collection is in play.

use super::Decls;
use crate::diag::{Finding, Rule};
use crate::source::{Parsed, Pos};
use crate::types::Crate;
use std::collections::{HashMap, HashSet};
use syn::visit::Visit;
use syn::{Expr, ExprMethodCall, FnArg, Pat, Type};

const INSERTS: &[&str] = &[
    "insert",
    "try_insert",
    "insert_full",
    "push",
    "push_back",
    "push_front",
    "or_insert",
    "or_insert_with",
    "or_insert_with_key",
];

const REMOVALS: &[&str] = &[
    "remove",
    "remove_entry",
    "swap_remove",
    "shift_remove",
    "swap_remove_full",
    "shift_remove_full",
    "pop",
    "pop_back",
    "pop_front",
    "retain",
    "clear",
    "drain",
    "take",
    "truncate",
];

/// Collection name -> the types whose `Drop` removes from it.
#[derive(Default, Debug)]
pub struct Guards {
    by_root: HashMap<String, Vec<String>>,
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
        impl_type: None,
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
    impl_type: Option<String>,
}

impl<'a> Visit<'a> for FnFinder<'_, 'a> {
    fn visit_item_impl(&mut self, node: &'a syn::ItemImpl) {
        let outer = self
            .impl_type
            .replace(type_name(&node.self_ty).unwrap_or_default());
        syn::visit::visit_item_impl(self, node);
        self.impl_type = outer;
    }

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
            if !self.relevant(ins, &params, &body, &body.token_vars)
                || self.guarded(&ins.root, &body)
            {
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

    /// Whether a guard type whose `Drop` removes from `root` is built here
    /// (named in the body) or this fn is one of its own methods.
    fn guarded(&self, root: &str, body: &Body) -> bool {
        self.guards.by_root.get(root).is_some_and(|gs| {
            gs.iter()
                .any(|g| body.mentions.contains(g) || self.impl_type.as_deref() == Some(g))
        })
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

struct Tokenish<'v, 'a> {
    krate: Option<(&'v Crate<'a>, usize)>,
    /// Params typed as a token holder, locals made from one.
    token_vars: &'v HashSet<String>,
    found: bool,
}

impl Tokenish<'_, '_> {
    fn in_expr(e: &Expr, token_vars: &HashSet<String>) -> bool {
        let mut seen = Tokenish {
            krate: None,
            token_vars,
            found: false,
        };
        seen.visit_expr(e);
        seen.found
    }
}

impl<'a> Visit<'a> for Tokenish<'_, '_> {
    fn visit_ident(&mut self, i: &'a syn::Ident) {
        let name = i.to_string();
        let lower = name.to_ascii_lowercase();
        if lower.contains("token")
            || lower.contains("cancel")
            || self.token_vars.contains(&name)
            || self
                .krate
                .is_some_and(|(krate, file)| krate.is_holder(file, &name))
        {
            self.found = true;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Exit {
    Await,
    AwaitMacro(&'static str),
    Try,
    Return,
}

impl Exit {
    fn what(self) -> &'static str {
        match self {
            Exit::Await => "`.await`",
            Exit::AwaitMacro(name) => name,
            Exit::Try => "`?`",
            Exit::Return => "`return`",
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            Exit::Await | Exit::AwaitMacro(_) => {
                "dropping the future there (an abort, a timeout, a lost `select!` branch) skips \
                 the removal"
            }
            Exit::Try => "an error there returns early and skips the removal",
            Exit::Return => "that early return skips the removal",
        }
    }
}

struct Insert<'a> {
    root: String,
    through_field: bool,
    call: &'a ExprMethodCall,
    pos: Pos,
    /// The closures and async blocks it sits in (ids, outermost first).
    regions: Vec<usize>,
}

struct Removal {
    root: String,
    pos: Pos,
    regions: Vec<usize>,
}

/// A point where the fn's future may stop: `.await`, `?`, `return`.
struct ExitAt {
    kind: Exit,
    pos: Pos,
    /// The innermost closure or async block around it.
    region: Option<usize>,
}

/// What one fn body does, in source order.
#[derive(Default)]
struct Body<'a> {
    inserts: Vec<Insert<'a>>,
    removals: Vec<Removal>,
    exits: Vec<ExitAt>,
    /// Closures and async blocks being visited, innermost last.
    regions: Vec<usize>,
    next_region: usize,
    /// Every name in a path: types built, fns called.
    mentions: HashSet<String>,
    /// `let map = JOBS.lock().unwrap();` -> map stands for JOBS.
    aliases: HashMap<String, (String, bool)>,
    /// Locals built here (`Vec::new()`, `vec![]`, a typed `let`): not shared.
    fresh: HashSet<String>,
    /// Params typed as a token holder, and locals made from a token.
    token_vars: HashSet<String>,
}

impl Body<'_> {
    fn exit(&mut self, kind: Exit, at: proc_macro2::Span) {
        self.exits.push(ExitAt {
            kind,
            pos: at.start().into(),
            region: self.regions.last().copied(),
        });
    }

    fn region<F: FnOnce(&mut Self)>(&mut self, visit: F) {
        self.regions.push(self.next_region);
        self.next_region += 1;
        visit(self);
        self.regions.pop();
    }

    /// Exits inside a macro's tokens (`select!` arms with `?` or `return`).
    fn exits_in_tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut after_dot = false;
        for tt in tokens {
            match tt {
                proc_macro2::TokenTree::Group(g) => self.exits_in_tokens(g.stream()),
                proc_macro2::TokenTree::Punct(p) if p.as_char() == '?' => {
                    self.exit(Exit::Try, p.span());
                }
                proc_macro2::TokenTree::Ident(i) if i == "await" && after_dot => {
                    self.exit(Exit::Await, i.span());
                }
                proc_macro2::TokenTree::Ident(i) if i == "return" => {
                    self.exit(Exit::Return, i.span());
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == '.' => {
                    after_dot = true;
                    continue;
                }
                _ => {}
            }
            after_dot = false;
        }
    }

    fn root_of(&self, e: &Expr) -> Option<(String, bool)> {
        let (root, field) = root(e)?;
        match self.aliases.get(&root) {
            Some(target) if !field => Some(target.clone()),
            _ => Some((root, field)),
        }
    }
}

impl<'a> Visit<'a> for Body<'a> {
    fn visit_local(&mut self, node: &'a syn::Local) {
        let (name, typed) = match &node.pat {
            Pat::Ident(p) => (Some(p.ident.to_string()), false),
            Pat::Type(pt) => match &*pt.pat {
                Pat::Ident(p) => (Some(p.ident.to_string()), true),
                _ => (None, true),
            },
            _ => (None, false),
        };
        if let Some(name) = name {
            if node
                .init
                .as_ref()
                .is_some_and(|init| Tokenish::in_expr(&init.expr, &self.token_vars))
            {
                self.token_vars.insert(name.clone());
            }
            match &node.init {
                _ if typed => {
                    self.fresh.insert(name);
                }
                Some(init) if is_fresh(&init.expr) => {
                    self.fresh.insert(name);
                }
                Some(init) => {
                    if let Some(target) = self.root_of(&init.expr) {
                        self.aliases.insert(name, target);
                    }
                }
                None => {}
            }
        }
        syn::visit::visit_local(self, node);
    }

    fn visit_expr_method_call(&mut self, node: &'a ExprMethodCall) {
        let method = node.method.to_string();
        let pos = Pos::from(node.method.span().start());
        if INSERTS.contains(&method.as_str()) {
            if let Some((root, through_field)) = self.root_of(&node.receiver) {
                self.inserts.push(Insert {
                    root,
                    through_field,
                    call: node,
                    pos,
                    regions: self.regions.clone(),
                });
            }
        } else if REMOVALS.contains(&method.as_str()) {
            if let Some((root, _)) = self.root_of(&node.receiver) {
                self.removals.push(Removal {
                    root,
                    pos,
                    regions: self.regions.clone(),
                });
            }
        }
        syn::visit::visit_expr_method_call(self, node);
    }

    fn visit_expr_await(&mut self, node: &'a syn::ExprAwait) {
        syn::visit::visit_expr_await(self, node);
        self.exit(Exit::Await, node.await_token.span);
    }

    fn visit_expr_try(&mut self, node: &'a syn::ExprTry) {
        syn::visit::visit_expr_try(self, node);
        self.exit(Exit::Try, node.question_token.span);
    }

    fn visit_expr_return(&mut self, node: &'a syn::ExprReturn) {
        self.exit(Exit::Return, node.return_token.span);
        syn::visit::visit_expr_return(self, node);
    }

    fn visit_expr_async(&mut self, node: &'a syn::ExprAsync) {
        self.region(|b| syn::visit::visit_expr_async(b, node));
    }

    fn visit_expr_closure(&mut self, node: &'a syn::ExprClosure) {
        self.region(|b| syn::visit::visit_expr_closure(b, node));
    }

    fn visit_macro(&mut self, node: &'a syn::Macro) {
        // `select!` and `join!` await their branches themselves.
        if let Some(seg) = node.path.segments.last() {
            let name = match seg.ident.to_string().as_str() {
                "select" => Some("`select!`"),
                "join" => Some("`join!`"),
                "try_join" => Some("`try_join!`"),
                _ => None,
            };
            if let Some(name) = name {
                self.exit(Exit::AwaitMacro(name), seg.ident.span());
            }
        }
        self.exits_in_tokens(node.tokens.clone());
    }

    fn visit_path(&mut self, node: &'a syn::Path) {
        for seg in &node.segments {
            self.mentions.insert(seg.ident.to_string());
        }
        syn::visit::visit_path(self, node);
    }

    // A nested fn or impl is checked on its own.
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// The collection a receiver expression reaches: the last field named
/// (`self.inner.jobs.lock()` -> `jobs`, through a field), or the static,
/// local or fn it starts from (`JOBS.write().await`, `jobs()`).
fn root(e: &Expr) -> Option<(String, bool)> {
    match e {
        Expr::MethodCall(m) => root(&m.receiver),
        Expr::Field(f) => match &f.member {
            syn::Member::Named(id) => Some((id.to_string(), true)),
            syn::Member::Unnamed(_) => root(&f.base),
        },
        Expr::Path(p) => p.path.segments.last().map(|s| (s.ident.to_string(), false)),
        // `jobs()` returns the collection; `lock(&JOBS)` passes it through.
        Expr::Call(c) => match (c.args.first(), &*c.func) {
            (Some(arg), _) => root(arg),
            (None, Expr::Path(p)) => p.path.segments.last().map(|s| (s.ident.to_string(), false)),
            _ => None,
        },
        Expr::Await(a) => root(&a.base),
        Expr::Try(t) => root(&t.expr),
        Expr::Paren(p) => root(&p.expr),
        Expr::Group(g) => root(&g.expr),
        Expr::Reference(r) => root(&r.expr),
        Expr::Unary(u) => root(&u.expr),
        Expr::Index(i) => root(&i.expr),
        _ => None,
    }
}

/// A local initialised with a new collection: `X::new()`, `vec![]`,
/// `Default::default()`, `.collect()`.
fn is_fresh(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) => p.path.segments.last().is_some_and(|s| {
                matches!(
                    s.ident.to_string().as_str(),
                    "new"
                        | "with_capacity"
                        | "default"
                        | "with_hasher"
                        | "with_capacity_and_hasher"
                )
            }),
            _ => false,
        },
        Expr::Macro(m) => m.mac.path.is_ident("vec"),
        Expr::MethodCall(m) => m.method == "collect",
        _ => false,
    }
}

fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
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
