// A test fn takes no arguments and is not also marked `#[test]`.
#[scoped_cancel::test]
#[test]
async fn takes(id: u64) {
    let _ = id;
}

fn main() {}
