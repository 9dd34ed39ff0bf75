#![deny(warnings)]

// `impl Trait` in argument position, and in the return type.
use std::fmt::Display;

use scoped_cancel::{scoped_cancel, Cancelled};

#[scoped_cancel(timeout = "5s")]
async fn join_all(
    items: impl IntoIterator<Item = impl Display>,
    sep: impl AsRef<str>,
) -> Option<String> {
    let parts: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    Some(parts.join(sep.as_ref()))
}

#[scoped_cancel]
async fn label(n: u32) -> Result<impl Display, Cancelled> {
    Ok(format!("#{n}"))
}

#[scoped_cancel(on_cancel = Vec::new().into_iter())]
async fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit)
        .filter(|n| n % 2 == 0)
        .collect::<Vec<_>>()
        .into_iter()
}

#[tokio::main]
async fn main() {
    assert_eq!(join_all([1, 2, 3], ", ").await.as_deref(), Some("1, 2, 3"));
    assert_eq!(label(4).await.unwrap().to_string(), "#4");
    assert_eq!(evens(5).await.collect::<Vec<_>>(), [0, 2, 4]);
}
