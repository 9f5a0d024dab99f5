//! The dashboard's files, served from memory: embedded in the release
//! binary by `server/build.rs`, or read from `--static-dir` at start-up.
//! Either way each file is packed once ([`pack`]): the right
//! `Content-Type`, a strong `ETag` answered with `304 Not Modified` on a
//! matching `If-None-Match`, `Cache-Control: public, max-age=31536000,
//! immutable` for Trunk's content-hashed files and `no-cache` (revalidate)
//! for the rest, above all `index.html`, and the gzip form when the client
//! accepts it. Unknown paths get `index.html`: the SPA routes on the client.

pub mod pack;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// One file of the embedded dashboard (the table `build.rs` generates).
pub struct EmbeddedFile {
    pub path: &'static str,
    pub content_type: &'static str,
    pub etag: &'static str,
    pub immutable: bool,
    /// `body` is the gzip encoding of the file (else the file itself).
    pub gzipped: bool,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// Whether this binary carries the dashboard.
pub fn embedded_available() -> bool {
    EMBEDDED.is_some()
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// A file as served.
#[derive(Clone)]
struct Asset {
    content_type: HeaderValue,
    etag: HeaderValue,
    cache_control: &'static str,
    /// The gzip encoding when `gzipped`, else the file.
    body: Bytes,
    gzipped: bool,
}

impl Asset {
    fn new(
        content_type: &str,
        etag: &str,
        immutable: bool,
        body: Bytes,
        gzipped: bool,
    ) -> Result<Asset, String> {
        Ok(Asset {
            content_type: HeaderValue::from_str(content_type).map_err(|e| e.to_string())?,
            etag: HeaderValue::from_str(etag).map_err(|e| e.to_string())?,
            cache_control: if immutable { IMMUTABLE } else { REVALIDATE },
            body,
            gzipped,
        })
    }

    fn packed(path: &str, bytes: &[u8]) -> Result<Asset, String> {
        let p = pack::pack(path, bytes);
        let (body, gzipped) = match p.gzip {
            Some(gz) => (Bytes::from(gz), true),
            None => (Bytes::copy_from_slice(bytes), false),
        };
        Asset::new(&p.content_type, &p.etag, p.immutable, body, gzipped)
    }

    /// The file itself (decoded when stored gzipped).
    fn decoded(&self) -> std::io::Result<Vec<u8>> {
        if !self.gzipped {
            return Ok(self.body.to_vec());
        }
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&self.body[..]).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// The dashboard: every file by path, `index.html` already holding the
/// injected runtime config.
#[derive(Clone)]
pub struct AssetSet {
    files: Arc<HashMap<String, Asset>>,
}

/// Why the dashboard cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("{0} has no index.html: build the dashboard with `trunk build --release`")]
    NoIndex(String),
    #[error("reading the dashboard at {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("dashboard file {path}: {message}")]
    Bad { path: String, message: String },
}

impl AssetSet {
    /// The files embedded in this binary, if any.
    pub fn embedded(inject: impl Fn(&str) -> String) -> Result<Option<AssetSet>, AssetError> {
        let Some(table) = EMBEDDED else {
            return Ok(None);
        };
        let mut files = HashMap::new();
        for f in table {
            let asset = Asset::new(
                f.content_type,
                f.etag,
                f.immutable,
                Bytes::from_static(f.body),
                f.gzipped,
            )
            .map_err(|message| AssetError::Bad {
                path: f.path.into(),
                message,
            })?;
            files.insert(f.path.to_string(), asset);
        }
        AssetSet::finish(files, "the embedded dashboard", inject).map(Some)
    }

    /// Every file under `dir`, packed now.
    pub fn from_dir(dir: &Path, inject: impl Fn(&str) -> String) -> Result<AssetSet, AssetError> {
        let mut files = HashMap::new();
        read_dir(dir, dir, &mut files)?;
        AssetSet::finish(files, &dir.display().to_string(), inject)
    }

    /// Replaces `index.html` with `inject(index.html)`, packed again (its
    /// ETag then covers the config too).
    fn finish(
        mut files: HashMap<String, Asset>,
        origin: &str,
        inject: impl Fn(&str) -> String,
    ) -> Result<AssetSet, AssetError> {
        let index = files
            .get("index.html")
            .ok_or_else(|| AssetError::NoIndex(origin.into()))?;
        let bad = |message: String| AssetError::Bad {
            path: "index.html".into(),
            message,
        };
        let raw = index.decoded().map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8(raw).map_err(|e| bad(e.to_string()))?;
        let page = Asset::packed("index.html", inject(&text).as_bytes()).map_err(bad)?;
        files.insert("index.html".into(), page);
        Ok(AssetSet {
            files: Arc::new(files),
        })
    }

    /// How many files (for the start-up log).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Answers a GET or HEAD for `uri` (axum strips the body of HEAD).
    pub fn respond(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "GET, HEAD")],
            )
                .into_response();
        }
        let path = uri.path().trim_start_matches('/');
        let asset = self
            .files
            .get(path)
            .or_else(|| self.files.get("index.html"))
            .expect("an AssetSet always holds index.html");
        serve(asset, headers)
    }
}

fn read_dir(root: &Path, dir: &Path, files: &mut HashMap<String, Asset>) -> Result<(), AssetError> {
    let read_err = |path: &Path| {
        let path = path.display().to_string();
        move |source: std::io::Error| AssetError::Read { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let entry = entry.map_err(read_err(dir))?;
        // Hidden files (Trunk's `.trunk-lock`) are not part of the dashboard.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            read_dir(root, &path, files)?;
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(&path).map_err(read_err(&path))?;
        let asset = Asset::packed(&rel, &bytes).map_err(|message| AssetError::Bad {
            path: rel.clone(),
            message,
        })?;
        files.insert(rel, asset);
    }
    Ok(())
}

fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let mut resp = if if_none_match(headers, &asset.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if !asset.gzipped {
        let mut r = Response::new(Body::from(asset.body.clone()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, asset.content_type.clone());
        r
    } else if accepts_gzip(headers) {
        let mut r = Response::new(Body::from(asset.body.clone()));
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, asset.content_type.clone());
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        match asset.decoded() {
            Ok(body) => {
                let mut r = Response::new(Body::from(body));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, asset.content_type.clone());
                r
            }
            Err(e) => {
                tracing::error!(error = %e, "embedded dashboard file does not decode");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    if asset.gzipped {
        // Caches must keep the gzip and the plain answer apart.
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    resp
}

/// `If-None-Match` lists our ETag (or is `*`). Weak comparison, as RFC 9110
/// asks for `If-None-Match`: a `W/` prefix is ignored.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/").as_bytes() == ours)
}

/// `Accept-Encoding` names `gzip` (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::pack::*;
    use super::*;

    #[test]
    fn trunk_hashed_names_are_immutable() {
        for hashed in [
            "frontend-8f1c2d3e4a5b6c7d.js",
            "frontend-8f1c2d3e4a5b6c7d_bg.wasm",
            "main-0123456789abcdef.css",
        ] {
            assert!(is_hashed_name(hashed), "{hashed}");
        }
        for plain in [
            "index.html",
            "favicon.ico",
            "my-logo.svg",
            "frontend-XYZ12345.js",
        ] {
            assert!(!is_hashed_name(plain), "{plain}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a-1.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a_bg.wasm"), "application/wasm");
        assert_eq!(content_type("main.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.unknownext"), "application/octet-stream");
    }

    #[test]
    fn gzip_only_when_it_pays() {
        let text = "the same line again\n".repeat(200);
        let p = pack("a.js", text.as_bytes());
        let gz = p.gzip.expect("repetitive text compresses");
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        // 64 bytes of noise do not shrink: stored as they are.
        let noise: Vec<u8> = (0u32..64)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(pack("n.bin", &noise).gzip.is_none());
        // Strong, quoted, content-derived.
        assert_eq!(p.etag, pack("other-name.js", text.as_bytes()).etag);
        assert!(p.etag.starts_with('"') && p.etag.ends_with('"') && p.etag.len() == 34);
    }

    #[test]
    fn conditional_and_encoding_headers() {
        let etag = HeaderValue::from_static("\"abc\"");
        let h = |name: header::HeaderName, v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(name, HeaderValue::from_static(v));
            m
        };
        assert!(if_none_match(&h(header::IF_NONE_MATCH, "\"abc\""), &etag));
        assert!(if_none_match(
            &h(header::IF_NONE_MATCH, "\"x\", W/\"abc\""),
            &etag
        ));
        assert!(if_none_match(&h(header::IF_NONE_MATCH, "*"), &etag));
        assert!(!if_none_match(&h(header::IF_NONE_MATCH, "\"abd\""), &etag));
        assert!(!if_none_match(&HeaderMap::new(), &etag));
        assert!(accepts_gzip(&h(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )));
        assert!(accepts_gzip(&h(
            header::ACCEPT_ENCODING,
            "br;q=1.0, GZIP;q=0.5"
        )));
        assert!(accepts_gzip(&h(header::ACCEPT_ENCODING, "*")));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&h(header::ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
