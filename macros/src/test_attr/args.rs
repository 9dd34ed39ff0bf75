//! The attribute's arguments as written: `name = <expr>` pairs, each name
//! known and given at most once. What the values mean is `valid`'s job.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, Token};

use crate::errors::Errors;
use crate::names::{self, Accepted};

/// What `#[scoped_cancel::test]` accepts, for error messages (the same
/// wording and "did you mean" as `#[scoped_cancel]`'s).
const ARGUMENTS: Accepted = Accepted {
    names: &[
        ("flavor", "flavor = \"multi_thread\""),
        ("worker_threads", "worker_threads = 2"),
        ("grace", "grace = \"500ms\""),
        ("timeout", "timeout = \"30s\""),
    ],
    synonyms: &[
        ("flavour", "flavor"),
        ("workers", "worker_threads"),
        ("time_limit", "timeout"),
        ("deadline", "timeout"),
    ],
};

#[derive(Default)]
pub(crate) struct Args {
    /// `flavor = "current_thread" | "multi_thread"`
    pub(crate) flavor: Option<Expr>,
    /// `worker_threads = N`
    pub(crate) worker_threads: Option<Expr>,
    /// `grace = "500ms"`: how long ended scopes and tasks may take to go.
    pub(crate) grace: Option<Expr>,
    /// `timeout = "30s"`: how long the body may run.
    pub(crate) timeout: Option<Expr>,
    /// Some argument's name was not recognised (perhaps a misspelt
    /// `flavor`), so checks across arguments would only add noise.
    pub(crate) had_unknown: bool,
}

impl Args {
    /// Parses `name = value, ...` into `errors` every unknown, repeated or
    /// value-less argument, and returns the arguments it recognised, so that
    /// their values are checked in the same compile.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
        let mut args = Args::default();
        let parsed = syn::meta::parser(|meta| {
            if let Err(error) = args.one(&meta) {
                errors.push(error);
            }
            Ok(())
        })
        .parse2(tokens);
        errors.check(parsed);
        args
    }

    fn one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        // Consume `= <expr>` whatever the name, so that one bad argument
        // does not hide the ones after it.
        let value: Option<Expr> = if meta.input.peek(Token![=]) {
            Some(meta.value()?.parse()?)
        } else {
            None
        };
        let slot = match name.as_str() {
            "flavor" => &mut self.flavor,
            "worker_threads" => &mut self.worker_threads,
            "grace" => &mut self.grace,
            "timeout" => &mut self.timeout,
            "start_paused" => {
                return Err(meta.error(
                    "`start_paused` is not supported here: call `tokio::time::pause()` as the \
                     test's first statement (needs tokio's `test-util` feature)",
                ))
            }
            _ => {
                self.had_unknown = true;
                let shown = quote::ToTokens::to_token_stream(&meta.path)
                    .to_string()
                    .replace(' ', "");
                return Err(ARGUMENTS.unknown(meta.path.span(), &shown, &name));
            }
        };
        let Some(value) = value else {
            let example = ARGUMENTS.example(&name).unwrap_or("name = value");
            return Err(syn::Error::new(
                meta.path.span(),
                format!("`{name}` needs a value\nhelp: write `{example}`"),
            ));
        };
        if slot.is_some() {
            return Err(names::repeated(meta.path.span(), &name));
        }
        *slot = Some(value);
        Ok(())
    }
}
