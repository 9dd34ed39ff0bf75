//! The test fn as written: its signature parsed, its body kept as raw
//! tokens (fast, and tolerant of half-written code).

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Visibility};

pub(crate) struct TestFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The `{ ... }` body, braces included.
    pub(crate) body: TokenTree,
}

impl TestFn {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<TestFn> {
        syn::parse2(tokens)
    }
}

impl Parse for TestFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<TestFn> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: TokenTree = input.parse()?;
        match &body {
            TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {}
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "expected the test's body: `{ ... }`",
                ))
            }
        }
        Ok(TestFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}
