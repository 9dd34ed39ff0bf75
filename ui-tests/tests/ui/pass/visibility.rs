#![deny(warnings)]

// `pub`, `pub(crate)` and `pub(super)` are kept as written.
mod jobs {
    use scoped_cancel::{scoped_cancel, Registry};

    pub static JOBS: Registry<&'static str> = Registry::new();

    #[scoped_cancel(registry = JOBS, key = "public")]
    pub async fn public() -> Option<&'static str> {
        Some("public")
    }

    #[scoped_cancel(registry = JOBS, key = "crate")]
    pub(crate) async fn in_crate() -> Option<&'static str> {
        Some("crate")
    }

    pub mod inner {
        use scoped_cancel::scoped_cancel;

        #[scoped_cancel]
        pub(super) async fn for_parent() -> Option<u8> {
            Some(1)
        }

        #[scoped_cancel]
        pub(in crate::jobs) async fn in_path() -> Option<u8> {
            Some(2)
        }
    }

    pub async fn both() -> Option<u8> {
        Some(inner::for_parent().await? + inner::in_path().await?)
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(jobs::public().await, Some("public"));
    assert_eq!(jobs::in_crate().await, Some("crate"));
    assert_eq!(jobs::both().await, Some(3));
    assert!(jobs::JOBS.is_empty());
}
