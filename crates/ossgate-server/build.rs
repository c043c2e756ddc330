//! Embeds every file under the workspace's `web/` folder: writes
//! `$OUT_DIR/web_assets.rs`, a table of (URL path, `include_bytes!`) pairs, so
//! files added to `web/` are served without a code change.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web_dir = manifest_dir.join("../../web");
    println!("cargo:rerun-if-changed={}", web_dir.display());

    let mut files = Vec::new();
    if web_dir.is_dir() {
        collect(&web_dir, &web_dir, &mut files);
    }
    files.sort();

    let mut code = String::from("/// Files under `web/`: URL path and contents.\n");
    code.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (url_path, file) in &files {
        let absolute = file.canonicalize().expect("a listed file exists");
        writeln!(
            code,
            "    ({url_path:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");

    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("web_assets.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}

/// Lists regular files under `dir`, skipping hidden and editor backup files.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let relative = path.strip_prefix(root).expect("under the root");
            let url_path: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((format!("/{}", url_path.join("/")), path));
        }
    }
}
