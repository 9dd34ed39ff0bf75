//! Code generation for a checked `#[scoped_cancel]` fn.
//!
//! The fn keeps its attributes, signature and visibility; only its block is
//! replaced. For `async fn fetch(&self, id: u64) -> Result<Page, Error>`
//! with `registry = self.jobs, key = id, token = token` the new block is,
//! with `__private` standing for `::scoped_cancel::__private` and `__sc_`
//! for the `__scoped_cancel_` prefix of the generated locals:
//!
//! ```text
//! static __SCOPED_CANCEL_SITE: __private::Site =
//!     __private::Site::new(concat!(module_path!(), "::", "fetch"), file!(), line!());
//! // `Parent::Ambient`: a child of `Token::current()`, if any. `parent = p`
//! // passes `__private::parent(&(p))`; `detached`, `Parent::Detached`.
//! let __sc_scope = match __private::enter(
//!     &(self.jobs), &(id), &__SCOPED_CANCEL_SITE, __private::Parent::Ambient,
//! ) {
//!     Ok(__sc_scope) => __sc_scope,
//!     Err(__sc_cancelled) =>
//!         return <Result<Page, Error> as __private::FromCancelled>::from_cancelled(__sc_cancelled),
//! };
//! let token = __sc_scope.token();
//! let __sc_body = async move {
//!     if let Some(__sc_out) = None::<Result<Page, Error>> { return __sc_out; }
//!     let __sc_out: Result<Page, Error> = { /* the user's body, once */ };
//!     __sc_out
//! };
//! match __private::run(__sc_scope, __sc_body, None, false).await {
//!     Ok(__sc_out) => __sc_out,
//!     Err(__sc_cancelled) =>
//!         <Result<Page, Error> as __private::FromCancelled>::from_cancelled(__sc_cancelled),
//! }
//! ```
//!
//! The `if let .. None::<R>` line and the typed `let` pin the block's output
//! to `R`, so `?` and early `return` infer as they do in the fn itself. The
//! locals have `Span::mixed_site()` hygiene, so the user's code can neither
//! see nor shadow them, and a prefix, so they cannot meet a user's `static`
//! in a pattern. Under `#[async_trait]` the same block goes inside the
//! method's `Box::pin(async move { .. })`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, GenericArgument, Ident, LitStr, PathArguments, ReturnType, Type};

use super::args::{Args, Occupied, Timeout};
use super::item::{BoxedFuture, FnShape, Func};
use super::valid::{Checked, Keyed};

pub(crate) fn expand(checked: Checked) -> TokenStream {
    let Checked {
        args,
        keyed,
        func,
        shape,
    } = checked;
    let Func {
        attrs,
        vis,
        sig,
        body,
    } = &func;
    let scoped = match &shape {
        FnShape::Async => {
            let output = match &sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => Some(&**ty),
            };
            let plan = Expansion::new(&args, keyed.as_ref(), &sig.ident, output);
            // The fn's inner attributes stay at the top of the fn's block.
            plan.statements(&[], body.brace, body.stmts.clone())
        }
        FnShape::Boxed { output, future } => {
            let plan = Expansion::new(&args, keyed.as_ref(), &sig.ident, Some(output));
            let stmts = quiet_rebindings(&future.block.stmts, &plan.mentioned());
            let inner = &future.block;
            boxed(
                future,
                plan.statements(&inner.inner_attrs, inner.brace, stmts),
            )
        }
    };
    let inner_attrs = &body.inner_attrs;
    let mut out = quote!(#(#attrs)* #vis #sig);
    body.brace.surround(&mut out, |out| {
        out.extend(quote!(#(#inner_attrs)*));
        out.extend(scoped);
    });
    out
}

/// `Box::pin(async move { <scoped> })`, with the original tokens around it.
fn boxed(future: &BoxedFuture, scoped: TokenStream) -> TokenStream {
    let BoxedFuture {
        pin,
        paren,
        async_token,
        move_token,
        block,
    } = future;
    let mut out = pin.to_token_stream();
    paren.surround(&mut out, |out| {
        async_token.to_tokens(out);
        move_token.to_tokens(out);
        block.brace.surround(out, |out| out.extend(scoped));
    });
    out
}

/// The generated locals.
struct Locals {
    scope: Ident,
    body: Ident,
    timeout: Ident,
    out: Ident,
    cancelled: Ident,
}

impl Locals {
    fn new() -> Self {
        let local =
            |name: &str| format_ident!("__scoped_cancel_{}", name, span = Span::mixed_site());
        Locals {
            scope: local("scope"),
            body: local("body"),
            timeout: local("timeout"),
            out: local("out"),
            cancelled: local("cancelled"),
        }
    }
}

/// What one expansion needs to know, gathered once.
struct Expansion<'a> {
    args: &'a Args,
    keyed: Option<&'a Keyed>,
    fn_name: &'a Ident,
    /// `R`, with `impl Trait` replaced by `_`.
    output: Type,
    /// Where a missing `FromCancelled` impl is reported: the return type.
    output_span: Span,
    locals: Locals,
    /// `::scoped_cancel::__private`, the one path generated code uses.
    private: TokenStream,
}

impl<'a> Expansion<'a> {
    fn new(
        args: &'a Args,
        keyed: Option<&'a Keyed>,
        fn_name: &'a Ident,
        output: Option<&Type>,
    ) -> Self {
        let (output, output_span) = match output {
            Some(ty) => (erase_impl_trait(ty), ty.span()),
            None => (Type::Verbatim(quote!(())), fn_name.span()),
        };
        Expansion {
            args,
            keyed,
            fn_name,
            output,
            output_span,
            locals: Locals::new(),
            private: quote!(::scoped_cancel::__private),
        }
    }

    /// The statements that replace the body `{ #inner_attrs #stmts }`.
    fn statements(
        &self,
        inner_attrs: &[syn::Attribute],
        brace: syn::token::Brace,
        stmts: TokenStream,
    ) -> TokenStream {
        let p = &self.private;
        let Locals {
            scope, body, out, ..
        } = &self.locals;
        let site = self.site();
        let (timeout_let, timeout) = self.timeout();
        // `occupied = wait`: the timeout is evaluated first, since it
        // covers the wait, and the body gets what is left of it.
        let (timeout_first, timeout_let, enter, timeout) = match self.occupied() {
            Occupied::Wait => {
                let (enter, left) = self.enter_waiting(timeout);
                (timeout_let, None, enter, left)
            }
            Occupied::Refuse | Occupied::Replace => (None, timeout_let, self.enter(), timeout),
        };
        let token = self.args.token.as_ref().map(|arg| {
            let name = &arg.value;
            quote!(let #name = #scope.token();)
        });
        let cooperative = self.args.cooperative.is_some();
        let pinned = self.pinned(inner_attrs, brace, stmts);
        let (pattern, value) = self.cancelled_arm();
        quote! {
            #site
            #timeout_first
            #enter
            #token
            #timeout_let
            let #body = async move #pinned;
            match #p::run(#scope, #body, #timeout, #cooperative).await {
                #p::Ok(#out) => #out,
                #pattern => #value,
            }
        }
    }

    /// The fn's `static` site record: name, file and the line of its name.
    fn site(&self) -> TokenStream {
        let p = &self.private;
        let name = match &self.args.name {
            Some(arg) => arg.value.to_token_stream(),
            None => {
                let fn_name = LitStr::new(&self.fn_name.unraw().to_string(), self.fn_name.span());
                quote!(::core::concat!(::core::module_path!(), "::", #fn_name))
            }
        };
        // Spanned at the fn's name, so that they expand to its file and line.
        let span = self.fn_name.span();
        let file = quote_spanned!(span=> ::core::file!());
        let line = quote_spanned!(span=> ::core::line!());
        quote! {
            static __SCOPED_CANCEL_SITE: #p::Site = #p::Site::new(#name, #file, #line);
        }
    }

    /// `let scope = ..;`: a keyed enter that may be refused, or an anonymous one.
    fn enter(&self) -> TokenStream {
        let p = &self.private;
        let scope = &self.locals.scope;
        let parent = self.parent();
        let Some(Keyed { registry, key }) = self.keyed else {
            return quote! {
                let #scope = #p::enter_anonymous(&__SCOPED_CANCEL_SITE, #parent);
            };
        };
        let (registry, key) = (by_ref(registry), by_ref(key));
        let (pattern, value) = self.cancelled_arm();
        let enter = match self.occupied() {
            Occupied::Replace => quote!(#p::enter_replacing),
            Occupied::Refuse | Occupied::Wait => quote!(#p::enter),
        };
        quote! {
            let #scope = match #enter(#registry, #key, &__SCOPED_CANCEL_SITE, #parent) {
                #p::Ok(#scope) => #scope,
                #pattern => return #value,
            };
        }
    }

    fn occupied(&self) -> Occupied {
        self.args
            .occupied
            .as_ref()
            .map_or(Occupied::Refuse, |arg| arg.value)
    }

    /// `occupied = wait`: `let (scope, left) = ..;` awaiting the key, raced
    /// against the deadline and the parent; `left` is the rest of the
    /// timeout, for the body.
    fn enter_waiting(&self, timeout: TokenStream) -> (TokenStream, TokenStream) {
        let p = &self.private;
        let Locals {
            scope,
            timeout: left,
            ..
        } = &self.locals;
        let parent = self.parent();
        let Some(Keyed { registry, key }) = self.keyed else {
            // `valid` rejects `occupied` without `registry`.
            return (self.enter(), timeout);
        };
        let (registry, key) = (by_ref(registry), by_ref(key));
        let (pattern, value) = self.cancelled_arm();
        let enter = quote! {
            let (#scope, #left) =
                match #p::enter_waiting(#registry, #key, &__SCOPED_CANCEL_SITE, #parent, #timeout)
                    .await
                {
                    #p::Ok(#scope) => #scope,
                    #pattern => return #value,
                };
        };
        (enter, quote!(#left))
    }

    /// Where the scope hangs: `parent = ..`, a root (`detached`), or the
    /// current scope.
    fn parent(&self) -> TokenStream {
        let p = &self.private;
        match (&self.args.parent, &self.args.detached) {
            (Some(arg), _) => {
                let parent = by_ref(&arg.value);
                quote!(#p::parent(#parent))
            }
            (None, Some(_)) => quote!(#p::Parent::Detached),
            (None, None) => quote!(#p::Parent::Ambient),
        }
    }

    /// The deadline as an expression, and the `let` that evaluates a
    /// `Duration` expression before the body takes the parameters.
    fn timeout(&self) -> (Option<TokenStream>, TokenStream) {
        let p = &self.private;
        let local = &self.locals.timeout;
        match self.args.timeout.as_ref().map(|arg| &arg.value) {
            None => (None, quote!(#p::None)),
            Some(Timeout::Literal(lit, parsed)) => {
                let (secs, nanos) = (parsed.secs, parsed.nanos);
                let new = quote_spanned!(lit.span()=> #p::StdDuration::new(#secs, #nanos));
                (None, quote!(#p::Some(#new)))
            }
            Some(Timeout::Expr(expr)) => (
                Some(quote!(let #local: #p::StdDuration = #expr;)),
                quote!(#p::Some(#local)),
            ),
        }
    }

    /// `{ body }` as an async block body whose value is pinned to `R`.
    fn pinned(
        &self,
        inner_attrs: &[syn::Attribute],
        brace: syn::token::Brace,
        stmts: TokenStream,
    ) -> TokenStream {
        let p = &self.private;
        let output = &self.output;
        let out = &self.locals.out;
        let mut user = TokenStream::new();
        brace.surround(&mut user, |user| user.extend(stmts));
        let pin = crate::output::pin_block_output(p, out, output);
        quote!({
            #(#inner_attrs)*
            #pin
            let #out: #output = #user;
            #[allow(unreachable_code)]
            #out
        })
    }

    /// The pattern and value of the match arm taken on cancellation: the
    /// `on_cancel` value, or `FromCancelled`, spanned at the return type so
    /// that a type without an impl is reported there.
    fn cancelled_arm(&self) -> (TokenStream, TokenStream) {
        let p = &self.private;
        if let Some(arg) = &self.args.on_cancel {
            let value = &arg.value;
            return (quote!(#p::Err(_)), quote!(#value));
        }
        let cancelled = &self.locals.cancelled;
        let output = &self.output;
        // The call too, not only the path: some compilers report the
        // unmet bound at the call's span.
        let call = quote_spanned!(self.output_span=>
            <#output as #p::FromCancelled>::from_cancelled(#cancelled)
        );
        (quote!(#p::Err(#cancelled)), call)
    }

    /// Every identifier the arguments' expressions mention.
    fn mentioned(&self) -> Vec<Ident> {
        let mut exprs: Vec<&Expr> = Vec::new();
        if let Some(Keyed { registry, key }) = self.keyed {
            exprs.extend([registry, key]);
        }
        exprs.extend(self.args.parent.as_ref().map(|arg| &arg.value));
        exprs.extend(self.args.on_cancel.as_ref().map(|arg| &arg.value));
        if let Some(Timeout::Expr(expr)) = self.args.timeout.as_ref().map(|arg| &arg.value) {
            exprs.push(expr);
        }
        let mut idents = Vec::new();
        for expr in exprs {
            collect_idents(expr.to_token_stream(), &mut idents);
        }
        idents
    }
}

fn collect_idents(tokens: TokenStream, idents: &mut Vec<Ident>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => idents.push(ident),
            TokenTree::Group(group) => collect_idents(group.stream(), idents),
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
    }
}

/// `#[async_trait]` rebinds each parameter at the top of its async block
/// (`let id = id;`). A parameter that only the attribute uses (`key = id`)
/// would then warn as unused there, though the user's code never saw that
/// binding: those rebindings, and only those, get `allow(unused_variables)`.
fn quiet_rebindings(stmts: &TokenStream, mentioned: &[Ident]) -> TokenStream {
    let mut out = TokenStream::new();
    let mut statement: Vec<TokenTree> = Vec::new();
    for token in stmts.clone() {
        let ends = matches!(&token, TokenTree::Punct(p) if p.as_char() == ';');
        statement.push(token);
        if ends {
            if is_rebinding_of(&statement, mentioned) {
                out.extend(quote!(#[allow(unused_variables)]));
            }
            out.extend(statement.drain(..));
        }
    }
    out.extend(statement);
    out
}

/// `let [mut] x = x;` for an `x` in `names`.
fn is_rebinding_of(statement: &[TokenTree], names: &[Ident]) -> bool {
    let words: Vec<String> = statement.iter().map(ToString::to_string).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (bound, value) = match words.as_slice() {
        ["let", "mut", bound, "=", value, ";"] | ["let", bound, "=", value, ";"] => {
            (*bound, *value)
        }
        _ => return false,
    };
    bound == value && names.iter().any(|name| name == bound)
}

/// `&(expr)`, spanned from the expression's first token to its last, so
/// that a type error underlines exactly the user's expression.
fn by_ref(expr: &Expr) -> TokenStream {
    let tokens = expr.to_token_stream();
    let mut spans = tokens.clone().into_iter().map(|token| token.span());
    let first = spans.next().unwrap_or_else(Span::call_site);
    let last = spans.last().unwrap_or(first);
    let mut parens = Group::new(Delimiter::Parenthesis, tokens);
    parens.set_span(last);
    quote_spanned!(first=> &#parens)
}

/// `R` with every `impl Trait` replaced by `_`: a `let` may not name an
/// opaque type, and inference fills it in from the body.
fn erase_impl_trait(ty: &Type) -> Type {
    let mut ty = ty.clone();
    erase(&mut ty);
    ty
}

fn erase(ty: &mut Type) {
    match ty {
        Type::ImplTrait(it) => {
            *ty = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: syn::Token![_](it.impl_token.span),
            });
        }
        Type::Array(t) => erase(&mut t.elem),
        Type::Group(t) => erase(&mut t.elem),
        Type::Paren(t) => erase(&mut t.elem),
        Type::Ptr(t) => erase(&mut t.elem),
        Type::Reference(t) => erase(&mut t.elem),
        Type::Slice(t) => erase(&mut t.elem),
        Type::Tuple(t) => t.elems.iter_mut().for_each(erase),
        Type::Path(t) => {
            if let Some(qself) = &mut t.qself {
                erase(&mut qself.ty);
            }
            for segment in &mut t.path.segments {
                if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    for arg in &mut args.args {
                        match arg {
                            GenericArgument::Type(t) => erase(t),
                            GenericArgument::AssocType(a) => erase(&mut a.ty),
                            _ => {}
                        }
                    }
                }
            }
        }
        _ => {}
    }
}
