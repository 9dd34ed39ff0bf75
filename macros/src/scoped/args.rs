//! The argument model of `#[scoped_cancel(...)]` and its parser.
//!
//! Syntax errors (a value that is not an expression) stop the parse; every
//! other problem — unknown or repeated arguments, a value of the wrong kind,
//! a bad duration literal — is recorded and parsing goes on, so that one
//! compile reports all the mistakes of an attribute at once.

use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Lit, LitStr, Token};

use crate::duration::{self, Parsed};
use crate::errors::Errors;
use crate::names::Accepted;

/// Every accepted argument, in the order the docs list them, with an
/// example for error messages.
const ACCEPTED: [(&str, &str); 10] = [
    ("registry", "registry = JOBS"),
    ("key", "key = id"),
    ("parent", "parent = &token"),
    ("detached", "detached"),
    ("timeout", "timeout = \"30s\""),
    ("token", "token = token"),
    ("on_cancel", "on_cancel = Err(MyError::Cancelled)"),
    ("cooperative", "cooperative"),
    ("name", "name = \"jobs::fetch\""),
    ("occupied", "occupied = wait"),
];

/// A parsed `#[scoped_cancel(...)]` attribute.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) registry: Option<Arg<Expr>>,
    pub(crate) key: Option<Arg<Expr>>,
    pub(crate) parent: Option<Arg<Expr>>,
    /// A flag: a root scope even inside another scope's body.
    pub(crate) detached: Option<Ident>,
    pub(crate) timeout: Option<Arg<Timeout>>,
    pub(crate) token: Option<Arg<Ident>>,
    pub(crate) on_cancel: Option<Arg<Expr>>,
    /// A flag: only the argument's own name.
    pub(crate) cooperative: Option<Ident>,
    pub(crate) name: Option<Arg<LitStr>>,
    pub(crate) occupied: Option<Arg<Occupied>>,
    /// What is wrong with the arguments as written: reported by `valid`
    /// together with what it finds, so one compile shows every mistake.
    pub(crate) errors: Errors,
    /// Accepted names that unknown arguments probably meant: checks about
    /// a missing argument stay quiet for these, so a typo is reported once.
    pub(crate) misspelled: Vec<&'static str>,
}

/// One `name = value` argument; `name` is kept for error spans.
pub(crate) struct Arg<T> {
    pub(crate) name: Ident,
    pub(crate) value: T,
}

/// `timeout = "..."` is checked and converted at compile time; anything else
/// is an expression that must evaluate to a `Duration`.
pub(crate) enum Timeout {
    Literal(LitStr, Parsed),
    Expr(Expr),
}

/// `occupied = ..`: what a call does when its key already has a live scope.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Occupied {
    /// Return `KeyOccupied` at once (the default).
    Refuse,
    /// Take the key; the holder is cancelled with `Superseded`.
    Replace,
    /// Queue until the key is free (first come, first served).
    Wait,
}

/// One argument as written, before its name is interpreted.
struct RawArg {
    name: Ident,
    value: Option<Expr>,
}

impl Parse for RawArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `Ident::parse_any` would also accept keywords; names are plain idents.
        let name: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected an argument name, one of {}", accepted_list()),
            )
        })?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(RawArg { name, value })
    }
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let raw = input.parse_terminated(RawArg::parse, Token![,])?;
        let mut args = Args::default();
        let mut errors = Errors::default();
        for arg in raw {
            args.accept(arg, &mut errors);
        }
        args.errors = errors;
        Ok(args)
    }
}

impl Args {
    /// Interprets one argument, recording what is wrong with it.
    fn accept(&mut self, arg: RawArg, errors: &mut Errors) {
        let RawArg { name, value } = arg;
        let key = name.to_string();
        match key.as_str() {
            "registry" => place(&mut self.registry, name, expr(value), errors),
            "key" => place(&mut self.key, name, expr(value), errors),
            "parent" => place(&mut self.parent, name, expr(value), errors),
            "on_cancel" => place(&mut self.on_cancel, name, expr(value), errors),
            "timeout" => place(
                &mut self.timeout,
                name,
                expr(value).and_then(timeout),
                errors,
            ),
            "token" => place(
                &mut self.token,
                name,
                expr(value).and_then(token_ident),
                errors,
            ),
            "name" => place(
                &mut self.name,
                name,
                expr(value).and_then(name_literal),
                errors,
            ),
            "cooperative" => flag(&mut self.cooperative, name, value, errors),
            "detached" => flag(&mut self.detached, name, value, errors),
            "occupied" => place(
                &mut self.occupied,
                name,
                expr(value).and_then(occupied),
                errors,
            ),
            _ => {
                let meant = meant(&key);
                errors.push(unknown(&name));
                self.misspelled.extend(meant);
            }
        }
    }
}

/// What a value turned out to be: fine, missing, or wrong (with its error).
enum Value<T> {
    Ok(T),
    Missing,
    Wrong(syn::Error),
}

impl Value<Expr> {
    fn and_then<U>(self, f: impl FnOnce(Expr) -> Value<U>) -> Value<U> {
        match self {
            Value::Ok(v) => f(v),
            Value::Missing => Value::Missing,
            Value::Wrong(e) => Value::Wrong(e),
        }
    }
}

fn expr(value: Option<Expr>) -> Value<Expr> {
    value.map_or(Value::Missing, Value::Ok)
}

/// Stores a `name = value` argument unless it is repeated or its value is bad.
fn place<T>(slot: &mut Option<Arg<T>>, name: Ident, value: Value<T>, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(repeated(&name));
        return;
    }
    match value {
        Value::Ok(value) => *slot = Some(Arg { name, value }),
        Value::Missing => {
            let example = ARGUMENTS
                .example(&name.to_string())
                .unwrap_or("name = value");
            errors.push(syn::Error::new(
                name.span(),
                format!("`{name}` needs a value\nhelp: write `{example}`"),
            ));
        }
        Value::Wrong(error) => errors.push(error),
    }
}

/// Stores a flag (a name without a value) unless it is repeated or has one.
fn flag(slot: &mut Option<Ident>, name: Ident, value: Option<Expr>, errors: &mut Errors) {
    match (&slot, value) {
        (Some(_), _) => errors.push(repeated(&name)),
        (None, Some(value)) => errors.push(spanned(
            &value,
            &format!("`{name}` is a flag and takes no value"),
            &format!("write `{name}` alone"),
        )),
        (None, None) => *slot = Some(name),
    }
}

fn timeout(value: Expr) -> Value<Timeout> {
    let lit = match &value {
        Expr::Lit(lit) => &lit.lit,
        _ => return Value::Ok(Timeout::Expr(value)),
    };
    match lit {
        Lit::Str(text) => match duration::parse(&text.value()) {
            Ok(parsed) => Value::Ok(Timeout::Literal(text.clone(), parsed)),
            Err(problem) => Value::Wrong(syn::Error::new(
                text.span(),
                format!(
                    "invalid duration {:?}: {problem}\n{}",
                    text.value(),
                    duration::HELP
                ),
            )),
        },
        Lit::Int(int) => {
            let n = int.base10_digits();
            Value::Wrong(spanned(
                int,
                &format!("`timeout = {n}` has no unit: seconds or milliseconds?"),
                &format!("write `timeout = \"{n}s\"` or `timeout = \"{n}ms\"`"),
            ))
        }
        _ => Value::Wrong(spanned(
            lit,
            "expected a duration",
            "write a literal such as `timeout = \"30s\"`, or a `Duration` expression",
        )),
    }
}

fn occupied(value: Expr) -> Value<Occupied> {
    if let Expr::Path(path) = &value {
        if path.attrs.is_empty() && path.qself.is_none() {
            match path.path.get_ident().map(Ident::to_string).as_deref() {
                Some("refuse") => return Value::Ok(Occupied::Refuse),
                Some("replace") => return Value::Ok(Occupied::Replace),
                Some("wait") => return Value::Ok(Occupied::Wait),
                _ => {}
            }
        }
    }
    Value::Wrong(spanned(
        &value,
        "unknown `occupied` value: expected one of `refuse`, `replace`, `wait`",
        "`refuse` (the default) returns `KeyOccupied` at once; `replace` takes the key \
         and cancels its holder with `Superseded`; `wait` queues until the key is free",
    ))
}

fn token_ident(value: Expr) -> Value<Ident> {
    if let Expr::Path(path) = &value {
        if path.attrs.is_empty() && path.qself.is_none() {
            if let Some(ident) = path.path.get_ident() {
                return Value::Ok(ident.clone());
            }
        }
    }
    Value::Wrong(spanned(
        &value,
        "`token` binds a name, so its value must be a plain identifier",
        "write e.g. `token = token`, then use `token` inside the body",
    ))
}

fn name_literal(value: Expr) -> Value<LitStr> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(text),
        ..
    }) = &value
    {
        if text.value().is_empty() {
            return Value::Wrong(spanned(
                text,
                "the scope's name must not be empty",
                "leave `name` out to use the fn's path",
            ));
        }
        return Value::Ok(text.clone());
    }
    Value::Wrong(spanned(
        &value,
        "`name` must be a string literal",
        "write e.g. `name = \"jobs::fetch\"`",
    ))
}

fn spanned(tokens: impl quote::ToTokens, message: &str, help: &str) -> syn::Error {
    syn::Error::new_spanned(tokens, format!("{message}\nhelp: {help}"))
}

fn repeated(name: &Ident) -> syn::Error {
    crate::names::repeated(name.span(), name)
}

/// Names users reach for that mean an accepted argument.
const SYNONYMS: [(&str, &str); 5] = [
    ("root", "detached"),
    ("deadline", "timeout"),
    ("label", "name"),
    ("parent_token", "parent"),
    ("cancel_token", "token"),
];

/// What `#[scoped_cancel]` accepts, for error messages.
const ARGUMENTS: Accepted = Accepted {
    names: &ACCEPTED,
    synonyms: &SYNONYMS,
};

/// The accepted argument an unknown name most likely meant, if any.
fn meant(text: &str) -> Option<&'static str> {
    ARGUMENTS.meant(text)
}

fn unknown(name: &Ident) -> syn::Error {
    ARGUMENTS.unknown(name.span(), name, &name.to_string())
}

fn accepted_list() -> String {
    ARGUMENTS.list()
}
