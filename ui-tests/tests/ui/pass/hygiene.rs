#![deny(warnings)]

// User names equal to the generated ones neither collide nor leak:
// generated locals are invisible to the body and cannot be shadowed, and a
// lower-case `static` in scope does not turn a generated binding into a
// pattern.
#![allow(non_upper_case_globals)]

use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static scope: Registry<u8> = Registry::new();
static out: u8 = 100;

#[scoped_cancel(registry = scope, key = __scope, token = __r)]
async fn clash(__scope: u8, __body: u8, __cancelled: u8, __timeout: u8) -> Result<u8, Cancelled> {
    static __SCOPED_CANCEL_SITE: u8 = 10;
    let body = 1;
    let cancelled = 2;
    assert!(!__r.is_cancelled());
    Ok(__scope + __body + __cancelled + __timeout + body + cancelled + out + __SCOPED_CANCEL_SITE)
}

#[tokio::main]
async fn main() {
    assert_eq!(clash(1, 2, 3, 4).await, Ok(123));
    assert!(scope.is_empty());
}
