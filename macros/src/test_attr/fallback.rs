//! What is emitted when the input is invalid: the user's item unchanged, so
//! IDEs and other lints keep working, followed by the errors.

use proc_macro2::TokenStream;

pub(crate) fn emit(item: TokenStream, errors: Option<syn::Error>) -> TokenStream {
    let mut out = item;
    if let Some(errors) = errors {
        out.extend(errors.into_compile_error());
    }
    out
}
