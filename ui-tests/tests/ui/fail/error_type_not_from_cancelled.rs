use scoped_cancel::scoped_cancel;

#[scoped_cancel(timeout = "1s")]
async fn fetch(url: &str) -> Result<String, String> {
    Ok(url.to_owned())
}

fn main() {}
