//! Which written types hold a `CancellationToken`, and through which collection.
//!
//! One `Crate` is built from all the scanned files of one crate, so that a
//! struct, enum or type alias defined in one file is understood where another
//! file uses it. Names are matched by name, preferring a definition in the
//! same file; when several definitions of a name disagree, the type is taken
//! not to hold a token (a missed finding is better than a false one).

mod defs;
mod known;

use crate::names::UseMap;
use crate::source::Parsed;
use defs::Defs;
use known::{COLLECTIONS, EMPTY, MAPS, WRAPPERS};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use syn::visit::Visit;
use syn::{GenericArgument, Generics, Path, PathArguments, Type};

/// Expansion depth for aliases and generic crate types (also stops cycles).
const MAX_DEPTH: u32 = 8;

/// What a type holds.
#[derive(Clone, Default, Debug, PartialEq, Eq, Hash)]
pub struct Info {
    /// A `CancellationToken` is reachable inside.
    pub holds: bool,
    /// The outermost collection whose elements hold one.
    pub collection: Option<String>,
    /// That collection's key type, when it is a map (for the help text).
    pub key: Option<String>,
    /// The crate-local type or alias through which the token is held.
    pub via: Option<String>,
}

struct Alias<'a> {
    file: usize,
    params: Vec<String>,
    ty: &'a Type,
}

struct TypeDef<'a> {
    file: usize,
    params: Vec<String>,
    fields: Vec<&'a Type>,
}

/// The type knowledge of one crate.
pub struct Crate<'a> {
    pub files: &'a [Parsed],
    pub uses: Vec<UseMap>,
    /// `use X as Y` anywhere in the crate: Y -> X.
    renames: HashMap<String, String>,
    aliases: HashMap<String, Vec<Alias<'a>>>,
    types: HashMap<String, Vec<TypeDef<'a>>>,
    /// Per definition in `types`: does it hold a token.
    holder: HashMap<String, Vec<bool>>,
    /// Types whose `Drop` cancels (`Scope`-like guards): a collection of
    /// them is the fix, not the leak.
    cancel_guards: HashSet<String>,
    /// Expansions of aliases and generic crate types already done: an alias
    /// used twenty times in the next alias, eight deep, is expanded once
    /// per depth, not 20^8 times.
    memo: RefCell<HashMap<MemoKey, Info>>,
    /// Struct field name -> the type names its type mentions (all structs
    /// of the crate with a field of that name, merged).
    field_types: HashMap<String, HashSet<String>>,
}

/// What an expansion depends on: the definition (by address), the depth it
/// was reached at (the depth bound cuts cycles) and the arguments.
#[derive(PartialEq, Eq, Hash)]
struct MemoKey {
    def: usize,
    depth: u32,
    args: Vec<Info>,
}

impl<'a> Crate<'a> {
    pub fn new(files: &'a [Parsed]) -> Crate<'a> {
        let mut krate = Crate {
            files,
            uses: files.iter().map(|f| UseMap::of(&f.ast)).collect(),
            renames: HashMap::new(),
            aliases: HashMap::new(),
            types: HashMap::new(),
            holder: HashMap::new(),
            cancel_guards: HashSet::new(),
            memo: RefCell::new(HashMap::new()),
            field_types: HashMap::new(),
        };
        for uses in &krate.uses {
            for (target, rename) in &uses.renames {
                if target != rename {
                    krate.renames.insert(rename.clone(), target.clone());
                }
            }
        }
        for (file, parsed) in files.iter().enumerate() {
            let mut defs = Defs {
                file,
                krate: &mut krate,
            };
            defs.visit_file(&parsed.ast);
        }
        krate.holder = krate
            .types
            .iter()
            .map(|(name, defs)| (name.clone(), vec![false; defs.len()]))
            .collect();
        krate.find_holders();
        krate
    }

    /// Marks every crate type that holds a token, to a fixed point (a struct
    /// holding a struct holding a token). A definition is looked at again
    /// only when a type it names was just found to hold one, so a long
    /// chain of types costs a pass per link, not a pass over all types.
    fn find_holders(&mut self) {
        // Which definitions name which crate type (any path segment).
        let mut users: HashMap<String, Vec<(String, usize)>> = HashMap::new();
        for (name, defs) in &self.types {
            for (i, def) in defs.iter().enumerate() {
                let mut named = Named::default();
                for f in &def.fields {
                    named.visit_type(f);
                }
                for n in named.0 {
                    if self.types.contains_key(&n) || self.aliases.contains_key(&n) {
                        users.entry(n).or_default().push((name.clone(), i));
                    }
                }
            }
        }
        // Which aliases name which crate type or alias.
        let mut alias_users: HashMap<String, Vec<String>> = HashMap::new();
        for (alias, defs) in &self.aliases {
            let mut named = Named::default();
            for d in defs {
                named.visit_type(d.ty);
            }
            for n in named.0 {
                alias_users.entry(n).or_default().push(alias.clone());
            }
        }
        let mut todo: Vec<(String, usize)> = self
            .types
            .iter()
            .flat_map(|(name, defs)| (0..defs.len()).map(move |i| (name.clone(), i)))
            .collect();
        let mut queued: HashSet<(String, usize)> = todo.iter().cloned().collect();
        while let Some((name, i)) = todo.pop() {
            queued.remove(&(name.clone(), i));
            if self.holder[&name][i] {
                continue;
            }
            let def = &self.types[&name][i];
            let env = unknown_params(&def.params);
            let holds = def
                .fields
                .iter()
                .any(|f| self.analyze(def.file, f, &env, 0).holds);
            if !holds {
                continue;
            }
            if let Some(flags) = self.holder.get_mut(&name) {
                flags[i] = true;
            }
            // Earlier answers may have assumed this type held nothing.
            self.memo.borrow_mut().clear();
            // The type, and every alias that names it, directly or not.
            let mut names = vec![name.clone()];
            let mut seen: HashSet<String> = names.iter().cloned().collect();
            let mut k = 0;
            while k < names.len() {
                for alias in alias_users.get(&names[k]).into_iter().flatten() {
                    if seen.insert(alias.clone()) {
                        names.push(alias.clone());
                    }
                }
                k += 1;
            }
            for n in names {
                for user in users.get(&n).into_iter().flatten() {
                    if queued.insert(user.clone()) {
                        todo.push(user.clone());
                    }
                }
            }
        }
    }

    /// What `ty`, written in file `file`, holds. `env` binds generic
    /// parameters in scope.
    pub fn analyze(&self, file: usize, ty: &Type, env: &[(String, Info)], depth: u32) -> Info {
        match ty {
            Type::Path(tp) if tp.qself.is_none() => {
                self.analyze_path(file, &tp.path, tp.path.segments.len(), env, depth)
            }
            Type::Tuple(t) => combine(t.elems.iter().map(|e| self.analyze(file, e, env, depth))),
            Type::Array(a) => self.analyze(file, &a.elem, env, depth),
            Type::Slice(s) => self.analyze(file, &s.elem, env, depth),
            Type::Reference(r) => self.analyze(file, &r.elem, env, depth),
            Type::Ptr(p) => self.analyze(file, &p.elem, env, depth),
            Type::Paren(p) => self.analyze(file, &p.elem, env, depth),
            Type::Group(g) => self.analyze(file, &g.elem, env, depth),
            _ => Info::default(),
        }
    }

    /// Like `analyze` for the type named by the first `len` segments of
    /// `path` (a constructor call's `DashMap::<K, V>` in `DashMap::<K, V>::new`).
    pub fn analyze_path(
        &self,
        file: usize,
        path: &Path,
        len: usize,
        env: &[(String, Info)],
        depth: u32,
    ) -> Info {
        let Some(seg) = path.segments.iter().nth(len.wrapping_sub(1)) else {
            return Info::default();
        };
        let written = seg.ident.to_string();
        if len == 1 {
            if let Some((_, info)) = env.iter().find(|(n, _)| *n == written) {
                return info.clone();
            }
        }
        let (name, local) = self.canonical(file, path, len);
        let guard =
            (name == "DropGuard" || name == "DropGuardRef") && !self.types.contains_key(&name);
        if name == "CancellationToken" || guard {
            return Info {
                holds: true,
                via: guard.then(|| name.clone()),
                ..Info::default()
            };
        }
        let arg_types = type_args(&seg.arguments);
        let args: Vec<Info> = arg_types
            .iter()
            .map(|t| self.analyze(file, t, env, depth))
            .collect();
        if let Some(alias) = self.alias(file, &name) {
            if depth >= MAX_DEPTH {
                return Info::default();
            }
            let key = MemoKey {
                def: alias as *const Alias as usize,
                depth,
                args,
            };
            let known = self.memo.borrow().get(&key).cloned();
            let mut info = match known {
                Some(info) => info,
                None => {
                    let env = bind(&alias.params, &key.args);
                    let info = self.analyze(alias.file, alias.ty, &env, depth + 1);
                    self.memo.borrow_mut().insert(key, info.clone());
                    info
                }
            };
            if info.holds && info.via.is_none() {
                info.via = Some(written);
            }
            return info;
        }
        let name = name.as_str();
        // The crate's own `State` or `Cache` is not the framework's.
        if local {
            if let Some(defs) = self.types.get(name) {
                return self.analyze_local(file, name, &written, defs, &args, depth);
            }
        }
        if COLLECTIONS.contains(&name) {
            let mut info = combine(args.iter().cloned());
            if info.holds {
                info.collection = Some(name.to_owned());
                info.key = match arg_types.first() {
                    Some(k) if MAPS.contains(&name) => Some(type_text(k)),
                    _ => None,
                };
            }
            return info;
        }
        if WRAPPERS.contains(&name) {
            return combine(args.into_iter());
        }
        if EMPTY.contains(&name) {
            return Info::default();
        }
        if let Some(defs) = self.types.get(name) {
            return self.analyze_local(file, name, &written, defs, &args, depth);
        }
        // Any other generic type whose arguments hold a token (a cache, a
        // pool, a third-party map) is taken to be a collection of them.
        let mut info = combine(args.into_iter());
        if info.holds && info.collection.is_none() {
            info.collection = Some(name.to_owned());
        }
        info
    }

    /// A crate-local struct or enum, possibly generic.
    fn analyze_local(
        &self,
        file: usize,
        name: &str,
        written: &str,
        defs: &[TypeDef<'a>],
        args: &[Info],
        depth: u32,
    ) -> Info {
        if self.cancel_guards.contains(name) {
            return Info::default();
        }
        let flags = &self.holder[name];
        let holds_alone = match pick(defs.iter().map(|d| d.file), file) {
            Pick::One(i) => flags[i],
            Pick::Many => flags.iter().all(|&f| f),
        };
        if holds_alone {
            // Its own fields hold the token (and are reported where they are
            // declared): a plain holder, not a collection.
            return Info {
                holds: true,
                via: Some(written.to_owned()),
                ..Info::default()
            };
        }
        if !args.iter().any(|a| a.holds) || depth >= MAX_DEPTH {
            return Info::default();
        }
        // A generic crate type filled with a token: look at its fields.
        let Pick::One(i) = pick(defs.iter().map(|d| d.file), file) else {
            return Info::default();
        };
        let def = &defs[i];
        let key = MemoKey {
            def: def as *const TypeDef as usize,
            depth,
            args: args.to_vec(),
        };
        let known = self.memo.borrow().get(&key).cloned();
        let mut info = match known {
            Some(info) => info,
            None => {
                let env = bind(&def.params, args);
                let info = combine(
                    def.fields
                        .iter()
                        .map(|f| self.analyze(def.file, f, &env, depth + 1)),
                );
                self.memo.borrow_mut().insert(key, info.clone());
                info
            }
        };
        if info.holds && info.via.is_none() {
            info.via = Some(written.to_owned());
        }
        info
    }

    /// The name a path's segment `len - 1` refers to, after `use ... as`
    /// renames in its file and re-export renames inside the crate.
    fn canonical(&self, file: usize, path: &Path, len: usize) -> (String, bool) {
        let seg = &path.segments[len - 1];
        let written = seg.ident.to_string();
        let uses = &self.uses[file];
        let (mut name, local) = if len == 1 {
            (
                uses.original(&written).to_owned(),
                !uses.is_external(&written),
            )
        } else {
            let first = path.segments[0].ident.to_string();
            (
                written,
                path.leading_colon.is_none()
                    && matches!(first.as_str(), "crate" | "self" | "super"),
            )
        };
        if !local {
            return (name, false);
        }
        for _ in 0..4 {
            if self.types.contains_key(&name) || self.aliases.contains_key(&name) {
                break;
            }
            match self.renames.get(&name) {
                Some(target) => name = target.clone(),
                None => break,
            }
        }
        (name, true)
    }

    fn alias(&self, file: usize, name: &str) -> Option<&Alias<'a>> {
        let defs = self.aliases.get(name)?;
        match pick(defs.iter().map(|d| d.file), file) {
            Pick::One(i) => Some(&defs[i]),
            Pick::Many => None,
        }
    }

    /// The type names a field of this name is declared with, in any struct.
    pub fn field_type_names(&self, field: &str) -> Option<&HashSet<String>> {
        self.field_types.get(field)
    }

    /// Whether `name` is a crate-local type that holds a token by itself.
    pub fn is_holder(&self, file: usize, name: &str) -> bool {
        if self.cancel_guards.contains(name) {
            return false;
        }
        let (Some(defs), Some(flags)) = (self.types.get(name), self.holder.get(name)) else {
            return false;
        };
        match pick(defs.iter().map(|d| d.file), file) {
            Pick::One(i) => flags[i],
            Pick::Many => flags.iter().all(|&f| f),
        }
    }
}

enum Pick {
    One(usize),
    Many,
}

/// The definition in `file` if there is one, else the only one.
fn pick(files: impl Iterator<Item = usize>, file: usize) -> Pick {
    let files: Vec<usize> = files.collect();
    if let Some(i) = files.iter().position(|&f| f == file) {
        return Pick::One(i);
    }
    if files.len() == 1 {
        Pick::One(0)
    } else {
        Pick::Many
    }
}

/// Generic parameters with nothing known about them.
pub fn unknown_params(params: &[String]) -> Vec<(String, Info)> {
    params
        .iter()
        .map(|p| (p.clone(), Info::default()))
        .collect()
}

/// The names of a definition's type parameters.
pub fn params_of(generics: &Generics) -> Vec<String> {
    generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect()
}

fn bind(params: &[String], args: &[Info]) -> Vec<(String, Info)> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), args.get(i).cloned().unwrap_or_default()))
        .collect()
}

/// The union of several parts (tuple fields, type arguments): the first
/// part's collection, key and via win.
fn combine(parts: impl Iterator<Item = Info>) -> Info {
    let mut out = Info::default();
    for part in parts {
        if !part.holds {
            continue;
        }
        if !out.holds {
            out = part;
        } else if out.collection.is_none() && part.collection.is_some() {
            out.collection = part.collection;
            out.key = part.key;
        }
    }
    out
}

fn type_args(args: &PathArguments) -> Vec<&Type> {
    match args {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A short rendering of a type for help text (`u64`, `String`, `(u32, Uuid)`).
pub fn type_text(ty: &Type) -> String {
    match ty {
        Type::Path(tp) => {
            let mut out = String::new();
            for (i, seg) in tp.path.segments.iter().enumerate() {
                if i > 0 {
                    out.push_str("::");
                }
                out.push_str(&seg.ident.to_string());
                let args = type_args(&seg.arguments);
                if !args.is_empty() {
                    let args: Vec<String> = args.into_iter().map(type_text).collect();
                    out.push('<');
                    out.push_str(&args.join(", "));
                    out.push('>');
                }
            }
            out
        }
        Type::Reference(r) => format!("&{}", type_text(&r.elem)),
        Type::Tuple(t) => {
            let elems: Vec<String> = t.elems.iter().map(type_text).collect();
            format!("({})", elems.join(", "))
        }
        Type::Paren(p) => type_text(&p.elem),
        Type::Group(g) => type_text(&g.elem),
        _ => "K".to_owned(),
    }
}

/// The identifiers of every path segment in a type.
#[derive(Default)]
struct Named(HashSet<String>);

impl<'a> Visit<'a> for Named {
    fn visit_path_segment(&mut self, seg: &'a syn::PathSegment) {
        self.0.insert(seg.ident.to_string());
        syn::visit::visit_path_segment(self, seg);
    }
}
