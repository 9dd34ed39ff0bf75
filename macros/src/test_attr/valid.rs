//! Checks that turn the arguments into a runtime configuration and reject
//! fns that cannot be tests, each error spanned at the user's own tokens.

use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit};

use super::args::Args;
use super::item::Func;
use crate::duration;
use crate::errors::Errors;

/// The validated configuration of the test's runtime.
pub(crate) struct Config {
    pub(crate) multi_thread: bool,
    pub(crate) worker_threads: Option<usize>,
    /// Nanoseconds; `None` keeps the runtime's default.
    pub(crate) grace_nanos: Option<u64>,
    /// Nanoseconds; `None`: the body may run for ever.
    pub(crate) timeout_nanos: Option<u64>,
}

pub(crate) fn config(args: &Args) -> syn::Result<Config> {
    let mut errors = Errors::default();
    let mut multi_thread = false;
    let mut flavor_known = true;
    if let Some(flavor) = &args.flavor {
        match string(flavor).as_deref() {
            Some("current_thread") => {}
            Some("multi_thread") => multi_thread = true,
            _ => flavor_known = false,
        }
        if !flavor_known {
            errors.push(syn::Error::new_spanned(
                flavor,
                "expected `flavor = \"current_thread\"` or `flavor = \"multi_thread\"`",
            ));
        }
    }
    let mut worker_threads = None;
    if let Some(expr) = &args.worker_threads {
        match int(expr) {
            Some(n) if n > 0 => worker_threads = Some(n),
            _ => errors.push(syn::Error::new_spanned(
                expr,
                "expected a number of threads above 0, such as `2`",
            )),
        }
        // A misspelt flavor is reported once, above, not again here.
        if !multi_thread && flavor_known && !args.had_unknown {
            errors.push(syn::Error::new_spanned(
                expr,
                "`worker_threads` needs the multi-thread runtime: add `flavor = \"multi_thread\"`",
            ));
        }
    }
    let grace_nanos = args
        .grace
        .as_ref()
        .and_then(|expr| duration_arg(expr, "grace", &mut errors));
    let timeout_nanos = args
        .timeout
        .as_ref()
        .and_then(|expr| duration_arg(expr, "timeout", &mut errors));
    errors.finish(Some(Config {
        multi_thread,
        worker_threads,
        grace_nanos,
        timeout_nanos,
    }))
}

/// A duration literal's nanoseconds (`grace = "250ms"`, `timeout = "30s"`),
/// or an error spanned at it.
fn duration_arg(expr: &Expr, name: &str, errors: &mut Errors) -> Option<u64> {
    let Some(text) = string(expr) else {
        errors.push(syn::Error::new_spanned(
            expr,
            format!(
                "expected a duration literal such as `{name} = \"250ms\"` or `{name} = \"2s\"`"
            ),
        ));
        return None;
    };
    match duration::parse(&text) {
        Ok(parsed) => {
            let nanos = nanos(parsed);
            if nanos.is_none() {
                errors.push(syn::Error::new_spanned(
                    expr,
                    format!("`{name}` is too long (at most about 584 years)"),
                ));
            }
            nanos
        }
        Err(problem) => {
            errors.push(syn::Error::new_spanned(
                expr,
                format!("invalid duration {text:?}: {problem}\n{}", duration::HELP),
            ));
            None
        }
    }
}

pub(crate) fn test_fn(test_fn: &Func) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &test_fn.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "the `async` keyword is missing from the function declaration\n\
             help: write `async fn`: `#[scoped_cancel::test]` runs the body on a runtime it builds",
        ));
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "a test fn cannot be `const`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a test fn cannot be generic",
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        errors.push(syn::Error::new(
            sig.inputs.span(),
            "a test fn takes no arguments\n\
             help: build what the test needs inside its body",
        ));
    }
    for attr in &test_fn.attrs {
        let is_test = attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "test");
        if is_test {
            errors.push(syn::Error::new_spanned(
                attr,
                "a second test attribute: `#[scoped_cancel::test]` already makes this a test\n\
                 help: remove this attribute",
            ));
        }
    }
    errors.finish(Some(()))
}

fn string(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.value()),
        _ => None,
    }
}

fn int(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse().ok(),
        _ => None,
    }
}

fn nanos(duration: duration::Parsed) -> Option<u64> {
    duration
        .secs
        .checked_mul(1_000_000_000)?
        .checked_add(u64::from(duration.nanos))
}
