//! What one fn body does, in source order: its inserts and removals (by
//! the collection they reach), and the points where it may stop early.

use crate::source::Pos;
use crate::types::Crate;
use std::collections::{HashMap, HashSet};
use syn::visit::Visit;
use syn::{Expr, ExprMethodCall, Pat};

pub(super) const INSERTS: &[&str] = &[
    "insert",
    "insert_sync",
    "insert_async",
    "insert_entry",
    "upsert",
    "upsert_sync",
    "upsert_async",
    "get_or_insert",
    "get_or_insert_with",
    "put",
    "try_insert",
    "insert_full",
    "push",
    "push_back",
    "push_front",
    "or_insert",
    "or_insert_with",
    "or_insert_with_key",
];

pub(super) const REMOVALS: &[&str] = &[
    "remove",
    "remove_sync",
    "remove_async",
    "remove_if",
    "remove_if_sync",
    "remove_if_async",
    "retain_sync",
    "retain_async",
    "clear_sync",
    "clear_async",
    "pop_lru",
    "pop_entry",
    "invalidate",
    "extract_if",
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

pub(super) struct Tokenish<'v, 'a> {
    pub(super) krate: Option<(&'v Crate<'a>, usize)>,
    /// Params typed as a token holder, locals made from one.
    pub(super) token_vars: &'v HashSet<String>,
    pub(super) found: bool,
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
            || lower.contains("drop_guard")
            || lower.contains("dropguard")
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
pub(super) enum Exit {
    Await,
    AwaitMacro(&'static str),
    Try,
    Return,
}

impl Exit {
    pub(super) fn what(self) -> &'static str {
        match self {
            Exit::Await => "`.await`",
            Exit::AwaitMacro(name) => name,
            Exit::Try => "`?`",
            Exit::Return => "`return`",
        }
    }

    pub(super) fn consequence(self) -> &'static str {
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

pub(super) struct Insert<'a> {
    pub(super) root: String,
    pub(super) through_field: bool,
    pub(super) call: &'a ExprMethodCall,
    pub(super) pos: Pos,
    /// The closures and async blocks it sits in (ids, outermost first).
    pub(super) regions: Vec<usize>,
}

pub(super) struct Removal {
    pub(super) root: String,
    pub(super) pos: Pos,
    pub(super) regions: Vec<usize>,
}

/// A point where the fn's future may stop: `.await`, `?`, `return`.
pub(super) struct ExitAt {
    pub(super) kind: Exit,
    pub(super) pos: Pos,
    /// The innermost closure or async block around it.
    pub(super) region: Option<usize>,
}

/// What one fn body does, in source order.
#[derive(Default)]
pub(super) struct Body<'a> {
    pub(super) inserts: Vec<Insert<'a>>,
    pub(super) removals: Vec<Removal>,
    pub(super) exits: Vec<ExitAt>,
    /// Closures and async blocks being visited, innermost last.
    pub(super) regions: Vec<usize>,
    pub(super) next_region: usize,
    /// The fns and methods called, by name.
    pub(super) calls: HashSet<String>,
    /// `let map = JOBS.lock().unwrap();` -> map stands for JOBS.
    pub(super) aliases: HashMap<String, (String, bool)>,
    /// Locals built here (`Vec::new()`, `vec![]`, a typed `let`): not shared.
    pub(super) fresh: HashSet<String>,
    /// Params typed as a token holder, and locals made from a token.
    pub(super) token_vars: HashSet<String>,
    /// Every call, in source order: what `rules::wrappers` follows.
    pub(super) call_sites: Vec<CallSite<'a>>,
    /// Crate types built here (`G { .. }`, `G(..)`, `G::new(..)`).
    pub(super) builds: Vec<(String, Pos)>,
    /// Locals and params -> the type names their type or initializer
    /// mentions (`let r = Registry::new()` -> `Registry`).
    pub(super) var_types: HashMap<String, HashSet<String>>,
}

/// One call in a fn body.
pub(super) struct CallSite<'a> {
    pub(super) name: String,
    /// `x.name(..)`: the receiver.
    pub(super) receiver: Option<&'a Expr>,
    /// `T::name(..)`: `T`.
    pub(super) qualifier: Option<String>,
    pub(super) pos: Pos,
    pub(super) span: proc_macro2::Span,
    pub(super) regions: Vec<usize>,
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
        if let Some(name) = &name {
            let mut types = HashSet::new();
            if let Pat::Type(pt) = &node.pat {
                types.extend(type_names(&pt.ty));
            }
            if let Some(init) = &node.init {
                types.extend(built_type(&init.expr));
            }
            if !types.is_empty() {
                self.var_types.insert(name.clone(), types);
            }
        }
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

    /// `if let Ok(mut map) = JOBS.lock()`: `map` stands for `JOBS` too.
    fn visit_expr_let(&mut self, node: &'a syn::ExprLet) {
        let inner = match &*node.pat {
            Pat::TupleStruct(ts) if ts.elems.len() == 1 => ts.elems.first(),
            pat => Some(pat),
        };
        if let Some(Pat::Ident(p)) = inner {
            if let Some(target) = self.root_of(&node.expr) {
                self.aliases.insert(p.ident.to_string(), target);
            }
        }
        syn::visit::visit_expr_let(self, node);
    }

    fn visit_expr_method_call(&mut self, node: &'a ExprMethodCall) {
        let method = node.method.to_string();
        // The token's own methods are never the crate's helpers: a guard's
        // `self.token.cancel()` must not match a crate fn named `cancel`
        // that removes from some other map.
        if !TOKEN_METHODS.contains(&method.as_str()) {
            self.calls.insert(method.clone());
        }
        let pos = Pos::from(node.method.span().start());
        self.call_sites.push(CallSite {
            name: method.clone(),
            receiver: Some(&node.receiver),
            qualifier: None,
            pos,
            span: node.method.span(),
            regions: self.regions.clone(),
        });
        // `tx.send_modify(|map| map.insert(..))`: the closure's argument
        // stands for the collection behind the receiver.
        if CLOSURE_ACCESS.contains(&method.as_str()) {
            if let (Some(target), Some(Expr::Closure(c))) =
                (self.root_of(&node.receiver), node.args.first())
            {
                if let Some(Pat::Ident(p)) = c.inputs.first().map(strip_pat_type) {
                    self.aliases.insert(p.ident.to_string(), target);
                }
            }
        }
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

    fn visit_expr_call(&mut self, node: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*node.func {
            let segs = &p.path.segments;
            if let Some(seg) = segs.last() {
                let name = seg.ident.to_string();
                self.calls.insert(name.clone());
                let qualifier = segs
                    .len()
                    .checked_sub(2)
                    .and_then(|i| segs.iter().nth(i))
                    .map(|s| s.ident.to_string());
                let pos = Pos::from(seg.ident.span().start());
                // `G(..)` builds a tuple struct, `G::new(..)` most likely a G.
                if name.starts_with(char::is_uppercase) {
                    self.builds.push((name.clone(), pos));
                } else if let Some(q) = &qualifier {
                    self.builds.push((q.clone(), pos));
                }
                self.call_sites.push(CallSite {
                    name,
                    receiver: None,
                    qualifier,
                    pos,
                    span: seg.ident.span(),
                    regions: self.regions.clone(),
                });
            }
        }
        syn::visit::visit_expr_call(self, node);
    }

    fn visit_expr_struct(&mut self, node: &'a syn::ExprStruct) {
        if let Some(seg) = node.path.segments.last() {
            self.builds
                .push((seg.ident.to_string(), seg.ident.span().start().into()));
        }
        syn::visit::visit_expr_struct(self, node);
    }

    /// `match map.entry(k) { Entry::Vacant(e) => { e.insert(t); } .. }`:
    /// the entry stands for the map.
    fn visit_expr_match(&mut self, node: &'a syn::ExprMatch) {
        if let Some(target) = self.root_of(&node.expr) {
            for arm in &node.arms {
                if let Pat::TupleStruct(ts) = &arm.pat {
                    let entry = ts
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "Vacant" || s.ident == "Occupied");
                    if let (true, Some(Pat::Ident(p))) = (entry, ts.elems.first()) {
                        self.aliases.insert(p.ident.to_string(), target.clone());
                    }
                }
            }
        }
        syn::visit::visit_expr_match(self, node);
    }

    // A nested fn or impl is checked on its own.
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// Methods that hand a closure the value behind their receiver: a watch
/// channel's `send_modify`, `ArcSwap::rcu`, a thread-local's `with_borrow_mut`.
const CLOSURE_ACCESS: &[&str] = &[
    "send_modify",
    "send_if_modified",
    "rcu",
    "update",
    "modify",
    "with",
    "with_mut",
    "with_borrow_mut",
    "alter",
];

fn strip_pat_type(p: &Pat) -> &Pat {
    match p {
        Pat::Type(t) => &t.pat,
        Pat::Reference(r) => &r.pat,
        other => other,
    }
}

/// Every type name in a written type (`Arc<State<Registry>>` -> all three).
pub(super) fn type_names(ty: &syn::Type) -> HashSet<String> {
    struct Names(HashSet<String>);
    impl<'a> Visit<'a> for Names {
        fn visit_path_segment(&mut self, seg: &'a syn::PathSegment) {
            self.0.insert(seg.ident.to_string());
            syn::visit::visit_path_segment(self, seg);
        }
    }
    let mut names = Names(HashSet::new());
    names.visit_type(ty);
    names.0
}

/// The type an initializer builds: `T::new(..)`, `T { .. }`, `T(..)`,
/// `Arc::new(T::new())`.
fn built_type(e: &Expr) -> Option<String> {
    match e {
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) => {
                let segs = &p.path.segments;
                let last = segs.last()?.ident.to_string();
                if segs.len() >= 2 {
                    let q = segs.iter().nth(segs.len() - 2)?.ident.to_string();
                    if matches!(q.as_str(), "Arc" | "Rc" | "Box" | "Mutex" | "RwLock") {
                        return c.args.first().and_then(built_type);
                    }
                    Some(q)
                } else if last.starts_with(char::is_uppercase) {
                    Some(last)
                } else {
                    None
                }
            }
            _ => None,
        },
        Expr::Struct(st) => st.path.segments.last().map(|s| s.ident.to_string()),
        Expr::Reference(r) => built_type(&r.expr),
        Expr::Paren(p) => built_type(&p.expr),
        _ => None,
    }
}

/// `CancellationToken`'s methods: calls to them are not calls to the crate.
const TOKEN_METHODS: &[&str] = &[
    "cancel",
    "cancelled",
    "cancelled_owned",
    "is_cancelled",
    "child_token",
    "drop_guard",
    "drop_guard_ref",
    "run_until_cancelled",
    "run_until_cancelled_owned",
];

/// The collection a receiver expression reaches: the last field named
/// (`self.inner.jobs.lock()` -> `jobs`, through a field), or the static,
/// local or fn it starts from (`JOBS.write().await`, `jobs()`).
pub(super) fn root(e: &Expr) -> Option<(String, bool)> {
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
