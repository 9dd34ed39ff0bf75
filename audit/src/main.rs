//! `scoped-cancel-audit [--format human|json|sarif] [--deny] [--include-tests] PATH...`

fn main() {
    let args = std::env::args_os().skip(1).collect();
    std::process::exit(scoped_cancel_audit::cli::main_with(args, false));
}
