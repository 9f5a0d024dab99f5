//! How one dashboard file is prepared for serving: its content type, a
//! strong `ETag` (a content hash), whether it may be cached forever (Trunk
//! put a content hash in its name), and its gzip form when that is smaller.
//!
//! Shared, through `#[path]`, by `server/build.rs` (which packs Trunk's
//! `dist/` into the release binary) and by `--static-dir` (which packs a
//! directory at start-up), so both are served with the same headers.

use std::io::Write;

use sha2::{Digest, Sha256};

/// A file ready to be served.
pub struct Packed {
    pub content_type: String,
    /// Quoted, strong: `"<first 16 bytes of the SHA-256, hex>"`.
    pub etag: String,
    /// The name carries Trunk's content hash: safe to cache for a year.
    pub immutable: bool,
    /// The gzip encoding, when it is at least 10 % smaller than the file.
    pub gzip: Option<Vec<u8>>,
}

/// Packs `bytes`, the content of the file at `path` (a `/`-separated
/// path relative to the dashboard root, like `frontend-1a2b…_bg.wasm`).
pub fn pack(path: &str, bytes: &[u8]) -> Packed {
    let digest = Sha256::digest(bytes);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let gzip = gzip(bytes).filter(|gz| gz.len() * 10 < bytes.len() * 9);
    Packed {
        content_type: content_type(path),
        etag,
        immutable: is_hashed_name(path),
        gzip,
    }
}

/// The `Content-Type` for `path`, from its extension; text gets
/// `charset=utf-8` (Trunk writes UTF-8).
pub fn content_type(path: &str) -> String {
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    if mime.starts_with("text/") || mime == "application/javascript" || mime == "application/json" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

/// Trunk names its outputs `<name>-<hash>` (`frontend-8f1c2d3e4a5b6c7d.js`,
/// `frontend-8f1c2d3e4a5b6c7d_bg.wasm`, `main-0123456789abcdef.css`): the
/// hash is 8 to 16 lower-case hex digits after the last `-` of the file
/// name, up to the first `_` or `.`.
pub fn is_hashed_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, tail)) = name.rsplit_once('-') else {
        return false;
    };
    let hash = tail.split(['_', '.']).next().unwrap_or("");
    (8..=16).contains(&hash.len())
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}
