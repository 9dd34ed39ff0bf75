#![deny(warnings)]

// The key expression is evaluated by reference and cloned: `key = name`
// leaves `name` usable in the body. Any expression works.
use scoped_cancel::{scoped_cancel, Registry};

static BY_NAME: Registry<String> = Registry::new();
static BY_PAIR: Registry<(u32, String)> = Registry::new();

#[scoped_cancel(registry = BY_NAME, key = name)]
async fn greet(name: String) -> Option<String> {
    assert!(BY_NAME.contains_key(&name));
    Some(name + "!")
}

#[scoped_cancel(registry = BY_PAIR, key = (shard, format!("{prefix}-{shard}")))]
async fn compound(shard: u32, prefix: &str) -> Option<usize> {
    let keys: Vec<_> = BY_PAIR
        .report()
        .into_iter()
        .map(|i| i.key().clone())
        .collect();
    assert_eq!(keys, [(shard, format!("{prefix}-{shard}"))]);
    Some(prefix.len())
}

#[tokio::main]
async fn main() {
    assert_eq!(greet("ada".to_owned()).await.as_deref(), Some("ada!"));
    assert_eq!(compound(3, "db").await, Some(2));
    assert!(BY_NAME.is_empty() && BY_PAIR.is_empty());
}
