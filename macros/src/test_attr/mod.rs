//! `#[scoped_cancel::test]`: parse the arguments and the fn, validate them
//! into a runtime configuration, expand — or, if anything is wrong, emit the
//! original item followed by every error found.

mod args;
mod expand;
mod item;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

use crate::errors::Errors;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let test_fn = match item::Func::parse(item.clone(), &item::EXPECTED) {
        Ok(test_fn) => test_fn,
        Err(error) => return crate::fallback::expand(error, item),
    };
    let mut errors = Errors::default();
    let args = args::Args::parse(args, &mut errors);
    let config = errors.check(valid::config(&args));
    errors.check(valid::test_fn(&test_fn));
    match errors.finish(config) {
        Ok(config) => expand::test_fn(&config, test_fn),
        Err(errors) => crate::fallback::expand(errors, item),
    }
}
