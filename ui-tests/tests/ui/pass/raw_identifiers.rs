#![deny(warnings)]

// Raw identifiers: the default name is the fn's name without `r#`.
use scoped_cancel::{scoped_cancel, Registry};

static JOBS: Registry<u8> = Registry::new();

#[scoped_cancel(registry = JOBS, key = r#type)]
async fn r#match(r#type: u8) -> Option<String> {
    Some(JOBS.report()[0].name().to_owned())
}

#[tokio::main]
async fn main() {
    let name = r#match(1).await.unwrap();
    assert_eq!(name, concat!(module_path!(), "::match"));
}
