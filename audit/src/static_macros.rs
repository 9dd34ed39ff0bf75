//! The statics declared inside `lazy_static!` and `thread_local!` bodies.
//!
//! syn leaves macro bodies as raw tokens; these two macros hold the shared
//! state the audit looks for, so their `static [ref] NAME: Type = ...;` lines
//! are parsed here. Initializers are skipped, not parsed: they may be
//! `const { .. }` blocks or anything else the macro accepts.

use proc_macro2::TokenTree;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, Macro, Token, Type, Visibility};

/// One `static` of a macro body.
pub struct MacroStatic {
    pub ident: Ident,
    pub ty: Type,
}

/// The statics of `mac` when it is a `lazy_static!` or a `thread_local!`;
/// `None` for any other macro, or a body this parser does not understand.
pub fn statics_in(mac: &Macro) -> Option<Vec<MacroStatic>> {
    let name = mac.path.segments.last()?.ident.to_string();
    if name != "lazy_static" && name != "thread_local" {
        return None;
    }
    parse_body.parse2(mac.tokens.clone()).ok()
}

fn parse_body(input: ParseStream) -> syn::Result<Vec<MacroStatic>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        input.call(Attribute::parse_outer)?;
        let _: Visibility = input.parse()?;
        input.parse::<Token![static]>()?;
        if input.peek(Token![ref]) {
            input.parse::<Token![ref]>()?;
        }
        let ident: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty: Type = input.parse()?;
        input.parse::<Token![=]>()?;
        while !input.is_empty() && !input.peek(Token![;]) {
            input.parse::<TokenTree>()?;
        }
        if !input.is_empty() {
            input.parse::<Token![;]>()?;
        }
        out.push(MacroStatic { ident, ty });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Option<Vec<String>> {
        let mac: Macro = syn::parse_str(src).unwrap();
        statics_in(&mac).map(|v| v.iter().map(|s| s.ident.to_string()).collect())
    }

    #[test]
    fn lazy_static_and_thread_local_bodies() {
        assert_eq!(
            names(
                "lazy_static! {
                    /// docs
                    pub static ref JOBS: Mutex<HashMap<u64, CancellationToken>> = Mutex::new(HashMap::new());
                    static ref OTHER: u8 = 1;
                }"
            ),
            Some(vec!["JOBS".into(), "OTHER".into()])
        );
        assert_eq!(
            names(
                "thread_local! {
                    static A: RefCell<Vec<CancellationToken>> = const { RefCell::new(Vec::new()) };
                    pub(crate) static B: Cell<u8> = Cell::new(0)
                }"
            ),
            Some(vec!["A".into(), "B".into()])
        );
        assert_eq!(names("vec![1, 2]"), None);
        assert_eq!(names("thread_local!(not a static)"), None);
    }
}
