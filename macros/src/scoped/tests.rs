//! The pipeline on inputs a user may type: it never panics, it reports
//! malformed input as errors followed by the item exactly as written
//! (compared token for token), and a valid fn's body appears exactly once
//! in the output.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// [`expand`], as text.
fn run(args: &str, item: &str) -> String {
    expand(args, item).to_string()
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
        ("registry = R, key = id, occupied = queue", ASYNC_FN),
        ("registry = R, key = id, occupied = \"wait\"", ASYNC_FN),
        ("registry = R, key = id, occupied", ASYNC_FN),
        ("occupied = wait", ASYNC_FN),
        (
            "registry = R, key = id, occupied = wait, occupied = wait",
            ASYNC_FN,
        ),
        ("", "fn job() {}"),
        ("", "struct S;"),
        ("", ""),
        ("", "async fn"),
        ("", "async fn job(id: u64)"),
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
        let out = expand(args, item);
        let (errors, rest) = split_errors(out.clone());
        assert!(errors > 0, "no error for ({args}) {item}: {out}");
        let item: TokenStream = item.parse().expect("tokenizes");
        assert_eq!(
            rest.to_string(),
            item.to_string(),
            "item not emitted unchanged for ({args}): {out}"
        );
    }
}

/// Splits an expansion into its leading `::core::compile_error! { .. }`
/// invocations (counted) and what follows them.
fn split_errors(out: TokenStream) -> (usize, TokenStream) {
    let tokens: Vec<TokenTree> = out.into_iter().collect();
    let mut at = 0;
    let mut errors = 0;
    // `:: core :: compile_error ! { "..." }`: two puncts, an ident, two
    // puncts, an ident, a `!`, a braced group.
    while let Some(invocation) = tokens.get(at..at + 8) {
        let text: Vec<String> = invocation[..7].iter().map(|t| t.to_string()).collect();
        let is_error = text == [":", ":", "core", ":", ":", "compile_error", "!"]
            && matches!(&invocation[7], TokenTree::Group(g) if g.delimiter() == Delimiter::Brace);
        if !is_error {
            break;
        }
        errors += 1;
        at += 8;
    }
    (errors, tokens[at..].iter().cloned().collect())
}

/// Expands `args` and `item`, which must tokenize: a proc macro only ever
/// sees token streams, so untokenizable text is a mistake in the test.
fn expand(args: &str, item: &str) -> TokenStream {
    let args: TokenStream = args
        .parse()
        .unwrap_or_else(|e| panic!("test args {args:?} do not tokenize: {e}"));
    let item: TokenStream = item
        .parse()
        .unwrap_or_else(|e| panic!("test item {item:?} does not tokenize: {e}"));
    super::expand(args, item)
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

#[test]
fn each_occupied_value_picks_its_entry_point() {
    let entry = |occupied: &str| {
        let out = run(&format!("registry = JOBS, key = id{occupied}"), ASYNC_FN);
        assert!(!out.contains("compile_error"), "{out}");
        out
    };
    let refuse = entry("");
    assert!(refuse.contains("__private :: enter (&"), "{refuse}");
    assert_eq!(refuse, entry(", occupied = refuse"));
    let replace = entry(", occupied = replace");
    assert!(
        replace.contains("__private :: enter_replacing (&"),
        "{replace}"
    );
    let wait = entry(", occupied = wait, timeout = limit");
    // The timeout is evaluated before the wait, which it covers.
    let timeout = wait.find("= limit").unwrap_or(usize::MAX);
    let enter = wait.find("__private :: enter_waiting (&").unwrap_or(0);
    assert!(timeout < enter, "{wait}");
    assert!(wait.contains(". await"), "{wait}");
}
