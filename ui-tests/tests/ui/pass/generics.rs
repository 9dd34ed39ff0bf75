#![deny(warnings)]

// Generic fns with bounds and `where` clauses, a generic key type, and a
// registry passed by reference.
use std::fmt::Display;
use std::hash::Hash;

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

#[scoped_cancel(registry = registry, key = key)]
async fn run_keyed<K, T>(registry: &Registry<K>, key: K, value: T) -> Result<String, Cancelled>
where
    K: Eq + Hash + Clone + Send + Sync + std::fmt::Debug + 'static,
    T: Display + Send,
{
    assert!(registry.contains_key(&key));
    Ok(format!("{value}"))
}

#[scoped_cancel]
async fn count_matching<T: Clone + Send, F>(items: Vec<T>, keep: F) -> Option<usize>
where
    F: Fn(&T) -> bool + Send,
{
    tokio::task::yield_now().await;
    Some(items.iter().filter(|item| keep(item)).count())
}

struct Cache<V> {
    jobs: Registry<u32>,
    value: V,
}

impl<V: Clone + Send + Sync> Cache<V> {
    #[scoped_cancel(registry = self.jobs, key = slot)]
    async fn get<const N: usize>(&self, slot: u32) -> Option<[V; N]> {
        Some(std::array::from_fn(|_| self.value.clone()))
    }
}

#[tokio::main]
async fn main() {
    let registry = Registry::new();
    assert_eq!(
        run_keyed(&registry, ("a", 1), 2.5).await,
        Ok("2.5".to_owned())
    );
    assert!(registry.is_empty());
    assert_eq!(
        count_matching(vec![1, 2, 3, 4], |n| n % 2 == 0).await,
        Some(2)
    );
    let cache = Cache {
        jobs: Registry::new(),
        value: 'x',
    };
    assert_eq!(cache.get::<3>(1).await, Some(['x'; 3]));
}
