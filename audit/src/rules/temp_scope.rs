//! Rule `scope-dropped-at-once`: a `scoped_cancel` token taken from a scope
//! that is a temporary of the same statement, and kept beyond it.
//!
//! `let t = Token::new().into_scope().token();` compiles, but the scope is
//! dropped at the end of the statement and its guard cancels the token: `t`
//! is cancelled before anyone uses it (and a keyed scope's key is free
//! again). The rule looks for `.token()` on an expression that makes a
//! scope — `.into_scope()`, `Scope::root()`, `.child()`, a builder's
//! `.build()` / `.adopt(..)`, `.on_end(..)` of one of those, a registry's
//! `.enter(..)?` / `.enter(..).unwrap()` (also `enter_replacing`,
//! `enter_child`, `enter_waiting(..).await`) — where the token is kept past
//! the statement: a `let`, an assignment, a struct field, a `return` or a
//! fn's or closure's tail, or an argument of `push`, `insert`, `send` and
//! the like. Tokens derived from it (`.clone()`, `.child()`,
//! `.cancellation_token()`) count too. A token used within the statement
//! (`scope_expr.token().is_cancelled()`, an argument awaited in the same
//! statement) is left alone: its scope lives until the statement ends.

use crate::diag::{Finding, Rule};
use crate::source::Parsed;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat, Stmt};

/// Methods that keep their arguments beyond the call.
const STORING: &[&str] = &[
    "push",
    "push_back",
    "push_front",
    "insert",
    "send",
    "try_send",
    "send_replace",
];

/// Methods of a dying token whose result is just as dead.
const DERIVED: &[&str] = &["clone", "child", "cancellation_token"];

/// Runs the rule over one file.
pub fn check(parsed: &Parsed, out: &mut Vec<Finding>) {
    let mut v = Visitor {
        parsed,
        out,
        fn_lines: Vec::new(),
    };
    v.visit_file(&parsed.ast);
}

struct Visitor<'v> {
    parsed: &'v Parsed,
    out: &'v mut Vec<Finding>,
    /// Lines of the enclosing fns' names, innermost last (allow anchors).
    fn_lines: Vec<usize>,
}

/// Where the dying token goes.
enum Place {
    Local(String),
    Assigned,
    Field(String),
    Returned,
    Argument(String),
}

impl Place {
    fn describe(&self) -> String {
        match self {
            Place::Local(name) => format!("`{name}` holds"),
            Place::Assigned => "this assignment stores".to_owned(),
            Place::Field(name) => format!("the field `{name}` holds"),
            Place::Returned => "this returns".to_owned(),
            Place::Argument(method) => format!("`{method}` keeps"),
        }
    }
}

impl Visitor<'_> {
    /// Reports `e` if it is a token of a scope that ends with its statement.
    fn kept(&mut self, e: &Expr, place: Place) {
        let Some(keyed) = dying_token(e) else {
            return;
        };
        let key = if keyed {
            " (and the key it entered is free again)"
        } else {
            ""
        };
        let message = format!(
            "the scope this token comes from is a temporary: it ends with this statement and \
             cancels the token, so {} a token that is already cancelled{key}",
            place.describe()
        );
        let mut f = Finding::new(self.parsed, Rule::ScopeDroppedAtOnce, e.span(), message);
        f.help = vec![
            "bind the scope, and take tokens from it while it lives".to_owned(),
            "let scope = Token::new().into_scope();   // or Scope::root(), REGISTRY.enter(key)?"
                .to_owned(),
            "let token = scope.token();               // cancelled when `scope` ends".to_owned(),
        ];
        f.anchors.extend(self.fn_lines.last().copied());
        self.out.push(f);
    }

    /// The tail expression of a fn's or closure's body.
    fn tail(&mut self, body: &syn::Block) {
        if let Some(Stmt::Expr(e, None)) = body.stmts.last() {
            self.kept(e, Place::Returned);
        }
    }

    fn in_fn(&mut self, name: Span, body: &syn::Block) {
        self.fn_lines.push(name.start().line);
        self.tail(body);
    }
}

impl<'a> Visit<'a> for Visitor<'_> {
    fn visit_item_fn(&mut self, node: &'a syn::ItemFn) {
        self.in_fn(node.sig.ident.span(), &node.block);
        syn::visit::visit_item_fn(self, node);
        self.fn_lines.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'a syn::ImplItemFn) {
        self.in_fn(node.sig.ident.span(), &node.block);
        syn::visit::visit_impl_item_fn(self, node);
        self.fn_lines.pop();
    }

    fn visit_trait_item_fn(&mut self, node: &'a syn::TraitItemFn) {
        if let Some(block) = &node.default {
            self.in_fn(node.sig.ident.span(), block);
            syn::visit::visit_trait_item_fn(self, node);
            self.fn_lines.pop();
        } else {
            syn::visit::visit_trait_item_fn(self, node);
        }
    }

    fn visit_local(&mut self, node: &'a syn::Local) {
        if let Some(init) = &node.init {
            self.kept(&init.expr, Place::Local(binding(&node.pat)));
        }
        syn::visit::visit_local(self, node);
    }

    fn visit_expr(&mut self, node: &'a Expr) {
        match node {
            Expr::Assign(a) => self.kept(&a.right, Place::Assigned),
            Expr::Return(r) => {
                if let Some(e) = &r.expr {
                    self.kept(e, Place::Returned);
                }
            }
            Expr::Struct(s) => {
                for field in &s.fields {
                    let name = match &field.member {
                        syn::Member::Named(id) => id.to_string(),
                        syn::Member::Unnamed(i) => i.index.to_string(),
                    };
                    self.kept(&field.expr, Place::Field(name));
                }
            }
            Expr::MethodCall(m) => {
                let method = m.method.to_string();
                if STORING.contains(&method.as_str()) {
                    for arg in &m.args {
                        self.kept(arg, Place::Argument(method.clone()));
                    }
                }
            }
            Expr::Closure(c) => match &*c.body {
                Expr::Block(b) => self.tail(&b.block),
                body => self.kept(body, Place::Returned),
            },
            _ => {}
        }
        syn::visit::visit_expr(self, node);
    }
}

/// The name a `let` binds, for the message (`_` for patterns).
fn binding(pat: &Pat) -> String {
    match pat {
        Pat::Ident(p) => p.ident.to_string(),
        Pat::Type(t) => binding(&t.pat),
        _ => "_".to_owned(),
    }
}

/// `Some(keyed)` if `e` is a token (or derived from one) of a scope that
/// is a temporary of this expression; `keyed` when that scope holds a
/// registry key.
fn dying_token(e: &Expr) -> Option<bool> {
    match e {
        Expr::Paren(p) => dying_token(&p.expr),
        Expr::Group(g) => dying_token(&g.expr),
        Expr::MethodCall(m) if m.args.is_empty() => {
            let method = m.method.to_string();
            if method == "token" {
                temp_scope(&m.receiver)
            } else if DERIVED.contains(&method.as_str()) {
                dying_token(&m.receiver)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `Some(keyed)` if `e` makes a scope that nothing binds.
fn temp_scope(e: &Expr) -> Option<bool> {
    match e {
        Expr::Paren(p) => temp_scope(&p.expr),
        Expr::Group(g) => temp_scope(&g.expr),
        Expr::Call(c) if c.args.is_empty() && is_path(&c.func, &["Scope", "root"]) => Some(false),
        Expr::Try(t) => entered(&t.expr).then_some(true),
        Expr::MethodCall(m) => match (m.method.to_string().as_str(), m.args.len()) {
            ("into_scope" | "child", 0) => Some(false),
            ("build", 0) | ("adopt", 1) => from_builder(&m.receiver).then_some(false),
            ("on_end", 1) => temp_scope(&m.receiver),
            ("unwrap", 0) | ("expect", 1) => entered(&m.receiver).then_some(true),
            _ => None,
        },
        _ => None,
    }
}

/// A registry's enter: `.enter(k)`, `.enter_replacing(k)`,
/// `.enter_child(k, p)`, a builder's `.enter(&R, k)`, or
/// `.enter_waiting(k).await`.
fn entered(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => entered(&p.expr),
        Expr::MethodCall(m) => {
            matches!(
                m.method.to_string().as_str(),
                "enter" | "enter_replacing" | "enter_child"
            ) && !m.args.is_empty()
        }
        Expr::Await(a) => match &*a.base {
            Expr::MethodCall(m) => m.method == "enter_waiting" && !m.args.is_empty(),
            _ => false,
        },
        _ => false,
    }
}

/// `true` if a chain of method calls starts at `Scope::builder()`.
fn from_builder(e: &Expr) -> bool {
    match e {
        Expr::MethodCall(m) => from_builder(&m.receiver),
        Expr::Paren(p) => from_builder(&p.expr),
        Expr::Call(c) => c.args.is_empty() && is_path(&c.func, &["Scope", "builder"]),
        _ => false,
    }
}

/// `true` if `e` is a path ending in the segments `tail` (`Scope::root`,
/// `scoped_cancel::Scope::root`).
fn is_path(e: &Expr, tail: &[&str]) -> bool {
    let Expr::Path(p) = e else {
        return false;
    };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segs.len() >= tail.len()
        && segs[segs.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(seg, want)| seg == want)
}
