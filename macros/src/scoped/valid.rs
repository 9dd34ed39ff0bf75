//! Checks that turn a parsed attribute and fn into a plan, or into errors.
//!
//! Every check runs, and all failures are reported together, each spanned at
//! the user's own token with a line on what to write instead.

use syn::{Expr, FnArg, Ident, Pat, Signature};

use super::args::{Arg, Args};
use super::item::{self, BoxedFuture, FnShape, Func};
use crate::errors::Errors;

/// A valid attribute on a fn it can wrap.
pub(crate) struct Checked {
    /// The arguments, without `registry` and `key` (moved to `keyed`).
    pub(crate) args: Args,
    pub(crate) keyed: Option<Keyed>,
    pub(crate) func: Func,
    pub(crate) shape: FnShape,
}

/// `registry = ..` and `key = ..`, which come as a pair.
pub(crate) struct Keyed {
    pub(crate) registry: Expr,
    pub(crate) key: Expr,
}

/// Combines the parse results and checks what parsing cannot.
pub(crate) fn check(args: syn::Result<Args>, func: syn::Result<Func>) -> syn::Result<Checked> {
    let mut errors = Errors::default();
    let mut args = errors.check(args);
    if let Some(args) = &mut args {
        errors.absorb(std::mem::take(&mut args.errors));
    }
    let func = errors.check(func);
    let shape = func.as_ref().and_then(|func| errors.check(shape(func)));
    let keyed = args.as_mut().and_then(|args| errors.check(keyed(args)));
    if let (Some(args), Some(func)) = (&args, &func) {
        if let Err(e) = token_is_free(args, &func.sig) {
            errors.push(e);
        }
    }
    if let Some(args) = &args {
        if let Err(e) = cooperative_has_token(args) {
            errors.push(e);
        }
        if let Err(e) = detached_or_parent(args) {
            errors.push(e);
        }
        if let Err(e) = occupied_has_registry(args, keyed.as_ref()) {
            errors.push(e);
        }
    }
    let checked = match (args, func, shape, keyed) {
        (Some(args), Some(func), Some(shape), Some(keyed)) => Some(Checked {
            args,
            keyed,
            func,
            shape,
        }),
        _ => None,
    };
    errors.finish(checked)
}

/// Finds the body to wrap: an `async fn`'s block, or an `#[async_trait]`
/// method's boxed future. Never the outer fn of a boxed future.
fn shape(func: &Func) -> syn::Result<FnShape> {
    let sig = &func.sig;
    if sig.asyncness.is_some() {
        return Ok(FnShape::Async);
    }
    if let Some(output) = item::boxed_output(&sig.output) {
        return match BoxedFuture::find(&func.body) {
            Some(future) => Ok(FnShape::Boxed {
                output: Box::new(output.clone()),
                future: Box::new(future),
            }),
            None => Err(syn::Error::new(
                func.body.brace.span.join(),
                "`#[scoped_cancel]` expected this body to be `Box::pin(async move { .. })`\n\
                 note: a fn returning `Pin<Box<dyn Future>>` is scoped inside its boxed future, \
                 since a guard around the code that builds the future would end before it runs\n\
                 help: write an `async fn` (inside an `#[async_trait]` impl too), \
                 or make the whole body `Box::pin(async move { .. })`",
            )),
        };
    }
    if item::has_async_trait_lifetime(sig) {
        return Err(syn::Error::new_spanned(
            &sig.output,
            "`#[scoped_cancel]` does not recognise this `#[async_trait]` return type\n\
             note: expected `Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>`\n\
             help: put `#[scoped_cancel]` on a plain `async fn`; if `#[async_trait]` produced this fn, \
             please report it as a scoped-cancel bug",
        ));
    }
    Err(syn::Error::new(
        sig.fn_token.span,
        "`#[scoped_cancel]` needs an `async fn`\n\
         note: the scope lives as long as the call's future, and a plain fn has none\n\
         help: write `async fn`; to scope a future built by hand, \
         use `Registry::enter(key)?.run(future)` or `Scope::run`",
    ))
}

/// Takes `registry` and `key` out of `args`: both, or neither.
fn keyed(args: &mut Args) -> syn::Result<Option<Keyed>> {
    match (args.registry.take(), args.key.take()) {
        (Some(registry), Some(key)) => Ok(Some(Keyed {
            registry: registry.value,
            key: key.value,
        })),
        (None, None) => Ok(None),
        // A misspelled partner is already reported as an unknown argument.
        (Some(_), None) if args.misspelled.contains(&"key") => Ok(None),
        (None, Some(_)) if args.misspelled.contains(&"registry") => Ok(None),
        (Some(Arg { name, .. }), None) => Err(syn::Error::new(
            name.span(),
            "`registry` needs a `key`: the key this call's scope is entered under\n\
             help: add `key = ..`, e.g. `#[scoped_cancel(registry = JOBS, key = id)]`",
        )),
        (None, Some(Arg { name, .. })) => Err(syn::Error::new(
            name.span(),
            "`key` needs a `registry` to enter the key into\n\
             help: add `registry = ..`, e.g. `#[scoped_cancel(registry = JOBS, key = id)]` \
             with `static JOBS: Registry<u64> = Registry::new();`",
        )),
    }
}

/// `token = name` must not hide a parameter of the same name from the body.
fn token_is_free(args: &Args, sig: &Signature) -> syn::Result<()> {
    let Some(token) = &args.token else {
        return Ok(());
    };
    let mut names = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input {
            bound_names(&typed.pat, &mut names);
        }
    }
    match names.into_iter().find(|name| **name == token.value) {
        None => Ok(()),
        Some(_) => Err(syn::Error::new(
            token.value.span(),
            format!(
                "`token = {0}` would hide the parameter `{0}` from the body\n\
                 help: bind the token under another name, e.g. `token = cancel`",
                token.value
            ),
        )),
    }
}

/// A body that is not raced must watch the token, so it needs one.
fn cooperative_has_token(args: &Args) -> syn::Result<()> {
    match (&args.cooperative, &args.token) {
        (Some(_), None) if args.misspelled.contains(&"token") => Ok(()),
        (Some(cooperative), None) => Err(syn::Error::new(
            cooperative.span(),
            "`cooperative` without `token`: the body could never notice cancellation\n\
             note: a cooperative body is not raced; it runs until it checks its token\n\
             help: add `token = token` and watch `token.cancelled()` or `token.is_cancelled()` \
             in the body; a body that deliberately ignores it can bind `token = _token`",
        )),
        _ => Ok(()),
    }
}

/// `detached` makes a root and `parent` a child: one or the other.
fn detached_or_parent(args: &Args) -> syn::Result<()> {
    match (&args.detached, &args.parent) {
        (Some(detached), Some(_)) => Err(syn::Error::new(
            detached.span(),
            "`detached` and `parent` contradict each other\n\
             note: `detached` makes a root scope; `parent = ..` makes a child of that parent\n\
             help: remove `detached` to make the call's scope a child of the parent, \
             or remove `parent` for a root that outlives its caller",
        )),
        _ => Ok(()),
    }
}

/// `occupied` is about a key: it needs `registry` (and so `key`).
fn occupied_has_registry(args: &Args, keyed: Option<&Option<Keyed>>) -> syn::Result<()> {
    let Some(occupied) = &args.occupied else {
        return Ok(());
    };
    // `Some(None)`: neither `registry` nor `key` was given. `None`: one of
    // them is missing, already reported. A misspelled one is reported too.
    let misspelled = args
        .misspelled
        .iter()
        .any(|m| *m == "registry" || *m == "key");
    if matches!(keyed, Some(None)) && !misspelled {
        return Err(syn::Error::new(
            occupied.name.span(),
            "`occupied` needs a `registry` and a `key`: it says what a call does when its key is taken\n\
             help: add them, e.g. `#[scoped_cancel(registry = JOBS, key = id, occupied = wait)]`",
        ));
    }
    Ok(())
}

/// The names a parameter pattern binds.
fn bound_names<'a>(pat: &'a Pat, names: &mut Vec<&'a Ident>) {
    match pat {
        Pat::Ident(p) => {
            names.push(&p.ident);
            if let Some((_, sub)) = &p.subpat {
                bound_names(sub, names);
            }
        }
        Pat::Tuple(p) => p.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::TupleStruct(p) => p.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::Struct(p) => p.fields.iter().for_each(|f| bound_names(&f.pat, names)),
        Pat::Slice(p) => p.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::Or(p) => p.cases.iter().for_each(|p| bound_names(p, names)),
        Pat::Reference(p) => bound_names(&p.pat, names),
        Pat::Paren(p) => bound_names(&p.pat, names),
        Pat::Type(p) => bound_names(&p.pat, names),
        _ => {}
    }
}
