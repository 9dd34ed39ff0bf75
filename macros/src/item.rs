//! The annotated fn, as written: shared by both attributes. Its signature
//! is parsed; its body is kept as raw tokens (fast, and tolerant of
//! half-written code, which is re-emitted untouched).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{ParseStream, Parser};
use syn::{braced, token, Attribute, Signature, Token, Visibility};

/// What an attribute says when its item is not a fn with a body.
pub(crate) struct Expected {
    /// The item is not a fn at all.
    pub(crate) a_fn: &'static str,
    /// The fn has no body (a trait's declaration).
    pub(crate) a_body: &'static str,
}

/// An annotated fn, as written.
pub(crate) struct Func {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Block,
}

/// A `{ .. }` block: inner attributes, then statements kept as raw tokens
/// (fast, and tolerant of half-written code, which is re-emitted untouched).
pub(crate) struct Block {
    pub(crate) brace: token::Brace,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) stmts: TokenStream,
}

impl Func {
    /// Parses `tokens` as a fn with a body, with `expected`'s messages
    /// for the two ways an item can fail to be one.
    pub(crate) fn parse(tokens: TokenStream, expected: &Expected) -> syn::Result<Func> {
        (|input: ParseStream| parse_func(input, expected)).parse2(tokens)
    }
}

fn parse_func(input: ParseStream, expected: &Expected) -> syn::Result<Func> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    if !starts_fn(input) {
        return Err(input.error(expected.a_fn));
    }
    let sig: Signature = input.parse()?;
    if input.peek(Token![;]) {
        return Err(input.error(expected.a_body));
    }
    let body = input.parse()?;
    Ok(Func {
        attrs,
        vis,
        sig,
        body,
    })
}

/// `true` if the next tokens are a fn signature: qualifiers, then `fn`.
fn starts_fn(input: ParseStream) -> bool {
    let fork = input.fork();
    loop {
        if fork.peek(Token![fn]) {
            return true;
        }
        let qualifier = fork
            .parse::<Option<Token![const]>>()
            .ok()
            .flatten()
            .is_some()
            || fork
                .parse::<Option<Token![async]>>()
                .ok()
                .flatten()
                .is_some()
            || fork
                .parse::<Option<Token![unsafe]>>()
                .ok()
                .flatten()
                .is_some()
            || fork.parse::<Option<syn::Abi>>().ok().flatten().is_some();
        if !qualifier {
            return false;
        }
    }
}

impl syn::parse::Parse for Block {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let stmts = content.parse()?;
        Ok(Block {
            brace,
            inner_attrs,
            stmts,
        })
    }
}

/// The block as written: braces, inner attributes, statements.
impl ToTokens for Block {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.brace.surround(tokens, |tokens| {
            for attr in &self.inner_attrs {
                attr.to_tokens(tokens);
            }
            tokens.extend(self.stmts.clone());
        });
    }
}
