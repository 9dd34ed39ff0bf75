#![deny(warnings)]

// Parameters with patterns, `mut` bindings and `_`.
use scoped_cancel::{scoped_cancel, Registry};

static POINTS: Registry<(i32, i32)> = Registry::new();

struct Point {
    x: i32,
    y: i32,
}

#[scoped_cancel(registry = POINTS, key = (x, y))]
async fn manhattan(Point { x, y }: Point, (dx, dy): (i32, i32), _: &str) -> Option<i32> {
    Some((x - dx).abs() + (y - dy).abs())
}

#[scoped_cancel(token = token)]
async fn countdown(mut n: u32, [first, .., last]: [u8; 3]) -> Option<Vec<u32>> {
    let mut seen = Vec::new();
    while n > 0 && !token.is_cancelled() {
        seen.push(n);
        n -= 1;
    }
    seen.push(u32::from(first) + u32::from(last));
    Some(seen)
}

#[tokio::main]
async fn main() {
    assert_eq!(
        manhattan(Point { x: 1, y: 2 }, (4, 6), "ignored").await,
        Some(7)
    );
    assert_eq!(countdown(3, [1, 2, 3]).await, Some(vec![3, 2, 1, 4]));
    assert!(POINTS.is_empty());
}
