//! The return-type trick both attributes use on the `async` block that
//! becomes the fn's body.

use proc_macro2::{Ident, TokenStream};
use quote::{quote, ToTokens};

/// `if let Some(out) = None::<R> { return out; }`: fixes the enclosing
/// `async` block's output type to `R` before its body is checked, so that
/// `?` and an early `return Err(..)` infer as they do in the fn itself.
/// `private` is the path of the facade's `__private`; `out` a mixed-site
/// name the body cannot see.
pub(crate) fn pin_block_output(
    private: &TokenStream,
    out: &Ident,
    output: &impl ToTokens,
) -> TokenStream {
    quote! {
        if let #private::Some(#out) = #private::None::<#output> {
            #[allow(unreachable_code)]
            return #out;
        }
    }
}
