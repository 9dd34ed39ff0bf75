use scoped_cancel::scoped_cancel;

#[scoped_cancel(name = job_name)]
async fn name_not_literal() {}

#[scoped_cancel(name = "")]
async fn empty_name() {}

#[scoped_cancel(token = self.token)]
async fn token_not_ident() {}

#[scoped_cancel(token = t, cooperative = true)]
async fn flag_with_value() {
    t.cancelled().await;
}

#[scoped_cancel(registry, key = 1)]
async fn missing_value() {}

fn main() {}
