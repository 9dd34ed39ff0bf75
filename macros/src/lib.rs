//! Attribute macros for `scoped-cancel`. Use them through the `scoped-cancel`
//! crate; generated code refers only to `::scoped_cancel::__private`.
//!
//! Each macro is a pipeline of its own: `scoped/` for `#[scoped_cancel]`,
//! `test_attr/` for `#[scoped_cancel::test]`. They share the duration-literal
//! grammar (`duration`), error collection (`errors`) and what to emit for
//! invalid input (`fallback`).

mod duration;
mod errors;
mod fallback;
mod item;
mod names;
mod output;
mod scoped;
mod test_attr;

use proc_macro::TokenStream;

/// Implemented here; documented, and used, as `scoped_cancel::scoped_cancel`.
#[proc_macro_attribute]
pub fn scoped_cancel(args: TokenStream, item: TokenStream) -> TokenStream {
    scoped::expand(args.into(), item.into()).into()
}

/// See `scoped_cancel::test` for the documentation.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}
