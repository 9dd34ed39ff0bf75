#![deny(warnings)]

// Explicit and elided lifetimes in arguments and return types.
use scoped_cancel::{scoped_cancel, Registry};

static PARSES: Registry<usize> = Registry::new();

#[scoped_cancel(registry = PARSES, key = text.len())]
async fn first_word<'a>(text: &'a str) -> Option<&'a str> {
    text.split_whitespace().next()
}

#[scoped_cancel]
async fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> Option<&'a str> {
    Some(if a.len() >= b.len() { a } else { b })
}

#[scoped_cancel]
async fn trimmed(text: &str) -> Option<&str> {
    Some(text.trim())
}

struct Words<'t> {
    rest: &'t str,
}

impl<'t> Words<'t> {
    #[scoped_cancel]
    async fn next_word(&mut self) -> Option<&'t str> {
        let text = self.rest.trim_start();
        let end = text.find(' ').unwrap_or(text.len());
        let (word, rest) = text.split_at(end);
        self.rest = rest;
        (!word.is_empty()).then_some(word)
    }
}

#[tokio::main]
async fn main() {
    let owned = String::from("hello scoped world");
    assert_eq!(first_word(&owned).await, Some("hello"));
    assert_eq!(longest("ab", "abc").await, Some("abc"));
    assert_eq!(trimmed("  x  ").await, Some("x"));
    let mut words = Words { rest: &owned };
    let mut all = Vec::new();
    while let Some(word) = words.next_word().await {
        all.push(word);
    }
    assert_eq!(all, ["hello", "scoped", "world"]);
    assert!(PARSES.is_empty());
}
