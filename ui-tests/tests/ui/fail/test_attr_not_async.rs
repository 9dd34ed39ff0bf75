// `#[scoped_cancel::test]` builds a runtime for an `async fn`, like `#[tokio::test]`.
#[scoped_cancel::test]
fn plain() {}

fn main() {}
