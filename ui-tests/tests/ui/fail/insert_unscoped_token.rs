use scoped_cancel::{Registry, Token};

static JOBS: Registry<u64> = Registry::new();

fn main() {
    // Nobody would cancel this token or remove its entry.
    let _entry = JOBS.insert(1, Token::new());
}
