/// How many iterations a race test runs: `SCOPED_CANCEL_STRESS` if set to a
/// number, else `default`. Raise it to hunt a rare interleaving.
pub fn stress_iterations(default: usize) -> usize {
    std::env::var("SCOPED_CANCEL_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
