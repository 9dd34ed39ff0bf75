use scoped_cancel::scoped_cancel;

trait Jobs {
    #[scoped_cancel]
    async fn run(&self);
}

fn main() {}
