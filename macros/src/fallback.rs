//! What to emit for an invalid attribute: the errors, and the item as it
//! was written, so that the rest of the crate still type-checks and IDEs
//! keep completing inside the fn while the attribute is being fixed.

use proc_macro2::TokenStream;

pub(crate) fn expand(errors: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = errors.into_compile_error();
    out.extend(item);
    out
}
