//! Imports point one way: each crate's files, read from their `crate::`
//! paths, form no cycle across modules (a cycle inside one module folder,
//! such as `tower/layer.rs` ↔ `tower/service.rs`, is that module's own
//! business). The handle trio of `scoped-cancel` — `token.rs`, `scope.rs`,
//! `run.rs` — is one layer, as tokio-util's token and its guard are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files allowed to form a cycle together, per crate.
const ONE_LAYER: &[(&str, &[&str])] = &[("core", &["run.rs", "scope.rs", "token.rs"])];

#[test]
fn no_crate_has_an_import_cycle_across_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut failures = Vec::new();
    for krate in ["core", "cluster", "audit", "macros"] {
        let src = root.join(krate).join("src");
        let graph = Graph::read(&src);
        assert!(
            graph.edges.len() > 3,
            "{krate}: too few files read from {}",
            src.display()
        );
        let allowed: BTreeSet<&str> = ONE_LAYER
            .iter()
            .filter(|(name, _)| *name == krate)
            .flat_map(|(_, files)| files.iter().copied())
            .collect();
        for component in graph.cycles() {
            let one_folder = {
                let tops: BTreeSet<_> = component.iter().map(|f| top(f)).collect();
                tops.len() == 1 && component.iter().all(|f| f.contains('/'))
            };
            let one_layer = component.iter().all(|f| allowed.contains(f.as_str()));
            if !one_folder && !one_layer {
                failures.push(format!("{krate}/src: {}", component.join(" → ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "import cycles across modules:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_checker_finds_a_cycle_across_modules() {
    // Two modules importing each other, one of them a folder.
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a; mod b;").unwrap();
    std::fs::write(
        dir.join("a.rs"),
        "use crate::b::inner::Thing; // crate::c in a comment",
    )
    .unwrap();
    std::fs::write(dir.join("b/mod.rs"), "mod inner;").unwrap();
    std::fs::write(dir.join("b/inner.rs"), "fn f() { crate::a::g() }").unwrap();
    let cycles = Graph::read(&dir).cycles();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cycles, [vec!["a.rs".to_string(), "b/inner.rs".to_string()]]);
}

fn top(file: &str) -> &str {
    file.split('/').next().unwrap_or(file)
}

/// Files (paths relative to `src`) and the files their `crate::` paths name.
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn read(src: &Path) -> Graph {
        let mut files = Vec::new();
        collect(src, &mut files);
        // Module path (`a::b`) → file (`a/b.rs` or `a/b/mod.rs`).
        let modules: BTreeMap<Vec<String>, String> = files
            .iter()
            .map(|file| {
                let rel = file
                    .strip_prefix(src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let mut parts: Vec<String> = rel
                    .trim_end_matches(".rs")
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                (parts, rel)
            })
            .collect();
        let mut edges = BTreeMap::new();
        for file in modules.values() {
            let text = strip_comments(&std::fs::read_to_string(src.join(file)).unwrap());
            let mut targets = BTreeSet::new();
            if !(file == "lib.rs" || file == "main.rs") {
                for path in crate_paths(&text) {
                    // The longest prefix that names a module.
                    if let Some(target) =
                        (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
                    {
                        if target != file {
                            targets.insert(target.clone());
                        }
                    }
                }
            }
            edges.insert(file.clone(), targets);
        }
        Graph { edges }
    }

    /// The strongly connected components of more than one file (Tarjan's
    /// algorithm, iterative), each sorted.
    fn cycles(&self) -> Vec<Vec<String>> {
        let nodes: Vec<&String> = self.edges.keys().collect();
        let index_of: BTreeMap<&String, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let succ: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| self.edges[*n].iter().map(|t| index_of[t]).collect())
            .collect();
        let n = nodes.len();
        let (mut index, mut low) = (vec![usize::MAX; n], vec![0; n]);
        let (mut on_stack, mut stack, mut next, mut out) =
            (vec![false; n], Vec::new(), 0, Vec::new());
        for start in 0..n {
            if index[start] != usize::MAX {
                continue;
            }
            let mut work = vec![(start, 0)];
            while let Some((v, i)) = work.pop() {
                if i == 0 {
                    index[v] = next;
                    low[v] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if let Some(&w) = succ[v].get(i) {
                    work.push((v, i + 1));
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    loop {
                        let w = stack.pop().unwrap();
                        on_stack[w] = false;
                        component.push(nodes[w].clone());
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        out.push(component);
                    }
                }
            }
        }
        out.sort();
        out
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without `//` and `/* */` comments (doc links are not imports).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/*") {
        out.push_str(&rest[..at]);
        rest = rest[at..]
            .find("*/")
            .map_or("", |end| &rest[at + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` path, with `crate::{a, b::{c}}` groups expanded to
/// their first segments.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before_ok = rest[..at].chars().next_back().is_none_or(|c| !ident(c));
        rest = &rest[at + "crate::".len()..];
        if !before_ok {
            continue;
        }
        let mut prefix = Vec::new();
        loop {
            let len = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
            if len == 0 {
                break;
            }
            prefix.push(rest[..len].to_owned());
            rest = &rest[len..];
            match rest.strip_prefix("::") {
                Some(after) => rest = after,
                None => break,
            }
        }
        if rest.starts_with('{') {
            let end = rest.find(';').unwrap_or(rest.len());
            for item in rest[1..end].split([',', '{', '}']) {
                let segs: Vec<String> = item
                    .trim()
                    .split("::")
                    .take_while(|s| !s.is_empty() && s.chars().all(ident))
                    .map(str::to_owned)
                    .collect();
                if !segs.is_empty() {
                    out.push(
                        prefix
                            .iter()
                            .cloned()
                            .chain(segs.into_iter().take(2))
                            .collect(),
                    );
                }
            }
        } else if !prefix.is_empty() {
            out.push(prefix);
        }
    }
    out
}
