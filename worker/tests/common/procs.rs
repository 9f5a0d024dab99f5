//! The processes under test: `lull serve` and `lull-worker`, both killed on
//! drop, with the worker's JSON log lines collected for assertions.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::eventually;

/// Removes every `LULL_*` variable the test run carries, so neither process
/// picks up settings from the developer's shell.
fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LULL_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
}

fn lull_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_lull-worker")).with_file_name("lull");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p server` before these tests",
        p.display()
    );
    p
}

/// Runs the `lull` CLI against the server at `base` (no token, no other
/// `LULL_*` settings from the test's environment).
pub fn lull_cli(base: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(lull_binary());
    clean_env(&mut cmd);
    cmd.args(args)
        .env("LULL_SERVER", base)
        .env("NO_COLOR", "1")
        .output()
        .expect("run lull")
}

/// A free loopback port (for a server that must come back on the same one).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `lull serve`.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts on `port` (0: any); the server tells workers to poll every
    /// 300 ms while paused, so pause tests run quickly.
    pub fn start(database_url: &str, port: u16) -> Server {
        Self::start_with(database_url, port, &[])
    }

    /// [`Server::start`] with extra environment (`LULL_*` settings).
    pub fn start_with(database_url: &str, port: u16, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(lull_binary());
        clean_env(&mut cmd);
        let mut child = cmd
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--database-url",
                database_url,
                "--static-dir",
                "/nonexistent",
            ])
            .env("NO_COLOR", "1")
            .env("LULL_LOG", "info")
            .env("LULL_PAUSE_POLL_INTERVAL_MS", "300")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn lull");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep reading to the end: a full pipe would block the server.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    let url: String = line[i + "listening on ".len()..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                        .collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url);
                    }
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("lull did not start listening");
        Server { child, base }
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// SIGKILL: the server is gone without a goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `lull-worker` with its log lines.
pub struct WorkerProc {
    child: Child,
    pub id: String,
    pub spool: PathBuf,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl WorkerProc {
    /// Starts a worker with a spool under `dir`, fast heartbeats and replay,
    /// debug logs as JSON; `extra` flags replace the defaults they name.
    pub fn start(server: &str, id: &str, dir: &Path, extra: &[&str]) -> WorkerProc {
        Self::start_with_env(server, id, dir, extra, &[])
    }

    /// [`WorkerProc::start`] with extra environment (`LULL_TOKEN`).
    pub fn start_with_env(
        server: &str,
        id: &str,
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> WorkerProc {
        let spool = dir.join(format!("spool-{id}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lull-worker"));
        clean_env(&mut cmd);
        cmd.args([
            "--server",
            server,
            "--worker-id",
            id,
            "--log-format",
            "json",
        ])
        .arg("--spool-dir")
        .arg(&spool);
        for (flag, value) in [
            ("--heartbeat-interval-ms", "300"),
            ("--replay-interval-ms", "200"),
            ("--wait-ms", "5000"),
        ] {
            if !extra.contains(&flag) {
                cmd.args([flag, value]);
            }
        }
        let mut child = cmd
            .args(extra)
            .env("LULL_LOG", "info,worker=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lull-worker");
        let logs: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = logs.clone();
        let stderr = child.stderr.take().unwrap();
        let tag = id.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().unwrap().push(v);
            }
        });
        WorkerProc {
            child,
            id: id.to_string(),
            spool,
            logs,
        }
    }

    /// Log lines whose message starts with `message`.
    pub fn logs(&self, message: &str) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .cloned()
            .collect()
    }

    /// Waits for `count` log lines matching `message` and `pred`.
    pub async fn wait_logs(
        &self,
        message: &str,
        count: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        eventually(
            &format!("{count} × log {message:?} from {}", self.id),
            timeout,
            || {
                let found: Vec<Value> = self.logs(message).into_iter().filter(&pred).collect();
                std::future::ready((found.len() >= count).then_some(found))
            },
        )
        .await
    }

    /// Claims sent and not yet answered (from the worker's debug log).
    pub fn claims_in_flight(&self) -> usize {
        let sent = self.logs("claim sent").len();
        sent.saturating_sub(self.logs("claim answered").len())
    }

    /// Waits until `in_flight(claims in flight)` holds.
    pub async fn wait_claims(
        &self,
        what: &str,
        timeout: Duration,
        in_flight: impl Fn(usize) -> bool,
    ) {
        eventually(&format!("{} to have {what}", self.id), timeout, || {
            std::future::ready(in_flight(self.claims_in_flight()).then_some(()))
        })
        .await
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = &mut self.child;
        let id = self.id.clone();
        eventually(&format!("worker {id} to exit"), timeout, || {
            std::future::ready(child.try_wait().unwrap())
        })
        .await
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
