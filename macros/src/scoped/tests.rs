//! The pipeline on inputs a user may type: it never panics, it reports
//! malformed input as errors next to the unchanged item, and a valid fn's
//! body appears exactly once in the output.

use proc_macro2::TokenStream;

fn run(args: &str, item: &str) -> String {
    let args: TokenStream = args.parse().unwrap_or_default();
    let item: TokenStream = item.parse().unwrap_or_default();
    super::expand(args, item).to_string()
}

const ASYNC_FN: &str =
    "async fn job(id: u64) -> Result<u64, E> { let marker_7f3a = id; Ok(marker_7f3a) }";

#[test]
fn malformed_input_gives_errors_and_the_item_unchanged() {
    let cases: &[(&str, &str)] = &[
        ("= 5", ASYNC_FN),
        ("key =", ASYNC_FN),
        ("key = , registry = R", ASYNC_FN),
        (",", ASYNC_FN),
        ("a b c", ASYNC_FN),
        ("registry = R key = id", ASYNC_FN),
        ("timeout = \"\u{1F600}s\"", ASYNC_FN),
        (
            "timeout = \"340282366920938463463374607431768211456ns\"",
            ASYNC_FN,
        ),
        ("token = 5", ASYNC_FN),
        ("name = b\"bytes\"", ASYNC_FN),
        ("cooperative, cooperative = 1", ASYNC_FN),
        ("detached, parent = p", ASYNC_FN),
        ("detached = true", ASYNC_FN),
        ("self = 1", ASYNC_FN),
        ("", "fn job() {}"),
        ("", "struct S;"),
        ("", ""),
        ("", "async fn"),
        ("", "async fn job("),
        ("", "async fn job();"),
        ("", "pub extern \"C\" fn job() {}"),
        (
            "",
            "fn boxed() -> Pin<Box<dyn Future<Output = ()> + Send>> { Box::pin(work()) }",
        ),
        (
            "",
            "fn boxed() -> Pin<Box<dyn Future<Output = ()> + Send>> { }",
        ),
        ("", "fn odd<'async_trait>() -> u8 { 1 }"),
        (
            "",
            "fn weird() -> Pin<Box<dyn Future<Output> + Send>> { Box::pin(async move {}) }",
        ),
    ];
    for (args, item) in cases {
        let out = run(args, item);
        assert!(
            out.contains("compile_error"),
            "no error for ({args}) {item}: {out}"
        );
        let marker_count = out.matches("marker_7f3a").count();
        if item.contains("marker_7f3a") {
            assert_eq!(
                marker_count, 2,
                "item not emitted unchanged for ({args}): {out}"
            );
        }
    }
}

#[test]
fn a_valid_fn_keeps_its_signature_and_emits_its_body_once() {
    let out = run(
        "registry = JOBS, key = id, timeout = \"1m30s\", token = t",
        ASYNC_FN,
    );
    assert!(!out.contains("compile_error"), "{out}");
    assert!(
        out.starts_with("async fn job (id : u64) -> Result < u64 , E >"),
        "{out}"
    );
    assert_eq!(out.matches("let marker_7f3a").count(), 1, "{out}");
    assert!(
        out.contains(":: scoped_cancel :: __private :: enter"),
        "{out}"
    );
    assert!(out.contains("StdDuration :: new (90u64 , 0u32)"), "{out}");
}

#[test]
fn an_async_trait_body_is_wrapped_inside_the_box() {
    let item = "fn load<'life0, 'async_trait>(&'life0 self, id: u64) \
        -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Option<u8>> + ::core::marker::Send + 'async_trait>> \
        where 'life0: 'async_trait, Self: 'async_trait \
        { Box::pin(async move { let id = id; let __ret: Option<u8> = { Some(1) }; __ret }) }";
    let out = run("registry = self.jobs, key = id", item);
    assert!(!out.contains("compile_error"), "{out}");
    // The scope is entered inside the boxed future, after `Box::pin(async move {`.
    let boxed = out.find("Box :: pin (async move {").unwrap_or(usize::MAX);
    let enter = out.find("__private :: enter").unwrap_or(0);
    assert!(boxed < enter, "{out}");
    // The rebinding that only the key uses is not reported as unused.
    assert!(
        out.contains("# [allow (unused_variables)] let id = id ;"),
        "{out}"
    );
}
