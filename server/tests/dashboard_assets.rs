//! The dashboard's files as a browser gets them from a real `lull serve`
//! over HTTP: content types, strong ETags answered with 304, a year of
//! caching for Trunk's hashed files and revalidation for `index.html`,
//! gzip when accepted (and only then), the SPA fallback to `index.html`
//! with the runtime config injected, and the API untouched. The files come
//! from `--static-dir` here (this debug build embeds nothing); the release
//! binary's embedded copy goes through the same code (`http::assets`) and
//! is exercised by end2end/playwright.embedded.config.ts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use testkit::TempDir;

const JS: &str = "frontend-0123456789abcdef.js";
const WASM: &str = "frontend-0123456789abcdef_bg.wasm";
const CSS: &str = "main-89abcdef01234567.css";

/// A `lull serve` started in `cwd`, killed on drop.
struct Server {
    child: Child,
    base: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(cwd: &Path, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lull"))
        .current_dir(cwd)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}/lull.db", cwd.display()))
        .args(args)
        .env("NO_COLOR", "1")
        .env("LULL_LOG", "info")
        .env_remove("LULL_STATIC_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lull");
    let stdout = child.stdout.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let keep = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on http://") {
                let url: String = line[i + "listening on ".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let _ = tx.send(url);
            }
            keep.lock().unwrap().push(line);
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("lull did not start");
    Server { child, base, log }
}

/// A Trunk-like `dist/`: an index, hashed JS/WASM/CSS, a plain file.
fn dist(dir: &Path) {
    std::fs::write(
        dir.join("index.html"),
        format!(
            "<!DOCTYPE html><html><head><title>Lull</title>\
             <link rel=\"stylesheet\" href=\"/{CSS}\"><script type=\"module\" src=\"/{JS}\"></script>\
             </head><body></body></html>"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(JS),
        "export function run() { return 1; }\n".repeat(400),
    )
    .unwrap();
    // WASM magic, then compressible content.
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(7u8, 50_000));
    std::fs::write(dir.join(WASM), wasm).unwrap();
    std::fs::write(dir.join(CSS), "body { margin: 0 }\n".repeat(100)).unwrap();
    std::fs::write(dir.join("robots.txt"), "User-agent: *\n").unwrap();
    // Trunk leaves a lock file in dist/: not served.
    std::fs::write(dir.join(".trunk-lock"), "lock").unwrap();
}

fn client() -> reqwest::Client {
    // No automatic decompression (reqwest is built without it here): the
    // test sees the bytes and headers on the wire.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn headers_etags_gzip_and_fallback_over_http() {
    let cwd = TempDir::new();
    let files = TempDir::new();
    dist(&files.0);
    let s = serve(&cwd.0, &["--static-dir", files.0.to_str().unwrap()]);
    let c = client();
    let get = |path: &str| c.get(format!("{}{path}", s.base));

    // Hashed files: their type, cached for a year, gzip when accepted.
    for (path, ty) in [
        (JS, "text/javascript; charset=utf-8"),
        (WASM, "application/wasm"),
        (CSS, "text/css; charset=utf-8"),
    ] {
        let on_disk = std::fs::read(files.0.join(path)).unwrap();
        let r = get(&format!("/{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h[CONTENT_TYPE], ty, "{path}");
        assert_eq!(
            h[CACHE_CONTROL], "public, max-age=31536000, immutable",
            "{path}"
        );
        assert!(
            h.get(CONTENT_ENCODING).is_none(),
            "no gzip unless asked: {path}"
        );
        assert_eq!(h[VARY], "accept-encoding");
        let etag = h[ETAG].to_str().unwrap().to_string();
        assert!(
            etag.starts_with('"') && !etag.starts_with("W/"),
            "strong: {etag}"
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), &on_disk[..], "{path}");

        let r = get(&format!("/{path}"))
            .header(ACCEPT_ENCODING, "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip", "{path}");
        assert_eq!(r.headers()[ETAG].to_str().unwrap(), etag);
        let body = r.bytes().await.unwrap();
        assert!(body.len() < on_disk.len() / 2, "{path} compresses");
        assert_eq!(gunzip(&body), on_disk, "{path}");

        // Revalidation: 304, no body, same validators.
        let r = get(&format!("/{path}"))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{path}");
        assert_eq!(r.headers()[ETAG].to_str().unwrap(), etag);
        assert!(r.bytes().await.unwrap().is_empty());
        let r = get(&format!("/{path}"))
            .header(IF_NONE_MATCH, "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }

    // index.html: revalidated every time, carries the runtime config; `/`
    // and client-side routes get the same page.
    let r = get("/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(r.headers()[CACHE_CONTROL], "no-cache");
    let index_etag = r.headers()[ETAG].to_str().unwrap().to_string();
    let page = r.text().await.unwrap();
    let config_at = page
        .find("<script id=\"lull-config\"")
        .expect("config injected");
    assert!(config_at < page.find("</head>").unwrap());
    assert!(page.contains(&format!("/{JS}")));
    for route in [
        "/index.html",
        "/workers",
        "/jobs/0b5e7c1e-3f0a-4a57-9f43-2a8c1d2e4f60",
    ] {
        let r = get(route).send().await.unwrap();
        assert_eq!(r.status(), 200, "{route}");
        assert_eq!(r.headers()[CACHE_CONTROL], "no-cache", "{route}");
        assert_eq!(r.headers()[ETAG].to_str().unwrap(), index_etag, "{route}");
        assert_eq!(r.text().await.unwrap(), page, "{route}");
    }
    let r = get("/")
        .header(IF_NONE_MATCH, &index_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-cache");

    // An unhashed file: revalidated, not immutable; too small to gzip.
    let r = get("/robots.txt")
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(r.headers()[CACHE_CONTROL], "no-cache");
    assert!(r.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(r.text().await.unwrap(), "User-agent: *\n");

    // Hidden files are not served: the path is a client route like any other.
    let r = get("/.trunk-lock").send().await.unwrap();
    assert_eq!(r.headers()[CACHE_CONTROL], "no-cache");
    assert_eq!(r.text().await.unwrap(), page);

    // HEAD: the headers without the body.
    let r = c.head(format!("{}/{WASM}", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/wasm");
    assert!(r.bytes().await.unwrap().is_empty());

    // The API is not swallowed by the fallback.
    let r = get("/api/no-such-route").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()[CONTENT_TYPE].to_str().unwrap(),
        "application/json"
    );
    let r = get("/api/system/worker-pause").send().await.unwrap();
    assert_eq!(r.status(), 200);

    let log = s.log.lock().unwrap().join("\n");
    assert!(log.contains("serving the dashboard"), "{log}");
}

/// A build without the dashboard, run where there is no `dist/`: the API
/// works, the page and the start-up log say how to get the dashboard.
#[tokio::test]
async fn without_a_dashboard_it_says_how_to_get_one() {
    if server::http::assets::embedded_available() {
        // A release test build carries the dashboard: nothing to say.
        return;
    }
    let cwd = TempDir::new();
    let s = serve(&cwd.0, &[]);
    let c = client();
    let page = c
        .get(format!("{}/", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("trunk build --release"), "{page}");
    assert!(page.contains("The API is up"), "{page}");
    let r = c
        .get(format!("{}/api/system/worker-pause", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let log = s.log.lock().unwrap().join("\n");
    assert!(
        log.contains("built without the dashboard") && log.contains("trunk build --release"),
        "{log}"
    );

    // `./dist` beside it is picked up (a debug build run from the
    // workspace), with no flag.
    let cwd = TempDir::new();
    std::fs::create_dir_all(cwd.0.join("dist")).unwrap();
    dist(&cwd.0.join("dist"));
    let s = serve(&cwd.0, &[]);
    let r = c.get(format!("{}/{JS}", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
}
