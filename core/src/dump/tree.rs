//! The dump's tree: each scope under its parent, oldest first.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{TREE_DEPTH, TREE_ROWS};
use crate::cause::Cause;
use crate::facts::{write_state, Facts};

/// One scope in the tree, at its depth (0 for a root: a scope whose parent
/// is not in the dump).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TreeRow {
    pub(super) depth: usize,
    pub(super) name: String,
    pub(super) file: String,
    pub(super) line: u32,
    pub(super) key: Option<String>,
    pub(super) age: Duration,
    pub(super) cause: Option<Cause>,
    pub(super) reason: Option<Arc<str>>,
    pub(super) shield: bool,
}

/// The scopes in tree order (depth first, oldest first among siblings),
/// at most [`TREE_ROWS`] of them and [`TREE_DEPTH`] deep, and how many were
/// left out. Iterative: a deep chain cannot overflow the stack.
pub(super) fn draw(scopes: &[(Option<String>, Facts)]) -> (Vec<TreeRow>, usize) {
    let index: HashMap<usize, usize> = scopes
        .iter()
        .enumerate()
        .map(|(i, (_, facts))| (facts.id, i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, (_, facts)) in scopes.iter().enumerate() {
        match facts.parent.filter(|parent| index.contains_key(parent)) {
            Some(parent) => children.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }
    let oldest_first = |list: &mut Vec<usize>| {
        list.sort_by(|&a, &b| {
            let (a, b) = (&scopes[a].1, &scopes[b].1);
            b.age.cmp(&a.age).then_with(|| a.name.cmp(b.name))
        });
    };
    oldest_first(&mut roots);
    for list in children.values_mut() {
        oldest_first(list);
    }
    let mut rows = Vec::new();
    // Reversed, so that popping takes them in order.
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if rows.len() == TREE_ROWS || depth >= TREE_DEPTH {
            continue;
        }
        let (key, facts) = &scopes[i];
        rows.push(TreeRow {
            depth,
            name: facts.name.to_owned(),
            file: facts.file.to_owned(),
            line: facts.line,
            key: key.clone(),
            age: facts.age,
            cause: facts.cause,
            reason: facts.reason.clone(),
            shield: facts.shield,
        });
        if let Some(list) = children.get(&facts.id) {
            stack.extend(list.iter().rev().map(|&child| (child, depth + 1)));
        }
    }
    let unlisted = scopes.len() - rows.len();
    (rows, unlisted)
}

/// `scope tree:` and one indented line per scope.
pub(super) fn write_text(
    f: &mut fmt::Formatter<'_>,
    rows: &[TreeRow],
    unlisted: usize,
) -> fmt::Result {
    if rows.is_empty() {
        return Ok(());
    }
    f.write_str("\n\nscope tree:")?;
    for row in rows {
        write!(f, "\n{:indent$}- {}", "", row.name, indent = 2 * row.depth)?;
        if let Some(key) = &row.key {
            write!(f, " (key {key})")?;
        }
        if row.shield {
            f.write_str(" [shield]")?;
        }
        write!(f, " at {}:{}, age {:.1?}, ", row.file, row.line, row.age)?;
        write_state(f, row.cause, row.reason.as_deref())?;
    }
    if unlisted > 0 {
        write!(
            f,
            "\n... and {unlisted} more (over {TREE_ROWS} scopes or {TREE_DEPTH} deep)"
        )?;
    }
    Ok(())
}
