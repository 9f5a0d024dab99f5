//! `lull tui` end to end: the real binary in a real terminal (`tmux`, 80×24),
//! driven with `send-keys` and read with `capture-pane`, against a real
//! `lull serve` on each store; what the screen shows is checked against
//! what the REST API says (through the typed client). Every wait polls the
//! pane until the text appears, with a deadline.
//!
//! It sees the banner and three registered workers, selects one and drains
//! it with a reason (the API shows it draining, the audit log the reason),
//! pauses the fleet (the banner says so), drains every worker (the
//! typed-phrase dialog, then the override), and quits — by `q`, and by
//! SIGTERM — leaving the terminal out of raw mode and the alternate screen.
//!
//! Needs `tmux` (`bash scripts/setup.sh --cli-tools` installs it); without
//! it the test prints SKIPPED, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use client::Client;
use common::process::Lull;
use wire::{DesiredState, EventsQuery, RegisterRequest, ReportedState, WorkerHeartbeatRequest};

const WORKERS: [&str; 3] = ["w-alpha", "w-beta", "w-gamma"];
/// How long any one screen may take to show up.
const DEADLINE: Duration = Duration::from_secs(20);

/// A private tmux server (its own socket) with one 80×24 session running
/// `lull tui`; killed on drop.
struct Pane {
    socket: String,
    /// Where the pane's shell writes `stty -a` after the TUI exits.
    stty: PathBuf,
}

impl Pane {
    fn open(server: &str, dir: &Path) -> Pane {
        let socket = format!("lull-tui-test-{}", uuid::Uuid::new_v4().simple());
        let stty = dir.join(format!("{socket}.stty"));
        // After the TUI exits, the same terminal's settings are recorded:
        // raw mode would show as -icanon -echo.
        let script = format!(
            "'{}' tui; echo \"tui exited $?\"; stty -a > '{}'",
            env!("CARGO_BIN_EXE_lull"),
            stty.display()
        );
        let pane = Pane { socket, stty };
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "80",
            "-y",
            "24",
            "-e",
            &format!("LULL_SERVER={server}"),
            "-e",
            "LULL_TOKEN=",
            "sh",
            "-c",
            &script,
            ";",
            "set-option",
            "-t",
            "tui",
            "remain-on-exit",
            "on",
        ]);
        pane
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys by tmux name (`j`, `Space`, `Enter`, `Escape`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Text, typed literally.
    fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "tui", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "tui"])
    }

    /// Polls the pane until `ok` holds for it; fails with the screen after
    /// [`DEADLINE`].
    async fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn shows(&self, needles: &[&str]) -> String {
        self.wait(&format!("{needles:?}"), |s| {
            needles.iter().all(|n| s.contains(n))
        })
        .await
    }

    /// The pane's line that shows `needle`.
    async fn row(&self, needle: &str, with: &str) -> String {
        let screen = self
            .wait(&format!("a row with {needle} and {with}"), |s| {
                s.lines().any(|l| l.contains(needle) && l.contains(with))
            })
            .await;
        screen
            .lines()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_string()
    }

    /// The TUI's process id (the pane's shell's child).
    fn tui_pid(&self) -> String {
        let shell = self.tmux(&["display-message", "-p", "-t", "tui", "#{pane_pid}"]);
        let shell = shell.trim();
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .expect("the TUI runs")
            .to_string()
    }

    /// After the TUI exited: its status, and the terminal restored.
    async fn expect_restored(&self) {
        // Read with the lines above the pane too: a dead pane's note can
        // push the shell's last output out of the visible rows.
        let deadline = Instant::now() + DEADLINE;
        while !self
            .tmux(&["capture-pane", "-p", "-S", "-", "-t", "tui"])
            .contains("tui exited 0")
        {
            assert!(
                Instant::now() < deadline,
                "the TUI did not exit 0:\n{}",
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let deadline = Instant::now() + DEADLINE;
        let stty = loop {
            match std::fs::read_to_string(&self.stty) {
                Ok(s) if s.contains("icanon") => break s,
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => panic!("no stty output at {}", self.stty.display()),
            }
        };
        let flags: Vec<&str> = stty.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig"] {
            assert!(
                flags.contains(&mode),
                "{mode} is off: the terminal is still raw:\n{stty}"
            );
        }
        let alt = self.tmux(&["display-message", "-p", "-t", "tui", "#{alternate_on}"]);
        assert_eq!(alt.trim(), "0", "still on the alternate screen");
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        let _ = std::fs::remove_file(&self.stty);
    }
}

fn tmux_available() -> bool {
    if Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI=true but tmux is missing: bash scripts/setup.sh --cli-tools installs it"
    );
    eprintln!("SKIPPED: tmux is not installed (bash scripts/setup.sh --cli-tools)");
    false
}

/// Registers the workers and keeps them heartbeating (online, reporting
/// running) until the returned task is aborted.
async fn fleet(api: &Client) -> tokio::task::JoinHandle<()> {
    for id in WORKERS {
        api.register(&RegisterRequest {
            worker_id: Some(id.into()),
            name: Some(format!("{id}-name")),
            boot_id: Some(format!("{id}-boot")),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let api = api.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            for id in WORKERS {
                let beat = WorkerHeartbeatRequest {
                    boot_id: Some(format!("{id}-boot")),
                    state: Some(ReportedState::Running),
                    ..Default::default()
                };
                let _ = api.worker_heartbeat(id, &beat).await;
            }
        }
    })
}

async fn tui_drains_pauses_and_asks_for_the_phrase(url: &str, dir: &Path) {
    let server = Lull::start(url);
    let api = Client::new(&server.base).unwrap();
    let beats = fleet(&api).await;
    // The first heartbeat makes them observed running (available).
    testkit::eventually("three running workers", DEADLINE, || async {
        let w = api.list_workers().await.ok()?.workers;
        (w.iter()
            .filter(|w| w.observed_state == wire::ObservedState::Running)
            .count()
            == 3)
            .then_some(())
    })
    .await;

    let pane = Pane::open(&server.base, dir);
    pane.shows(&["Workers: Running", "w-alpha", "w-beta", "w-gamma", "● live"])
        .await;

    // Select the second worker and drain it, with a reason.
    pane.keys(&["j", "Space"]);
    pane.row("w-beta", "●").await;
    pane.keys(&["d"]);
    pane.shows(&["Drain 1 worker?", "Workers affected: 1 — w-beta", "Reason:"])
        .await;
    pane.text("e2e: drain beta for a kernel update");
    pane.keys(&["Enter"]);
    pane.row("w-beta", "draining").await;
    let workers = api.list_workers().await.unwrap().workers;
    for w in &workers {
        let want = if w.id == "w-beta" {
            DesiredState::Draining
        } else {
            DesiredState::Active
        };
        assert_eq!(w.desired_state, want, "{}", w.id);
    }
    let latest = &api.events(&EventsQuery::default()).await.unwrap().events[0];
    assert_eq!(latest.action, "worker.drain");
    assert_eq!(latest.reason, "e2e: drain beta for a kernel update");
    assert_eq!(latest.targets, ["w-beta"]);

    // A global pause shows in the banner.
    pane.keys(&["P"]);
    pane.shows(&["Pause the fleet?", "(•) drain"]).await;
    pane.text("e2e: fleet pause");
    pane.keys(&["Enter"]);
    pane.shows(&["Workers: Paused (Drain)", "reason: e2e: fleet pause"])
        .await;
    let status = api.pause_status().await.unwrap();
    assert!(status.workers_paused);
    assert_eq!(status.reason.as_deref(), Some("e2e: fleet pause"));

    // Draining every worker: the safety rule's typed phrase.
    pane.keys(&["a", "d"]);
    pane.shows(&["Drain 3 workers?"]).await;
    pane.text("e2e: decommission");
    pane.keys(&["Enter"]);
    let prompt = "Type the phrase to do it anyway: ";
    let screen = pane
        .shows(&[
            "Confirm: this would leave too few workers available",
            prompt,
        ])
        .await;
    let line = screen.lines().find(|l| l.contains(prompt)).unwrap();
    let phrase = line[line.find(prompt).unwrap() + prompt.len()..]
        .trim_end_matches(|c: char| c == '│' || c.is_whitespace())
        .to_string();
    assert_eq!(phrase, "drain 3 workers");
    let still: Vec<_> = api.list_workers().await.unwrap().workers;
    assert_eq!(
        still
            .iter()
            .filter(|w| w.desired_state == DesiredState::Draining)
            .count(),
        1,
        "refused: nothing changed yet"
    );
    pane.text(&phrase);
    pane.keys(&["Enter"]);
    pane.shows(&["safety rule overridden"]).await;
    for id in WORKERS {
        pane.row(id, "draining").await;
    }
    let workers = api.list_workers().await.unwrap().workers;
    assert!(workers
        .iter()
        .all(|w| w.desired_state == DesiredState::Draining));

    pane.keys(&["q"]);
    pane.expect_restored().await;
    beats.abort();
}

async fn tui_restores_the_terminal_on_sigterm(url: &str, dir: &Path) {
    let server = Lull::start(url);
    let pane = Pane::open(&server.base, dir);
    pane.shows(&["Workers: Running", "No worker has registered yet."])
        .await;
    let pid = pane.tui_pid();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    pane.expect_restored().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tui_drains_pauses_and_asks_for_the_phrase() {
    if !tmux_available() {
        return;
    }
    let db = testkit::TestDb::sqlite();
    tui_drains_pauses_and_asks_for_the_phrase(&db.url, &db.dir.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tui_drains_pauses_and_asks_for_the_phrase() {
    if !tmux_available() {
        return;
    }
    let Some(db) = testkit::TestDb::postgres().await else {
        return;
    };
    tui_drains_pauses_and_asks_for_the_phrase(&db.url, &db.dir.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tui_restores_the_terminal_on_sigterm() {
    if !tmux_available() {
        return;
    }
    let db = testkit::TestDb::sqlite();
    tui_restores_the_terminal_on_sigterm(&db.url, &db.dir.0).await;
}
