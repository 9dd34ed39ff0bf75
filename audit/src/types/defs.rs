//! Collects a crate's structs, enums, unions, type aliases, and the types
//! whose `Drop` cancels.

use super::{params_of, Alias, Crate, TypeDef};
use syn::visit::Visit;
use syn::{Fields, Generics, Type};

/// Collects the crate's structs, enums, unions and type aliases.
pub(super) struct Defs<'k, 'a> {
    pub(super) file: usize,
    pub(super) krate: &'k mut Crate<'a>,
}

impl<'k, 'a> Defs<'k, 'a> {
    fn add_type(&mut self, name: String, generics: &Generics, fields: Vec<&'a Type>) {
        self.krate.types.entry(name).or_default().push(TypeDef {
            file: self.file,
            params: params_of(generics),
            fields,
        });
    }
}

fn field_types(fields: &Fields) -> impl Iterator<Item = &Type> {
    fields.iter().map(|f| &f.ty)
}

impl<'k, 'a> Visit<'a> for Defs<'k, 'a> {
    fn visit_item_struct(&mut self, node: &'a syn::ItemStruct) {
        for f in &node.fields {
            if let Some(name) = &f.ident {
                let mut named = super::Named::default();
                named.visit_type(&f.ty);
                self.krate
                    .field_types
                    .entry(name.to_string())
                    .or_default()
                    .extend(named.0);
            }
        }
        let fields = field_types(&node.fields).collect();
        self.add_type(node.ident.to_string(), &node.generics, fields);
        syn::visit::visit_item_struct(self, node);
    }

    fn visit_item_enum(&mut self, node: &'a syn::ItemEnum) {
        let fields = node
            .variants
            .iter()
            .flat_map(|v| field_types(&v.fields))
            .collect();
        self.add_type(node.ident.to_string(), &node.generics, fields);
        syn::visit::visit_item_enum(self, node);
    }

    fn visit_item_union(&mut self, node: &'a syn::ItemUnion) {
        let fields = node.fields.named.iter().map(|f| &f.ty).collect();
        self.add_type(node.ident.to_string(), &node.generics, fields);
        syn::visit::visit_item_union(self, node);
    }

    fn visit_item_type(&mut self, node: &'a syn::ItemType) {
        self.krate
            .aliases
            .entry(node.ident.to_string())
            .or_default()
            .push(Alias {
                file: self.file,
                params: params_of(&node.generics),
                ty: &node.ty,
            });
    }

    fn visit_item_impl(&mut self, node: &'a syn::ItemImpl) {
        let is_drop = node
            .trait_
            .as_ref()
            .and_then(|(path, _)| path.segments.last())
            .is_some_and(|s| s.ident == "Drop");
        if let (true, Type::Path(tp)) = (is_drop, &*node.self_ty) {
            let mut calls = CancelCalls(false);
            for item in &node.items {
                calls.visit_impl_item(item);
            }
            if let (true, Some(seg)) = (calls.0, tp.path.segments.last()) {
                self.krate.cancel_guards.insert(seg.ident.to_string());
            }
        }
        syn::visit::visit_item_impl(self, node);
    }

    // Expressions hold no type definitions worth the walk, except in blocks.
    fn visit_expr(&mut self, node: &'a syn::Expr) {
        if let syn::Expr::Block(_) | syn::Expr::Async(_) | syn::Expr::Closure(_) = node {
            syn::visit::visit_expr(self, node);
        }
    }
}

/// Whether a `drop` calls a `cancel*` method.
struct CancelCalls(bool);

impl<'a> Visit<'a> for CancelCalls {
    fn visit_expr_method_call(&mut self, node: &'a syn::ExprMethodCall) {
        if node.method.to_string().starts_with("cancel") {
            self.0 = true;
        }
        syn::visit::visit_expr_method_call(self, node);
    }
}
