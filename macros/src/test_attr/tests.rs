//! Expansion and error messages, checked on token streams.

use proc_macro2::TokenStream;
use quote::quote;

fn expand(args: TokenStream, item: TokenStream) -> String {
    super::expand(args, item).to_string()
}

fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
    let out = super::expand(args, item);
    let file: syn::File = match syn::parse2(out) {
        Ok(file) => file,
        Err(error) => panic!("the output does not parse: {error}"),
    };
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(mac)
                if mac.mac.path.is_ident("compile_error")
                    || mac
                        .mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "compile_error") =>
            {
                syn::parse2::<syn::LitStr>(mac.mac.tokens.clone())
                    .ok()
                    .map(|lit| lit.value())
            }
            _ => None,
        })
        .collect()
}

fn item() -> TokenStream {
    quote! { async fn my_test() { work().await; } }
}

#[test]
fn expands_to_a_plain_test_fn_on_the_private_runner() {
    let out = expand(
        quote!(flavor = "multi_thread", worker_threads = 3, grace = "250ms"),
        quote! {
            #[should_panic(expected = "x")]
            pub async fn my_test() -> Result<(), String> { Ok(()) }
        },
    );
    assert!(
        out.starts_with("# [:: core :: prelude :: v1 :: test]"),
        "{out}"
    );
    assert!(out.contains("# [should_panic (expected = \"x\")]"), "{out}");
    assert!(
        out.contains("pub fn my_test () -> Result < () , String >"),
        "{out}"
    );
    assert!(!out.contains("async fn"), "{out}");
    assert!(out.contains(":: scoped_cancel :: __private :: testing :: Test :: new (:: scoped_cancel :: __private :: tokio :: runtime :: Builder :: new_multi_thread () ,)"));
    assert!(out.contains(". worker_threads (3)"), "{out}");
    assert!(out.contains(". grace_nanos (250000000)"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn defaults_to_current_thread_and_the_default_grace() {
    let out = expand(TokenStream::new(), item());
    assert!(out.contains("Test :: current_thread ()"), "{out}");
    assert!(!out.contains("grace_nanos"), "{out}");
    assert!(!out.contains("worker_threads"), "{out}");
}

#[test]
fn errors_keep_the_original_item() {
    let out = expand(quote!(flavour = "multi_thread"), item());
    assert!(out.starts_with(":: core :: compile_error !"), "{out}");
    assert!(out.contains("async fn my_test ()"), "{out}");
    assert!(!out.contains("prelude :: v1 :: test"), "{out}");
}

#[test]
fn reports_every_argument_error_at_once() {
    let found = errors(
        quote!(
            flavour = "x",
            grace = "10",
            grace = "1s",
            start_paused = true,
            worker_threads
        ),
        item(),
    );
    assert_eq!(found.len(), 5, "{found:#?}");
    assert_eq!(
        found[0],
        "unknown argument `flavour`\nhelp: did you mean `flavor`? \
         expected one of `flavor`, `worker_threads`, `grace`, `timeout`"
    );
    assert!(found[1].starts_with("`grace` is given more than once"));
    assert!(found[2].starts_with("`start_paused` is not supported here"));
    assert_eq!(
        found[3],
        "`worker_threads` needs a value\nhelp: write `worker_threads = 2`"
    );
    // The values of the recognised arguments are checked in the same pass.
    assert!(found[4].contains("has no unit"), "{found:#?}");
}

#[test]
fn validates_values() {
    let found = errors(
        quote!(flavor = "threaded", grace = "10", worker_threads = 0),
        item(),
    );
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("\"current_thread\"") && found[0].contains("\"multi_thread\""));
    assert!(found[1].contains("above 0"), "{found:#?}");
    assert!(found[2].contains("has no unit"), "{found:#?}");
}

#[test]
fn timeout_is_an_argument_of_its_own_apart_from_grace() {
    let out = expand(quote!(timeout = "5s", grace = "250ms"), item()).to_string();
    assert!(out.contains(". timeout_nanos (5000000000)"), "{out}");
    assert!(out.contains(". grace_nanos (250000000)"), "{out}");
    let found = errors(quote!(timeout = "5", deadline = "1s"), item());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("unknown argument `deadline`\nhelp: did you mean `timeout`?"),
        "{found:#?}"
    );
    assert!(found[1].contains("has no unit"), "{found:#?}");
}

#[test]
fn worker_threads_needs_the_multi_thread_flavor() {
    let found = errors(quote!(worker_threads = 2), item());
    assert_eq!(found.len(), 1);
    assert!(
        found[0].contains("add `flavor = \"multi_thread\"`"),
        "{found:#?}"
    );
    let found = errors(
        quote!(flavor = "current_thread", worker_threads = 2),
        item(),
    );
    assert_eq!(found.len(), 1);
}

#[test]
fn rejects_fns_that_cannot_be_tests() {
    let found = errors(
        TokenStream::new(),
        quote! {
            #[test]
            fn not_async<T>(x: T) {}
        },
    );
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].contains("`async` keyword is missing"));
    assert!(found[1].contains("cannot be generic"));
    assert!(found[2].contains("takes no arguments"));
    assert!(found[3].contains("a second test attribute"));
}

#[test]
fn argument_and_fn_errors_are_combined() {
    let found = errors(
        quote!(grace = "5sec"),
        quote!(
            fn f() {}
        ),
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("`sec` is not a unit"), "{found:#?}");
    assert!(found[1].contains("`async` keyword is missing"));
}

#[test]
fn a_bodyless_item_is_an_error_not_a_panic() {
    let out = expand(
        TokenStream::new(),
        quote!(
            struct S;
        ),
    );
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("struct S"), "{out}");
    assert!(
        out.contains("`#[scoped_cancel::test]` goes on an `async fn`"),
        "{out}"
    );
}
