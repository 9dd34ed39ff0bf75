use scoped_cancel::{Scope, Token, Unscoped};

struct Worker {
    id: u64,
    token: Token<Unscoped>,
}

async fn run(worker: Worker) {
    worker.token.cancelled().await;
    let _ = worker.id;
}

#[tokio::main]
async fn main() {
    let root = Scope::root();
    let worker = Worker {
        id: 1,
        token: root.token().child(),
    };
    tokio::spawn(run(worker));
}
