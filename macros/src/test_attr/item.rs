//! The test fn as written: the shared fn parser (`crate::item`), with this
//! attribute's words for an item that is not a fn with a body.

pub(crate) use crate::item::{Expected, Func};

/// `#[scoped_cancel::test]`'s words for an item that is not a test fn.
pub(crate) const EXPECTED: Expected = Expected {
    a_fn: "`#[scoped_cancel::test]` goes on an `async fn`\n\
           help: write `#[scoped_cancel::test] async fn my_test() { .. }`",
    a_body: "expected the test's body: `{ ... }`",
};
