//! Where `#[scoped_cancel]` finds the body to wrap (the fn itself is parsed
//! by the shared `crate::item`). Two shapes carry a body that can be wrapped:
//!
//! - a plain `async fn`, whose block is the body;
//! - the fn `#[async_trait]` produces, which is not `async` but returns
//!   `Pin<Box<dyn Future<Output = R> + Send + 'async_trait>>` and whose
//!   block is `Box::pin(async move { .. })`: the body is the inner block,
//!   because a guard around the outer fn would end as soon as the boxed
//!   future is returned, before it ever runs.

use syn::parse::{Parse, ParseStream};
use syn::{
    parenthesized, token, GenericArgument, Path, PathArguments, ReturnType, Signature, Token, Type,
    TypeParamBound,
};

pub(crate) use crate::item::{Block, Expected, Func};

/// `#[scoped_cancel]`'s words for an item that is not an `async fn` with a body.
pub(crate) const EXPECTED: Expected = Expected {
    a_fn: "`#[scoped_cancel]` needs an `async fn`\n\
           help: to scope other code, use `Registry::enter`, `Scope::run` or `Scope::spawn`",
    a_body: "`#[scoped_cancel]` needs the fn's body\n\
             help: put it on the `async fn` of the `impl` block, not on the trait's declaration",
};

/// The `Box::pin(async move { .. })` that is the whole body of an
/// `#[async_trait]` method.
pub(crate) struct BoxedFuture {
    /// `Box::pin`, with the user's (or async-trait's) own tokens.
    pub(crate) pin: Path,
    pub(crate) paren: token::Paren,
    pub(crate) async_token: Token![async],
    pub(crate) move_token: Token![move],
    pub(crate) block: Block,
}

impl Parse for BoxedFuture {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let pin: Path = input.parse()?;
        let content;
        let paren = parenthesized!(content in input);
        let async_token = content.parse()?;
        let move_token = content.parse()?;
        let block = content.parse()?;
        Ok(BoxedFuture {
            pin,
            paren,
            async_token,
            move_token,
            block,
        })
    }
}

impl BoxedFuture {
    /// Finds `Box::pin(async move { .. })` as the whole of `body`.
    pub(crate) fn find(body: &Block) -> Option<BoxedFuture> {
        let future: BoxedFuture = syn::parse2(body.stmts.clone()).ok()?;
        let mut names = future.pin.segments.iter().rev().map(|s| &s.ident);
        let is_box_pin =
            names.next().is_some_and(|n| n == "pin") && names.next().is_some_and(|n| n == "Box");
        is_box_pin.then_some(future)
    }
}

/// The `R` of a return type `Pin<Box<dyn Future<Output = R> + ..>>`.
pub(crate) fn boxed_output(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let boxed = single_type_argument(ty, "Pin")?;
    let Type::TraitObject(object) = single_type_argument(boxed, "Box")? else {
        return None;
    };
    object.bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let future = bound.path.segments.last().filter(|s| s.ident == "Future")?;
        let PathArguments::AngleBracketed(args) = &future.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// For a type `..::Name<T>`, its one type argument `T`.
fn single_type_argument<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last().filter(|s| s.ident == name)?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    match (types.next(), types.next()) {
        (Some(ty), None) => Some(ty),
        _ => None,
    }
}

/// `true` if the signature has the `'async_trait` lifetime that
/// `#[async_trait]` adds to every method it rewrites.
pub(crate) fn has_async_trait_lifetime(sig: &Signature) -> bool {
    sig.generics
        .lifetimes()
        .any(|l| l.lifetime.ident == "async_trait")
}

/// Where the body to wrap lives.
pub(crate) enum FnShape {
    /// A plain `async fn`: the fn's own block.
    Async,
    /// An `#[async_trait]` method: the block inside `Box::pin(async move { .. })`.
    Boxed {
        output: Box<Type>,
        future: Box<BoxedFuture>,
    },
}
