//! Build script of the `lull` binary:
//!
//! 1. The dashboard. A release build embeds Trunk's `dist/` (packed by
//!    `src/http/assets/pack.rs`: content type, ETag, gzip) so one `lull`
//!    file serves everything; it fails here, loudly, when `dist/` is
//!    missing rather than shipping a binary that serves a blank page.
//!    Debug and test builds embed nothing (`cargo test` runs before
//!    `trunk build` in scripts/test.sh, and a fresh clone has no `dist/`);
//!    `lull serve` then serves `--static-dir` / `./dist` or says how to get
//!    the dashboard. Override with `LULL_EMBED_DASHBOARD=1` (embed in any
//!    profile) or `=0` (an API-only binary, never embeds), and the
//!    directory with `LULL_DASHBOARD_DIR` (default: the workspace's `dist/`).
//! 2. The commit for `lull --version`: `LULL_GIT_COMMIT` when set (a source
//!    tarball has no `.git`), else `git rev-parse`, else `unknown`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/http/assets/pack.rs"]
mod pack;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/http/assets/pack.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    embed_dashboard(&manifest, &out);
    git_commit(&manifest);
}

fn embed_dashboard(manifest: &Path, out: &Path) {
    println!("cargo:rerun-if-env-changed=LULL_EMBED_DASHBOARD");
    println!("cargo:rerun-if-env-changed=LULL_DASHBOARD_DIR");
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let embed = match std::env::var("LULL_EMBED_DASHBOARD").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        Ok(other) => panic!("LULL_EMBED_DASHBOARD={other:?}: use 1 (embed) or 0 (API-only binary)"),
        Err(_) => profile == "release",
    };
    let generated = out.join("dashboard_assets.rs");
    if !embed {
        std::fs::write(
            &generated,
            "/// Not embedded in this build (debug/test, or LULL_EMBED_DASHBOARD=0).\n\
             pub static EMBEDDED: Option<&[EmbeddedFile]> = None;\n",
        )
        .expect("write dashboard_assets.rs");
        return;
    }
    let dist = std::env::var_os("LULL_DASHBOARD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("..").join("dist"));
    // Cargo scans a directory recursively for changes: a new `trunk build`
    // re-embeds.
    println!("cargo:rerun-if-changed={}", dist.display());
    if !dist.join("index.html").is_file() {
        panic!(
            "\n\n  lull: the {profile} build embeds the dashboard, but {} has no index.html.\n  \
             Build the dashboard first:   trunk build --release   (from the workspace root),\n  \
             or build an API-only binary: LULL_EMBED_DASHBOARD=0 cargo build --release -p server\n\n",
            dist.display()
        );
    }
    let mut files = Vec::new();
    walk(&dist, &dist, &mut files);
    files.sort();
    let mut code = String::from(
        "/// Trunk's `dist/`, packed by server/build.rs.\n\
         pub static EMBEDDED: Option<&[EmbeddedFile]> = Some(&[\n",
    );
    let mut total = 0usize;
    for (i, (rel, abs)) in files.iter().enumerate() {
        let bytes = std::fs::read(abs).unwrap_or_else(|e| panic!("read {}: {e}", abs.display()));
        let packed = pack::pack(rel, &bytes);
        let body_path = out.join(format!("dashboard-asset-{i}"));
        let body = packed.gzip.as_deref().unwrap_or(&bytes);
        total += body.len();
        std::fs::write(&body_path, body).expect("write packed asset");
        writeln!(
            code,
            "    EmbeddedFile {{ path: {rel:?}, content_type: {:?}, etag: {:?}, immutable: {}, gzipped: {}, body: include_bytes!({:?}) }},",
            packed.content_type,
            packed.etag,
            packed.immutable,
            packed.gzip.is_some(),
            body_path.display().to_string(),
        )
        .expect("format");
    }
    code.push_str("]);\n");
    std::fs::write(&generated, code).expect("write dashboard_assets.rs");
    println!(
        "cargo:warning=embedding the dashboard: {} files from {}, {} KiB packed",
        files.len(),
        dist.display(),
        total / 1024
    );
}

/// Every regular file under `dir`, as (`/`-separated path relative to
/// `root`, absolute path); hidden ones (Trunk's `.trunk-lock`) are not part
/// of the dashboard.
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files);
        } else if path.is_file() {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        }
    }
}

fn git_commit(manifest: &Path) {
    println!("cargo:rerun-if-env-changed=LULL_GIT_COMMIT");
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(manifest)
            .output()
            .ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    let commit = match std::env::var("LULL_GIT_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ => {
            // Rebuild when HEAD moves: a commit or a checkout changes the
            // version string. (In a worktree these paths live under the
            // main repository's .git; `--git-path` resolves them.)
            for file in ["HEAD", "packed-refs"] {
                watch(git(&["rev-parse", "--git-path", file]), manifest);
            }
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(git(&["rev-parse", "--git-path", &r]), manifest);
            }
            git(&["rev-parse", "--short=12", "HEAD"])
                .map(|c| match git(&["log", "-1", "--format=%cs"]) {
                    Some(date) => format!("{c} {date}"),
                    None => c,
                })
                .unwrap_or_else(|| "unknown".into())
        }
    };
    println!("cargo:rustc-env=LULL_GIT_COMMIT={commit}");
}

/// `rerun-if-changed` for a git file, when it exists (a missing path would
/// make Cargo rerun this script on every build).
fn watch(path: Option<String>, manifest: &Path) {
    if let Some(p) = path {
        let p = manifest.join(p);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}
