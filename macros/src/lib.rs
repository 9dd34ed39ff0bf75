//! Attribute macros for `scoped-cancel`. Use them through the `scoped-cancel`
//! crate; generated code refers only to `::scoped_cancel::__private`.
//!
//! Each macro is a pipeline of its own: `scoped/` for `#[scoped_cancel]`,
//! `test_attr/` for `#[scoped_cancel::test]`. They share the duration-literal
//! grammar (`duration`), error collection (`errors`) and what to emit for
//! invalid input (`fallback`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod duration;
mod errors;
mod fallback;
mod item;
mod names;
mod output;
mod scoped;
mod test_attr;

use proc_macro::TokenStream;

// Documented where it is used, `scoped_cancel::scoped_cancel`, whose page
// inlines this item and appends this item's own docs to its manual: so
// they are only a pointer, and only in this crate's own rustdoc build.
#[cfg_attr(
    doc,
    doc = "Runs each call of an `async fn` inside its own cancellation scope: \
           use it, and read its manual, as [`scoped_cancel::scoped_cancel`]\
           (https://docs.rs/scoped-cancel/latest/scoped_cancel/attr.scoped_cancel.html)."
)]
#[cfg_attr(not(doc), allow(missing_docs))]
#[proc_macro_attribute]
pub fn scoped_cancel(args: TokenStream, item: TokenStream) -> TokenStream {
    scoped::expand(args.into(), item.into()).into()
}

#[cfg_attr(
    doc,
    doc = "An `async fn` test that fails when it leaves a scope or a task behind: \
           use it, and read its manual, as [`scoped_cancel::test`]\
           (https://docs.rs/scoped-cancel/latest/scoped_cancel/attr.test.html)."
)]
#[cfg_attr(not(doc), allow(missing_docs))]
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}
