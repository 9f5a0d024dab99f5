//! A real `lull serve` process: started on port 0, found by its "listening
//! on" log line, measured through `/proc`, and `kill -9`'d on demand or on
//! drop (so a failed scenario never leaves a server behind).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// How many of the server's last output lines are kept for diagnostics.
const LOG_LINES: usize = 200;

/// A running `lull serve`.
pub struct Server {
    child: Child,
    /// Where it listens (loopback, an ephemeral port).
    pub addr: SocketAddr,
    /// The server's last output lines (stdout and stderr).
    pub log: Arc<Mutex<VecDeque<String>>>,
}

/// Options for [`Server::start`].
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra `lull serve` flags.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Listen on this address instead of an ephemeral port (a restarted
    /// server keeps its address, so clients reconnect to it).
    pub listen: Option<SocketAddr>,
}

fn keep(log: &Mutex<VecDeque<String>>, line: String) {
    if let Ok(mut l) = log.lock() {
        if l.len() == LOG_LINES {
            l.pop_front();
        }
        l.push_back(line);
    }
}

impl Server {
    /// Starts `lull serve` on `database_url` and waits (at most 60 s) until it
    /// says where it listens.
    pub async fn start(lull: &Path, database_url: &str, opts: &ServerOptions) -> Result<Server> {
        let listen = opts
            .listen
            .map(|a| a.to_string())
            .unwrap_or_else(|| "127.0.0.1:0".into());
        let mut child = Command::new(lull)
            .args(["serve", "--database-url", database_url])
            .args(["--listen", &listen])
            .args(["--static-dir", "/nonexistent"])
            .args(&opts.args)
            .env("NO_COLOR", "1")
            .env_remove("LULL_LOG")
            .env_remove("LULL_AUTH")
            .env_remove("LULL_CONFIG")
            .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawning {}", lull.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let stderr = child.stderr.take().context("stderr")?;
        let log: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let err_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep(&err_log, line);
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let out_log = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    if let Some(tx) = tx.take() {
                        let rest = &line[i + "listening on http://".len()..];
                        let addr: String =
                            rest.chars().take_while(|c| !c.is_whitespace()).collect();
                        let _ = tx.send(addr);
                    }
                }
                keep(&out_log, line);
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(a)) => a,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let tail: Vec<String> = log
                    .lock()
                    .map(|l| l.iter().cloned().collect())
                    .unwrap_or_default();
                bail!("lull did not start on {database_url}:\n{}", tail.join("\n"));
            }
        };
        let addr: SocketAddr = addr
            .parse()
            .with_context(|| format!("bad listen address {addr:?}"))?;
        Ok(Server { child, addr, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid())
    }

    /// SIGKILL, then reap. Idempotent.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines the server printed (for failure messages).
    pub fn tail(&self) -> String {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for pid {pid}"))
}

/// The workspace's `target/` directory: `CARGO_TARGET_DIR`, else the
/// `target/` above this crate.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Builds `lull` with cargo in `profile` (`release` or `dev`) and returns
/// its path. Cargo makes this a no-op when the binary is current.
pub fn build_lull(release: bool) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["build", "--quiet", "-p", "server", "--bin", "lull"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build for lull")?;
    if !status.success() {
        bail!("cargo build -p server --bin lull failed ({status})");
    }
    let path = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("lull");
    if !path.exists() {
        bail!("built lull, but {} does not exist", path.display());
    }
    Ok(path)
}
