//! Turns the command line's paths into the `.rs` files to check.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `path` (or `path` itself), sorted so that output is
/// stable. Directories named `target` (build output, vendored copies) and
/// hidden ones (`.git`) are skipped; symlinked directories are not followed,
/// so a link cycle cannot loop.
pub fn rust_files(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    walk_dir(path, out)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            walk_dir(&path, out)?;
        } else if name.ends_with(".rs") && (kind.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// The directory of the nearest `Cargo.toml` above `file`: files of one crate
/// share their type definitions and renames, files of different crates do not.
pub fn crate_root(file: &Path) -> Option<PathBuf> {
    let mut dir = file.parent();
    while let Some(d) = dir {
        let probe = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        if probe.join("Cargo.toml").is_file() {
            return Some(probe.to_path_buf());
        }
        if d.as_os_str().is_empty() {
            return None;
        }
        dir = d.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_target_and_hidden_directories_and_sorts() {
        let root = std::env::temp_dir().join(format!("sca-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for dir in ["src/b", "target/debug", ".git", "src/a"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "src/b/z.rs",
            "src/a/y.rs",
            "src/lib.rs",
            "src/notes.txt",
            "target/debug/gen.rs",
            ".git/hook.rs",
        ] {
            fs::write(root.join(file), "").unwrap();
        }
        let mut files = Vec::new();
        rust_files(&root, &mut files).unwrap();
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
        fs::remove_dir_all(&root).unwrap();
    }
}
