//! Rule `token-in-collection`: the declaration of a collection whose elements
//! hold a `CancellationToken` — struct and enum fields, statics (also in
//! `lazy_static!` / `thread_local!`), type aliases, and locals with a written
//! type or a turbofish constructor.

use super::Decls;
use crate::diag::{Finding, Rule};
use crate::source::Parsed;
use crate::static_macros::statics_in;
use crate::types::{params_of, unknown_params, Crate, Info};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Fields, Pat, Type};

/// Runs the rule over one file, recording declared names in `decls`.
pub fn check(krate: &Crate, file: usize, decls: &mut Decls, out: &mut Vec<Finding>) {
    let parsed = &krate.files[file];
    let mut v = Visitor {
        krate,
        file,
        parsed,
        decls,
        out,
        fn_lines: Vec::new(),
    };
    v.visit_file(&parsed.ast);
}

/// Where a declaration lives, for the message and the rewrite.
enum Place {
    Field(String),
    Static(String),
    ThreadLocal(String),
    Alias(String),
    Local(String),
}

impl Place {
    fn subject(&self) -> String {
        match self {
            Place::Field(n) => format!("field `{n}`"),
            Place::Static(n) => format!("static `{n}`"),
            Place::ThreadLocal(n) => format!("thread-local `{n}`"),
            Place::Alias(n) => format!("type alias `{n}`"),
            Place::Local(n) => format!("local `{n}`"),
        }
    }

    fn name(&self) -> &str {
        match self {
            Place::Field(n)
            | Place::Static(n)
            | Place::ThreadLocal(n)
            | Place::Alias(n)
            | Place::Local(n) => n,
        }
    }
}

struct Visitor<'v, 'a> {
    krate: &'v Crate<'a>,
    file: usize,
    parsed: &'a Parsed,
    decls: &'v mut Decls,
    out: &'v mut Vec<Finding>,
    /// Lines of the enclosing fns' names, innermost last (allow anchors).
    fn_lines: Vec<usize>,
}

impl Visitor<'_, '_> {
    fn declare(&mut self, place: Place, info: Info, span: Span, anchors: Vec<usize>) {
        let is_local = matches!(place, Place::Local(_));
        let Some(coll) = info.collection.clone() else {
            if !is_local {
                self.decls.plain.insert(place.name().to_owned());
            }
            return;
        };
        if !is_local {
            self.decls
                .token
                .insert(place.name().to_owned(), info.key.clone());
        }
        let what = match &info.via {
            Some(via) => format!("`{via}`s, which hold cancellation tokens"),
            None => "cancellation tokens".to_owned(),
        };
        let message = format!(
            "{} is a `{coll}` of {what}: an entry nobody removes keeps its token, and every \
             task waiting on it, alive",
            place.subject()
        );
        let mut f = Finding::new(self.parsed, Rule::TokenInCollection, span, message);
        f.help = help(&place, &info);
        f.anchors = anchors;
        f.anchors.extend(self.fn_lines.last().copied());
        self.out.push(f);
    }

    fn fields(&mut self, fields: &Fields, env: &[(String, Info)], owner_line: usize) {
        for (i, field) in fields.iter().enumerate() {
            let info = self.krate.analyze(self.file, &field.ty, env, 0);
            let name = field
                .ident
                .as_ref()
                .map_or_else(|| i.to_string(), ToString::to_string);
            let line = field
                .ident
                .as_ref()
                .map_or_else(|| field.ty.span(), |i| i.span())
                .start()
                .line;
            self.declare(
                Place::Field(name),
                info,
                field.ty.span(),
                vec![line, owner_line],
            );
        }
    }

    /// `let x = DashMap::<String, CancellationToken>::new()` and the like,
    /// anywhere in the initializer (`Arc::new(Mutex::new(..))`).
    fn constructor(&mut self, name: &str, init: &Expr, line: usize) {
        let mut calls = TurbofishCalls::default();
        calls.visit_expr(init);
        for path in calls.paths {
            let Some(len) = path
                .segments
                .iter()
                .take(path.segments.len().saturating_sub(1))
                .rposition(|s| !s.arguments.is_none())
            else {
                continue;
            };
            let info = self.krate.analyze_path(self.file, path, len + 1, &[], 0);
            if info.collection.is_some() {
                self.declare(Place::Local(name.to_owned()), info, path.span(), vec![line]);
                return;
            }
        }
    }
}

impl<'a> Visit<'a> for Visitor<'_, 'a> {
    fn visit_item_struct(&mut self, node: &'a syn::ItemStruct) {
        let env = unknown_params(&params_of(&node.generics));
        self.fields(&node.fields, &env, node.ident.span().start().line);
        syn::visit::visit_item_struct(self, node);
    }

    fn visit_item_enum(&mut self, node: &'a syn::ItemEnum) {
        let env = unknown_params(&params_of(&node.generics));
        for variant in &node.variants {
            self.fields(&variant.fields, &env, variant.ident.span().start().line);
        }
        syn::visit::visit_item_enum(self, node);
    }

    fn visit_item_union(&mut self, node: &'a syn::ItemUnion) {
        let env = unknown_params(&params_of(&node.generics));
        for field in &node.fields.named {
            let info = self.krate.analyze(self.file, &field.ty, &env, 0);
            let name = field
                .ident
                .as_ref()
                .map_or_else(String::new, ToString::to_string);
            let line = field.ty.span().start().line;
            self.declare(Place::Field(name), info, field.ty.span(), vec![line]);
        }
    }

    fn visit_item_static(&mut self, node: &'a syn::ItemStatic) {
        let info = self.krate.analyze(self.file, &node.ty, &[], 0);
        let line = node.ident.span().start().line;
        self.declare(
            Place::Static(node.ident.to_string()),
            info,
            node.ty.span(),
            vec![line],
        );
        syn::visit::visit_item_static(self, node);
    }

    fn visit_item_type(&mut self, node: &'a syn::ItemType) {
        let env = unknown_params(&params_of(&node.generics));
        let info = self.krate.analyze(self.file, &node.ty, &env, 0);
        let line = node.ident.span().start().line;
        let place = Place::Alias(node.ident.to_string());
        // An alias is a name, not storage: its users are reported on their own.
        if info.collection.is_some() {
            self.declare(place, info, node.ty.span(), vec![line]);
        }
    }

    fn visit_macro(&mut self, node: &'a syn::Macro) {
        let Some(statics) = statics_in(node) else {
            return;
        };
        let thread_local = node
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "thread_local");
        for s in statics {
            let info = self.krate.analyze(self.file, &s.ty, &[], 0);
            let name = s.ident.to_string();
            let place = if thread_local {
                Place::ThreadLocal(name)
            } else {
                Place::Static(name)
            };
            let line = s.ident.span().start().line;
            self.declare(place, info, s.ty.span(), vec![line]);
        }
    }

    fn visit_item_fn(&mut self, node: &'a syn::ItemFn) {
        self.fn_lines.push(node.sig.ident.span().start().line);
        self.returns(&node.sig);
        syn::visit::visit_item_fn(self, node);
        self.fn_lines.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'a syn::ImplItemFn) {
        self.fn_lines.push(node.sig.ident.span().start().line);
        self.returns(&node.sig);
        syn::visit::visit_impl_item_fn(self, node);
        self.fn_lines.pop();
    }

    fn visit_local(&mut self, node: &'a syn::Local) {
        let line = node.let_token.span.start().line;
        match &node.pat {
            Pat::Type(pt) => {
                let info = self.krate.analyze(self.file, &pt.ty, &[], 0);
                let name = pat_name(&pt.pat);
                self.declare(Place::Local(name), info, pt.ty.span(), vec![line]);
            }
            pat => {
                if let Some(init) = &node.init {
                    self.constructor(&pat_name(pat), &init.expr, line);
                }
            }
        }
        syn::visit::visit_local(self, node);
    }
}

impl Visitor<'_, '_> {
    /// A fn returning a token collection (`fn jobs() -> &'static Mutex<..>`)
    /// is a name inserts may go through.
    fn returns(&mut self, sig: &syn::Signature) {
        if let syn::ReturnType::Type(_, ty) = &sig.output {
            if let Type::Reference(_) | Type::Path(_) = &**ty {
                let info = self.krate.analyze(self.file, ty, &[], 0);
                if info.collection.is_some() {
                    self.decls.token.insert(sig.ident.to_string(), info.key);
                }
            }
        }
    }
}

fn pat_name(pat: &Pat) -> String {
    match pat {
        Pat::Ident(p) => p.ident.to_string(),
        Pat::Type(p) => pat_name(&p.pat),
        _ => "_".to_owned(),
    }
}

/// The paths of calls whose path carries generic arguments before its last
/// segment: `HashMap::<u64, CancellationToken>::new`.
#[derive(Default)]
struct TurbofishCalls<'a> {
    paths: Vec<&'a syn::Path>,
}

impl<'a> Visit<'a> for TurbofishCalls<'a> {
    fn visit_expr_call(&mut self, node: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*node.func {
            if p.path.segments.len() > 1 {
                self.paths.push(&p.path);
            }
        }
        syn::visit::visit_expr_call(self, node);
    }

    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
    fn visit_expr_block(&mut self, _: &'a syn::ExprBlock) {}
}

/// The rewrite: a keyed `Registry` for maps, a `Scope`'s children otherwise.
fn help(place: &Place, info: &Info) -> Vec<String> {
    let Some(key) = &info.key else {
        return vec![
            "let a `Scope` own these tokens: its children end with it, on every exit".into(),
            "let scope = Scope::root();                  // or the caller's scope".into(),
            "tokio::spawn(worker(scope.child()));        // the task owns its child `Scope`".into(),
            "drop(scope);                                // cancels every child".into(),
        ];
    };
    let name = place.name();
    let (decl, registry) = match place {
        Place::Field(_) => (format!("{name}: Registry<{key}>,"), format!("self.{name}")),
        Place::Static(_) | Place::ThreadLocal(_) => (
            format!("static {name}: Registry<{key}> = Registry::new();"),
            name.to_owned(),
        ),
        Place::Alias(_) => (format!("type {name} = Registry<{key}>;"), "JOBS".to_owned()),
        Place::Local(_) => (
            format!("let {name} = Arc::new(Registry::<{key}>::new());"),
            name.to_owned(),
        ),
    };
    let recv = if matches!(place, Place::Field(_)) {
        "&self, "
    } else {
        ""
    };
    vec![
        "keep them in a `scoped_cancel::Registry`: each `Scope` removes its own entry and \
         cancels its token when it ends, on every exit"
            .into(),
        decl,
        format!("#[scoped_cancel(registry = {registry}, key = id, token = token)]"),
        format!("async fn run({recv}id: {key}) {{ /* `token` is this call's Token<Scoped> */ }}"),
    ]
}
