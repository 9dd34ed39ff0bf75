//! Test code is not production: `#[cfg(test)]` items, `#[test]` fns (and
//! `#[tokio::test]` and the like) and files under a crate's `tests/`
//! directory are left out unless `--include-tests` asks for them. A token
//! kept in a map for the length of one test leaks nothing a user runs.

use crate::source::Parsed;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Attribute, ImplItem, Item, Meta, Stmt, TraitItem};

/// Whether `rel` (a path relative to its crate's root, or a path with no
/// known crate) lies in a `tests` directory. With a crate root the test
/// directory must be the crate's own (`tests/..`), so that a workspace
/// member that happens to be named `tests` is still production code.
pub fn is_test_path(rel: &Path, relative_to_crate: bool) -> bool {
    let mut dirs = rel.parent().into_iter().flat_map(Path::components);
    if relative_to_crate {
        matches!(dirs.next(), Some(Component::Normal(d)) if d == "tests")
    } else {
        dirs.any(|c| matches!(c, Component::Normal(d) if d == "tests"))
    }
}

/// The files that `#[cfg(test)] mod name;` declarations make test code:
/// `name.rs` or `name/mod.rs` beside a `lib.rs`, `main.rs` or `mod.rs`, or in
/// the directory named after any other file.
pub fn out_of_line_test_mods(files: &[Parsed]) -> HashSet<PathBuf> {
    let mut out = HashSet::new();
    for file in files {
        let path = Path::new(&file.src.display);
        let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else {
            continue;
        };
        let base = if stem == "lib" || stem == "main" || stem == "mod" {
            dir.to_path_buf()
        } else {
            dir.join(stem)
        };
        let mut mods = TestMods(Vec::new());
        mods.visit_file(&file.ast);
        for name in mods.0 {
            out.insert(base.join(format!("{name}.rs")));
            out.insert(base.join(&name).join("mod.rs"));
        }
    }
    out
}

/// Names of `#[cfg(test)] mod name;` at a file's top level.
struct TestMods(Vec<String>);

impl<'a> Visit<'a> for TestMods {
    fn visit_file(&mut self, node: &'a syn::File) {
        for item in &node.items {
            if let Item::Mod(m) = item {
                if m.content.is_none() && is_test(&m.attrs) {
                    self.0.push(m.ident.to_string());
                }
            }
        }
    }
}

/// Removes test items from a parsed file.
pub fn strip(file: &mut syn::File) {
    Strip.visit_file_mut(file);
}

struct Strip;

impl VisitMut for Strip {
    fn visit_file_mut(&mut self, node: &mut syn::File) {
        node.items.retain(|i| !is_test_item(i));
        syn::visit_mut::visit_file_mut(self, node);
    }

    fn visit_item_mod_mut(&mut self, node: &mut syn::ItemMod) {
        if let Some((_, items)) = &mut node.content {
            items.retain(|i| !is_test_item(i));
        }
        syn::visit_mut::visit_item_mod_mut(self, node);
    }

    fn visit_item_impl_mut(&mut self, node: &mut syn::ItemImpl) {
        node.items.retain(|i| match i {
            ImplItem::Fn(f) => !is_test(&f.attrs),
            ImplItem::Const(c) => !is_test(&c.attrs),
            ImplItem::Type(t) => !is_test(&t.attrs),
            _ => true,
        });
        syn::visit_mut::visit_item_impl_mut(self, node);
    }

    fn visit_item_trait_mut(&mut self, node: &mut syn::ItemTrait) {
        node.items.retain(|i| match i {
            TraitItem::Fn(f) => !is_test(&f.attrs),
            _ => true,
        });
        syn::visit_mut::visit_item_trait_mut(self, node);
    }

    fn visit_block_mut(&mut self, node: &mut syn::Block) {
        node.stmts.retain(|s| match s {
            Stmt::Item(i) => !is_test_item(i),
            _ => true,
        });
        syn::visit_mut::visit_block_mut(self, node);
    }

    // Expressions hold no items outside blocks, which are visited above.
    fn visit_expr_mut(&mut self, node: &mut syn::Expr) {
        if let syn::Expr::Block(_) | syn::Expr::Async(_) | syn::Expr::Closure(_) = node {
            syn::visit_mut::visit_expr_mut(self, node);
        }
    }
}

fn is_test_item(item: &Item) -> bool {
    let attrs = match item {
        Item::Fn(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Const(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        _ => return false,
    };
    is_test(attrs)
}

/// `#[cfg(test)]` (also inside `all(..)`), or a test attribute
/// (`#[test]`, `#[tokio::test]`, `#[rstest]` ..: a path ending in `test`).
fn is_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        if path.is_ident("cfg") {
            return match &a.meta {
                Meta::List(list) => list.parse_args::<Meta>().is_ok_and(|m| cfg_test(&m)),
                _ => false,
            };
        }
        path.segments
            .last()
            .is_some_and(|s| s.ident == "test" || s.ident == "rstest")
    })
}

/// Whether a cfg predicate holds only in test builds.
fn cfg_test(meta: &Meta) -> bool {
    match meta {
        Meta::Path(p) => p.is_ident("test"),
        Meta::List(list) => {
            let Ok(args) = list.parse_args_with(
                syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
            ) else {
                return false;
            };
            if list.path.is_ident("all") {
                args.iter().any(cfg_test)
            } else if list.path.is_ident("any") {
                !args.is_empty() && args.iter().all(cfg_test)
            } else {
                false
            }
        }
        Meta::NameValue(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote_free::names;

    /// Item names left after stripping (no `quote` dependency needed).
    mod quote_free {
        pub fn names(file: &syn::File) -> Vec<String> {
            let mut out = Vec::new();
            for item in &file.items {
                match item {
                    syn::Item::Fn(f) => out.push(f.sig.ident.to_string()),
                    syn::Item::Mod(m) => out.push(m.ident.to_string()),
                    syn::Item::Impl(i) => {
                        for it in &i.items {
                            if let syn::ImplItem::Fn(f) = it {
                                out.push(format!("impl.{}", f.sig.ident));
                            }
                        }
                    }
                    _ => {}
                }
            }
            out
        }
    }

    #[test]
    fn strips_cfg_test_and_test_fns_only() {
        let mut file: syn::File = syn::parse_str(
            "#[cfg(test)] mod tests {}
             #[cfg(all(test, feature = \"x\"))] fn a() {}
             #[cfg(not(test))] fn b() {}
             #[cfg(any(test, feature = \"x\"))] fn c() {}
             #[test] fn d() {}
             #[tokio::test] async fn e() {}
             fn f() {}
             impl S { #[cfg(test)] fn g() {} fn h() {} }",
        )
        .unwrap();
        strip(&mut file);
        assert_eq!(names(&file), ["b", "c", "f", "impl.h"]);
    }

    #[test]
    fn test_directories() {
        assert!(is_test_path(Path::new("tests/it.rs"), true));
        assert!(is_test_path(Path::new("tests/common/mod.rs"), true));
        assert!(!is_test_path(Path::new("src/tests.rs"), true));
        assert!(!is_test_path(Path::new("src/tests/mod.rs"), true));
        assert!(is_test_path(Path::new("x/tests/a.rs"), false));
        assert!(!is_test_path(Path::new("tests.rs"), false));
    }
}
