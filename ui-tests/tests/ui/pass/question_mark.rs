#![deny(warnings)]

// `?` and early `return` inside the body, including the
// `return Err(Box::new(e))` then `?` case that needs the output type pinned.
use std::error::Error;
use std::fmt;

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static PARSES: Registry<u32> = Registry::new();

#[derive(Debug)]
struct Empty;

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("empty input")
    }
}

impl Error for Empty {}

#[scoped_cancel(registry = PARSES, key = id)]
async fn parse(id: u32, text: &str) -> Result<u32, Box<dyn Error + Send + Sync>> {
    if text.is_empty() {
        return Err(Box::new(Empty));
    }
    let n: u32 = text.trim().parse()?;
    if n == 0 {
        return Ok(0);
    }
    Ok(n * 10)
}

#[derive(Debug, PartialEq)]
enum AppError {
    Cancelled(Cancelled),
    Missing,
}

impl From<Cancelled> for AppError {
    fn from(c: Cancelled) -> Self {
        AppError::Cancelled(c)
    }
}

#[scoped_cancel]
async fn lookup(map: &[(u8, &'static str)], key: u8) -> Result<&'static str, AppError> {
    let (_, value) = map
        .iter()
        .find(|(k, _)| *k == key)
        .ok_or(AppError::Missing)?;
    Ok(value)
}

#[tokio::main]
async fn main() {
    assert_eq!(parse(1, "4").await.unwrap(), 40);
    assert_eq!(parse(2, "0").await.unwrap(), 0);
    assert_eq!(parse(3, "").await.unwrap_err().to_string(), "empty input");
    assert!(parse(4, "x").await.is_err());
    assert!(PARSES.is_empty());
    let map = [(1, "one")];
    assert_eq!(lookup(&map, 1).await, Ok("one"));
    assert_eq!(lookup(&map, 2).await, Err(AppError::Missing));
}
