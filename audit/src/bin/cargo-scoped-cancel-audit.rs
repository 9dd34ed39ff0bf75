//! `cargo scoped-cancel-audit ...`: cargo runs this binary with the
//! subcommand's name as the first argument.

fn main() {
    let args = std::env::args_os().skip(1).collect();
    std::process::exit(scoped_cancel_audit::cli::main_with(args, true));
}
