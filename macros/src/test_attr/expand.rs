//! Code generation: the fn becomes a plain `#[test]` fn that builds its
//! runtime and checks for leaks through `::scoped_cancel::__private::testing`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::ReturnType;

use super::item::Func;
use super::valid::Config;

pub(crate) fn test_fn(config: &Config, test_fn: Func) -> TokenStream {
    let Func {
        attrs,
        vis,
        mut sig,
        body,
    } = test_fn;
    sig.asyncness = None;
    let (output, output_span) = match &sig.output {
        ReturnType::Default => (quote!(()), Span::call_site()),
        ReturnType::Type(_, ty) => (ty.to_token_stream(), ty.span()),
    };
    // Mixed-site: the body cannot see or shadow these names.
    let body_future = Ident::new("__scoped_cancel_body", Span::mixed_site());
    let early = Ident::new("__scoped_cancel_out", Span::mixed_site());
    let private = quote!(::scoped_cancel::__private);
    let runtime = if config.multi_thread {
        quote!(#private::testing::Test::new(
            #private::tokio::runtime::Builder::new_multi_thread(),
        ))
    } else {
        quote!(#private::testing::Test::current_thread())
    };
    let workers = config.worker_threads.map(|n| {
        let n = Literal::usize_unsuffixed(n);
        quote!(.worker_threads(#n))
    });
    let grace = config.grace_nanos.map(|nanos| {
        let nanos = Literal::u64_unsuffixed(nanos);
        quote!(.grace_nanos(#nanos))
    });
    let timeout = config.timeout_nanos.map(|nanos| {
        let nanos = Literal::u64_unsuffixed(nanos);
        quote!(.timeout_nanos(#nanos))
    });
    let pin = crate::output::pin_block_output(&private, &early, &output);
    // Spanned at the return type, so an unsupported one is reported there.
    let run = quote_spanned!(output_span=> .run(#body_future));
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis #sig {
            let #body_future = async move {
                #pin
                #body
            };
            #runtime #workers #grace #timeout #run
        }
    }
}
