#![deny(warnings)]

// `self` by value: the key is read before the body takes `self`.
use scoped_cancel::{scoped_cancel, Cancelled, Registry};

static UPLOADS: Registry<String> = Registry::new();

struct Upload {
    name: String,
    bytes: Vec<u8>,
}

impl Upload {
    #[scoped_cancel(registry = UPLOADS, key = self.name)]
    async fn send(self) -> Result<(String, usize), Cancelled> {
        assert!(UPLOADS.contains_key("report.pdf"));
        tokio::task::yield_now().await;
        Ok((self.name, self.bytes.len()))
    }
}

#[tokio::main]
async fn main() {
    let upload = Upload {
        name: "report.pdf".into(),
        bytes: vec![0; 3],
    };
    assert_eq!(upload.send().await, Ok(("report.pdf".to_owned(), 3)));
    assert!(UPLOADS.is_empty());
}
