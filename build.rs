//! Embeds every `rules/*.toml` metadata file and `rules/frameworks/*.toml` catalogue into
//! the binary, so the catalog ships with the tool and a new rule file needs no code change
//! to be picked up (and linted); and
//! stamps the version `--version` prints (and reports record) with the git commit it was
//! built from.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    embed_rules(&manifest);
    stamp_version(&manifest);
}

fn embed_rules(manifest: &Path) {
    embed_dir(&manifest.join("rules"), "RULE_FILES", "rule_files.rs");
    // The framework catalogues (rules/frameworks/<id>.toml) that rule metadata refers to.
    embed_dir(
        &manifest.join("rules").join("frameworks"),
        "FRAMEWORK_FILES",
        "framework_files.rs",
    );
}

/// Writes `const_name: &[(file name, text)]` of every `*.toml` in `dir` to `OUT_DIR/out_name`.
fn embed_dir(dir: &Path, const_name: &str, out_name: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = format!("pub(crate) const {const_name}: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().expect("file").to_string_lossy();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join(out_name);
    fs::write(dest, out).expect("write the embedded file list");
}

/// Sets `S3AUDIT_VERSION` to "0.1.0 (6e8d0b8)", with "-dirty" when tracked files differ
/// from that commit, so a report or a bug can be traced to the exact source. Outside a
/// git checkout of this crate (a source tarball, `cargo install` from a registry, no git
/// installed) it is the bare package version: never a build failure, never the commit
/// of some unrelated repository the sources happen to sit in.
fn stamp_version(manifest: &Path) {
    let version = env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let commit = git_commit(manifest);
    let stamp = match &commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=S3AUDIT_VERSION={stamp}");
    // The commit alone ("6e8d0b8", "6e8d0b8-dirty"; empty outside a git checkout), which
    // reports and snapshots record beside the version (`tool.commit`, `scan.tool_commit`).
    // Always set, so `env!` works in every build.
    println!(
        "cargo:rustc-env=S3AUDIT_COMMIT={}",
        commit.unwrap_or_default()
    );
}

fn git(manifest: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        // Never take the index lock: a build must not race the user's own git commands.
        .arg("--no-optional-locks")
        .args(args)
        .current_dir(manifest)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_commit(manifest: &Path) -> Option<String> {
    let top = PathBuf::from(git(manifest, &["rev-parse", "--show-toplevel"])?);
    if fs::canonicalize(&top).ok()? != fs::canonicalize(manifest).ok()? {
        return None;
    }
    // Run again when HEAD moves (checkout, commit) or a source file changes (which is
    // when a tree turns dirty or clean for the binary). Not on the index: every `git
    // status` touches it, and each touch would rebuild the crate.
    let mut watched = vec!["HEAD".to_string()];
    if let Some(branch) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    watched.push("packed-refs".to_string());
    for name in watched {
        // Only files that exist: cargo reruns a build script whose watched file is
        // missing on every build (a ref may live in packed-refs only, or the reverse).
        if let Some(path) = git(manifest, &["rev-parse", "--git-path", &name])
            .map(|p| manifest.join(p))
            .filter(|p| p.exists())
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    for source in ["src", "Cargo.toml", "Cargo.lock", "build.rs"] {
        println!("cargo:rerun-if-changed={}", manifest.join(source).display());
    }
    let commit = git(manifest, &["rev-parse", "--short", "HEAD"])?;
    let dirty = git(manifest, &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
