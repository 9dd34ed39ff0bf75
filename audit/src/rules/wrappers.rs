//! Registry wrappers: a fn that stores a token (`register`, `begin`,
//! `create_token`) whose removal lives only in another fn of the crate
//! (`unregister`, `cancel`, `finish`). The pair is only as good as its
//! callers, so the callers in the scanned code are followed:
//!
//! - a caller that calls a remover after the wrapper on every exit, or that
//!   builds a guard whose `Drop` removes, is fine;
//! - any other caller is reported where it calls the wrapper, naming the
//!   wrapper and the removers;
//! - a wrapper with no caller in the scanned code (a library's API) is
//!   reported at its insert, naming the removers;
//! - a wrapper that builds the removing guard itself (returns it) is fine.

use super::body::CallSite;
use super::guards::Guards;
use super::insert::{exit_between, insert_finding, FnSite, Wrapped};
use super::Decls;
use crate::diag::{Finding, Rule};
use crate::types::Crate;
use std::collections::{HashMap, HashSet};
use syn::Expr;

/// Method names too common to stand for a crate fn when the receiver's
/// type is unknown.
const COMMON: &[&str] = &[
    "new", "insert", "remove", "get", "push", "pop", "clear", "take", "send", "run", "start",
    "stop", "add", "set", "register", "cancel", "with", "update", "call", "spawn",
];

/// Reports the wrappers among `wrapped` that no caller pairs with a remover.
pub(super) fn check<'a>(
    krate: &Crate<'a>,
    fns: &[FnSite<'a>],
    wrapped: &[Wrapped],
    decls: &Decls,
    guards: &Guards,
    out: &mut Vec<Finding>,
) {
    if wrapped.is_empty() {
        return;
    }
    let removers = Removers::new(fns);
    let names: HashMap<&str, usize> = fns.iter().fold(HashMap::new(), |mut m, f| {
        *m.entry(f.name.as_str()).or_default() += 1;
        m
    });
    // Call sites by name: each wrapper looks at the calls of its name only.
    let mut by_name: HashMap<&str, Vec<(usize, &CallSite)>> = HashMap::new();
    for (i, f) in fns.iter().enumerate() {
        for c in &f.body.call_sites {
            by_name.entry(c.name.as_str()).or_default().push((i, c));
        }
    }
    for w in wrapped {
        let wrapper = &fns[w.fn_index];
        let ins = &wrapper.body.inserts[w.insert];
        let root = ins.root.as_str();
        let guard_types = guards.removing(root);
        // It builds (and so hands back) the guard that removes the entry.
        if wrapper
            .body
            .builds
            .iter()
            .any(|(t, _)| guard_types.contains(t))
        {
            continue;
        }
        let remover_fns: Vec<usize> = removers
            .of(root)
            .iter()
            .copied()
            .filter(|&i| i != w.fn_index)
            .collect();
        let callers: Vec<(usize, &CallSite)> = if remover_fns.is_empty() && guard_types.is_empty() {
            Vec::new()
        } else {
            by_name
                .get(wrapper.name.as_str())
                .into_iter()
                .flatten()
                .filter(|(i, c)| *i != w.fn_index && calls(krate, &fns[*i], c, wrapper, &names))
                .copied()
                .collect()
        };
        // Named in messages: those that remove themselves, not their callers.
        let direct: Vec<usize> = remover_fns
            .iter()
            .copied()
            .filter(|&i| fns[i].body.removals.iter().any(|r| r.root == root))
            .collect();
        let named = if direct.is_empty() {
            &remover_fns
        } else {
            &direct
        };
        if callers.is_empty() {
            let list = remover_list(fns, named, guard_types, None);
            let message = if list.is_empty() {
                format!(
                    "the cancellation token stored in `{root}` here is not removed by this fn, \
                     nor by any other fn of the scanned code: the entry and its token stay for \
                     good"
                )
            } else {
                format!(
                    "the cancellation token stored in `{root}` here is not removed by this fn \
                     but only by {list}: a caller of `{}` that returns early, panics or is \
                     dropped before that leaves the entry and its token behind",
                    wrapper.name
                )
            };
            let parsed = &krate.files[wrapper.file];
            out.push(insert_finding(parsed, wrapper, ins, decls, message));
            continue;
        }
        let remover_names: HashSet<&str> =
            remover_fns.iter().map(|&i| fns[i].name.as_str()).collect();
        for (ci, call) in callers {
            let caller = &fns[ci];
            let Some(problem) = unpaired(caller, call, root, &remover_names, guard_types) else {
                continue;
            };
            let list = remover_list(fns, named, guard_types, Some(ci));
            let message = format!(
                "`{}` stores a cancellation token in `{root}` that only {list} removes, and {problem}",
                wrapper.name
            );
            let parsed = &krate.files[caller.file];
            let mut f = Finding::new(parsed, Rule::UnguardedInsert, call.span, message);
            f.help = vec![
                format!(
                    "make `{root}` a `scoped_cancel::Registry` and enter a `Scope` instead of \
                     calling `{}`: its guard removes the entry and cancels the token on every \
                     exit",
                    wrapper.name
                ),
                format!(
                    "let scope = registry.enter(id)?;    // instead of `{}`",
                    wrapper.name
                ),
                "let token = scope.token();          // removed when `scope` drops".into(),
            ];
            f.anchors = vec![caller.line];
            out.push(f);
        }
    }
}

/// What is wrong with one call of the wrapper, or `None` when a removal
/// or a removing guard follows it on every exit.
fn unpaired(
    caller: &FnSite,
    call: &CallSite,
    root: &str,
    remover_names: &HashSet<&str>,
    guard_types: &[String],
) -> Option<String> {
    let body = &caller.body;
    // A guard built around the call or after it.
    for (t, at) in &body.builds {
        if !guard_types.contains(t) {
            continue;
        }
        let (from, to) = if *at < call.pos {
            (*at, call.pos)
        } else {
            (call.pos, *at)
        };
        if at.line + 1 >= call.pos.line
            && exit_between(body, from, &call.regions, to, &[]).is_none()
        {
            return None;
        }
    }
    // The next removal after the call: a remover's call or a direct one.
    let by_call = body
        .call_sites
        .iter()
        .filter(|c| c.pos > call.pos && remover_names.contains(c.name.as_str()))
        .map(|c| (c.pos, c.regions.as_slice(), c.name.as_str()));
    let direct = body
        .removals
        .iter()
        .filter(|r| r.pos > call.pos && r.root == root)
        .map(|r| (r.pos, r.regions.as_slice(), "remove"));
    let Some((pos, regions, name)) = by_call.chain(direct).min_by_key(|(p, _, _)| *p) else {
        return Some(
            "this fn does not remove it afterwards nor hand it to a guard: an early return, a \
             panic or a dropped future leaves the entry and its token behind"
                .into(),
        );
    };
    let exit = exit_between(body, call.pos, &call.regions, pos, regions)?;
    Some(format!(
        "this fn calls `{name}` on line {} only if it gets past the {} on line {}: {}",
        pos.line,
        exit.kind.what(),
        exit.pos.line,
        exit.kind.consequence()
    ))
}

/// Whether `call` (in `caller`) calls `wrapper`.
fn calls(
    krate: &Crate,
    caller: &FnSite,
    call: &CallSite,
    wrapper: &FnSite,
    names: &HashMap<&str, usize>,
) -> bool {
    if call.name != wrapper.name {
        return false;
    }
    let Some(ty) = &wrapper.self_ty else {
        // A free fn: `name(..)` or `module::name(..)`.
        return call.receiver.is_none()
            && call
                .qualifier
                .as_deref()
                .is_none_or(|q| q.starts_with(|c: char| c.is_lowercase()));
    };
    if let Some(q) = &call.qualifier {
        return q == ty || (q == "Self" && caller.self_ty.as_ref() == Some(ty));
    }
    let Some(receiver) = call.receiver else {
        return false;
    };
    match receiver_types(krate, caller, receiver) {
        Some(types) => types.contains(ty),
        // Unknown receiver: only a name no other fn and no std type uses.
        None => names.get(call.name.as_str()) == Some(&1) && !COMMON.contains(&call.name.as_str()),
    }
}

/// The type names a receiver expression may have: `self` in an impl, a
/// param or a local with a written or built type, a field of a struct of
/// the crate, through references, clones, locks and awaits.
fn receiver_types(krate: &Crate, caller: &FnSite, e: &Expr) -> Option<HashSet<String>> {
    match e {
        Expr::Path(p) => {
            let name = p.path.get_ident()?.to_string();
            if name == "self" {
                return caller.self_ty.clone().map(|t| HashSet::from([t]));
            }
            caller
                .param_types
                .get(&name)
                .or_else(|| caller.body.var_types.get(&name))
                .cloned()
        }
        Expr::Field(f) => match &f.member {
            syn::Member::Named(id) => krate.field_type_names(&id.to_string()).cloned(),
            syn::Member::Unnamed(_) => None,
        },
        Expr::MethodCall(m) => match m.method.to_string().as_str() {
            "clone" | "as_ref" | "inner" | "lock" | "read" | "write" | "borrow" | "unwrap"
            | "expect" | "get_ref" | "deref" | "load" => receiver_types(krate, caller, &m.receiver),
            _ => None,
        },
        Expr::Await(a) => receiver_types(krate, caller, &a.base),
        Expr::Try(t) => receiver_types(krate, caller, &t.expr),
        Expr::Paren(p) => receiver_types(krate, caller, &p.expr),
        Expr::Reference(r) => receiver_types(krate, caller, &r.expr),
        Expr::Unary(u) => receiver_types(krate, caller, &u.expr),
        _ => None,
    }
}

/// "`cancel` (line 30) or `finish` (line 41)", and the guards.
fn remover_list(
    fns: &[FnSite],
    removers: &[usize],
    guards: &[String],
    caller: Option<usize>,
) -> String {
    let removers: Vec<usize> = removers
        .iter()
        .copied()
        .filter(|&i| Some(i) != caller)
        .collect();
    let mut parts: Vec<String> = removers
        .iter()
        .take(3)
        .map(|&i| format!("`{}` (line {})", fns[i].name, fns[i].line))
        .collect();
    match removers.len() {
        0..=3 => {}
        4 => parts.push("1 other fn".into()),
        n => parts.push(format!("{} other fns", n - 3)),
    }
    parts.extend(guards.iter().take(2).map(|g| format!("dropping a `{g}`")));
    match parts.len() {
        0 => String::new(),
        1 => parts.remove(0),
        n => format!("{} or {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

/// Collection name -> the fns that remove from it, directly or by calling
/// (by name) a fn that does.
struct Removers {
    by_root: HashMap<String, Vec<usize>>,
}

impl Removers {
    fn new(fns: &[FnSite]) -> Removers {
        let mut roots_of: Vec<HashSet<String>> = fns
            .iter()
            .map(|f| f.body.removals.iter().map(|r| r.root.clone()).collect())
            .collect();
        // Two rounds: `cancel` calls `remove`, `shutdown` calls `cancel`.
        for _ in 0..2 {
            let mut by_name: HashMap<&str, HashSet<String>> = HashMap::new();
            for (f, roots) in fns.iter().zip(&roots_of) {
                if !roots.is_empty() {
                    by_name
                        .entry(f.name.as_str())
                        .or_default()
                        .extend(roots.iter().cloned());
                }
            }
            for (f, roots) in fns.iter().zip(roots_of.iter_mut()) {
                for call in &f.body.calls {
                    if let Some(more) = by_name.get(call.as_str()) {
                        roots.extend(more.iter().cloned());
                    }
                }
            }
        }
        let mut by_root: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, roots) in roots_of.into_iter().enumerate() {
            // A guard's `drop` is named as the guard.
            if fns[i].name == "drop" {
                continue;
            }
            for r in roots {
                by_root.entry(r).or_default().push(i);
            }
        }
        Removers { by_root }
    }

    fn of(&self, root: &str) -> &[usize] {
        self.by_root.get(root).map_or(&[], Vec::as_slice)
    }
}
