use scoped_cancel::Token;

fn main() {
    let token = Token::new();
    std::thread::spawn(move || token.cancel());
}
