//! The rules. `collection` runs first over every file of a crate: the
//! names it finds declared (fields, statics, fns returning a token
//! collection) are what `insert` looks for in receivers. `temp_scope`
//! stands alone: it needs no names from other files.

mod body;
pub(crate) mod collection;
pub(crate) mod guards;
pub(crate) mod insert;
mod temp_scope;
mod wrappers;

use crate::diag::Finding;
use crate::types::Crate;
use std::collections::{HashMap, HashSet};

/// Names declared across a crate.
#[derive(Default, Debug)]
pub struct Decls {
    /// Fields, statics and fns whose type is a collection of tokens, with
    /// the key type when it is a map (for the help text).
    pub token: HashMap<String, Option<String>>,
    /// Fields and statics of other types: a name in both sets is ambiguous,
    /// and an insert into it counts only when the value looks like a token.
    pub plain: HashSet<String>,
}

/// Runs every rule over a crate's files.
pub fn check(krate: &Crate) -> Vec<Finding> {
    let mut decls = Decls::default();
    let mut found = Vec::new();
    for file in 0..krate.files.len() {
        collection::check(krate, file, &mut decls, &mut found);
    }
    let guards = guards::guards(krate);
    let mut fns = Vec::new();
    for file in 0..krate.files.len() {
        insert::collect_fns(krate, file, &mut fns);
    }
    let wrapped = insert::check(krate, &fns, &decls, &guards, &mut found);
    wrappers::check(krate, &fns, &wrapped, &decls, &guards, &mut found);
    for file in krate.files {
        temp_scope::check(file, &mut found);
    }
    found
}
