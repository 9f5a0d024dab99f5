//! A real `lull serve` process for tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `lull serve`, killed (SIGKILL) on drop.
pub struct Lull {
    child: Child,
    pub base: String,
    /// Everything the server printed so far (stdout and stderr).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Lull {
    pub fn start(database_url: &str) -> Lull {
        Self::start_with(database_url, &[], &[])
    }

    /// Starts with extra flags and environment; every output line is kept
    /// in `log` (to check what the server writes).
    pub fn start_with(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Lull {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lull"))
            .args(["serve", "--database-url", database_url])
            .args(if args.contains(&"--listen") {
                &[][..]
            } else {
                &["--listen", "127.0.0.1:0"][..]
            })
            .args(["--static-dir", "/nonexistent"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("LULL_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lull");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let err_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[lull stderr] {line}");
                err_log.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out_log = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                out_log.lock().unwrap().push(line.clone());
                if !sent {
                    if let Some(i) = line.find("listening on http://") {
                        let rest = &line[i + "listening on ".len()..];
                        let url: String = rest
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                            .collect();
                        let _ = tx.send(url);
                        sent = true;
                    }
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("lull did not start");
        Lull { child, base, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Lull {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `lull` CLI against `server` (no token from the environment).
pub fn lull(server: &Lull, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(args)
        .env("LULL_SERVER", &server.base)
        .env_remove("LULL_TOKEN")
        .output()
        .unwrap()
}

/// A command's stdout and stderr, together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
