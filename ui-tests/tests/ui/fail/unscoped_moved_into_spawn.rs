use scoped_cancel::Scope;

#[tokio::main]
async fn main() {
    let root = Scope::root();
    // The seed's leak: a child of a long-lived root that nobody cancels.
    let child = root.token().child();
    tokio::spawn(async move {
        child.cancelled().await;
    });
}
