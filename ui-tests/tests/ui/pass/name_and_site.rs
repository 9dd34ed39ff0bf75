#![deny(warnings)]

// Reports name the scope (default: the fn's path) and give the annotated
// fn's file and the line of its name.
use scoped_cancel::{scoped_cancel, Registry, ScopeInfo};

static JOBS: Registry<u32> = Registry::new();

const DEFAULT_LINE: u32 = line!() + 2;
#[scoped_cancel(registry = JOBS, key = id)]
async fn default_name(id: u32) -> Option<ScopeInfo<u32>> {
    JOBS.report().into_iter().find(|info| *info.key() == id)
}

mod billing {
    use super::*;

    pub const NAMED_LINE: u32 = line!() + 6;
    #[scoped_cancel(
        registry = JOBS,
        key = id,
        name = "billing: charge"
    )]
    pub async fn named(id: u32) -> Option<ScopeInfo<u32>> {
        JOBS.report().into_iter().find(|info| *info.key() == id)
    }
}

#[tokio::main]
async fn main() {
    let info = default_name(1).await.unwrap();
    assert_eq!(info.name(), concat!(module_path!(), "::default_name"));
    assert_eq!(info.file(), file!());
    assert_eq!(info.line(), DEFAULT_LINE);

    let info = billing::named(2).await.unwrap();
    assert_eq!(info.name(), "billing: charge");
    assert_eq!(info.file(), file!());
    assert_eq!(info.line(), billing::NAMED_LINE);
    assert!(JOBS.is_empty());
}
