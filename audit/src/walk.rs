//! Turns the command line's paths into the `.rs` files to check.

use ignore::WalkBuilder;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A path that could not be read while walking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkError {
    /// The file or directory, as the walk reached it.
    pub path: PathBuf,
    /// Why it could not be read.
    pub message: String,
}

/// Every `.rs` file under `path` (or `path` itself when it is a file),
/// sorted so that output is stable, and what could not be read on the way.
///
/// The walk honours `.gitignore`, `.ignore` and `.git/info/exclude` files
/// (also outside a git checkout), skips hidden directories and files and
/// directories named `target` (build output), and does not follow
/// symlinked directories, so a link cycle cannot loop. A directory that
/// cannot be read is reported and the walk goes on with the rest.
pub fn rust_files(path: &Path) -> (Vec<PathBuf>, Vec<WalkError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let walker = WalkBuilder::new(path)
        .standard_filters(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| !(e.depth() > 0 && e.file_name() == "target" && is_dir(e)))
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                let named = e.depth() == 0;
                let is_file = e.file_type().is_some_and(|t| t.is_file())
                    || (e.path_is_symlink() && e.path().is_file());
                if is_file && (named || e.path().extension().is_some_and(|x| x == "rs")) {
                    files.push(e.into_path());
                }
            }
            Err(e) => errors.extend(split(e, path)),
        }
    }
    (files, errors)
}

fn is_dir(e: &ignore::DirEntry) -> bool {
    e.file_type().is_some_and(|t| t.is_dir())
}

/// One `ignore` error may hold several (a partial walk, a path with a
/// loop): one report per path, the message without the path repeated.
fn split(err: ignore::Error, root: &Path) -> Vec<WalkError> {
    match err {
        ignore::Error::Partial(errs) => errs.into_iter().flat_map(|e| split(e, root)).collect(),
        ignore::Error::WithDepth { err, .. } => split(*err, root),
        ignore::Error::WithLineNumber { err, .. } => split(*err, root),
        ignore::Error::WithPath { path, err } => vec![WalkError {
            path,
            message: innermost(*err),
        }],
        other => vec![WalkError {
            path: root.to_path_buf(),
            message: innermost(other),
        }],
    }
}

fn innermost(err: ignore::Error) -> String {
    match err {
        ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. }
        | ignore::Error::WithPath { err, .. } => innermost(*err),
        // Its own text repeats the path: the OS's message alone.
        ignore::Error::Io(e) => e.raw_os_error().map_or_else(
            || e.to_string(),
            |code| std::io::Error::from_raw_os_error(code).to_string(),
        ),
        other => other.to_string(),
    }
}

/// Finds each file's crate root, remembering the answer per directory.
#[derive(Default)]
pub struct RootCache {
    dirs: HashMap<PathBuf, Option<PathBuf>>,
}

impl RootCache {
    /// The directory of the nearest `Cargo.toml` above `file`: files of one
    /// crate share their type definitions and renames, files of different
    /// crates do not.
    pub fn crate_root(&mut self, file: &Path) -> Option<PathBuf> {
        let dir = file.parent()?;
        self.dir_root(dir)
    }

    fn dir_root(&mut self, d: &Path) -> Option<PathBuf> {
        if let Some(known) = self.dirs.get(d) {
            return known.clone();
        }
        let probe = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        let found = if probe.join("Cargo.toml").is_file() {
            Some(probe.to_path_buf())
        } else if d.as_os_str().is_empty() {
            None
        } else {
            match d.parent() {
                Some(parent) => self.dir_root(parent),
                None => None,
            }
        };
        self.dirs.insert(d.to_path_buf(), found.clone());
        found
    }
}

/// The directory of the nearest `Cargo.toml` above `file`.
pub fn crate_root(file: &Path) -> Option<PathBuf> {
    RootCache::default().crate_root(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn skips_target_hidden_and_ignored_files_and_sorts() {
        let root = std::env::temp_dir().join(format!("sca-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for dir in ["src/b", "target/debug", ".git", "src/a", "gen"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "src/b/z.rs",
            "src/a/y.rs",
            "src/lib.rs",
            "src/notes.txt",
            "target/debug/gen.rs",
            ".git/hook.rs",
            "gen/out.rs",
            "src/skip_me.rs",
        ] {
            fs::write(root.join(file), "").unwrap();
        }
        fs::write(root.join(".gitignore"), "/gen/\nskip_me.rs\n").unwrap();
        let (files, errors) = rust_files(&root);
        assert_eq!(errors, []);
        let rel: Vec<_> = files
            .iter()
            .map(|f| {
                f.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        assert_eq!(rel, ["src/a/y.rs", "src/b/z.rs", "src/lib.rs"]);
        // A file named on the command line is read whatever its name.
        let (named, _) = rust_files(&root.join("src/notes.txt"));
        assert_eq!(named.len(), 1);
        fs::remove_dir_all(&root).unwrap();
    }
}
