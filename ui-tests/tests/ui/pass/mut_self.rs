#![deny(warnings)]

// `&mut self`: the key reads a field, the body mutates others.
use scoped_cancel::{scoped_cancel, Registry};

static COUNTERS: Registry<u32> = Registry::new();

struct Counter {
    id: u32,
    hits: u64,
    log: Vec<String>,
}

impl Counter {
    #[scoped_cancel(registry = COUNTERS, key = self.id)]
    async fn hit(&mut self, note: &str) -> Option<u64> {
        assert!(COUNTERS.contains_key(&self.id));
        self.hits += 1;
        self.log.push(note.to_owned());
        tokio::task::yield_now().await;
        Some(self.hits)
    }
}

#[tokio::main]
async fn main() {
    let mut counter = Counter {
        id: 7,
        hits: 0,
        log: Vec::new(),
    };
    assert_eq!(counter.hit("a").await, Some(1));
    assert_eq!(counter.hit("b").await, Some(2));
    assert_eq!(counter.log, ["a", "b"]);
    assert!(COUNTERS.is_empty());
}
