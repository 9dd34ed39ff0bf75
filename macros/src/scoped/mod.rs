//! `#[scoped_cancel(...)]`: parse → validate → expand, or fall back.

mod args;
mod expand;
mod item;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed_args = syn::parse2::<args::Args>(args);
    let parsed_item = item::Func::parse(item.clone(), &item::EXPECTED);
    match valid::check(parsed_args, parsed_item) {
        Ok(checked) => expand::expand(checked),
        Err(errors) => crate::fallback::expand(errors, item),
    }
}
