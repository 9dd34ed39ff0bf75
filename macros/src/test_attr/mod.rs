//! `#[scoped_cancel::test]`: parse the arguments and the fn, validate them
//! into a runtime configuration, expand — or, if anything is wrong, emit the
//! original item followed by every error found.

mod args;
mod duration;
mod expand;
mod fallback;
mod item;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let test_fn = match item::TestFn::parse(item.clone()) {
        Ok(test_fn) => test_fn,
        Err(error) => return fallback::emit(item, Some(error)),
    };
    let mut errors = None;
    let config = args::Args::parse(args)
        .and_then(|args| valid::config(&args))
        .map_err(|error| combine(&mut errors, error))
        .ok();
    if let Err(error) = valid::test_fn(&test_fn) {
        combine(&mut errors, error);
    }
    match (config, errors) {
        (Some(config), None) => expand::test_fn(&config, test_fn),
        (_, errors) => fallback::emit(item, errors),
    }
}

/// Adds `error` to the errors found so far.
fn combine(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}
