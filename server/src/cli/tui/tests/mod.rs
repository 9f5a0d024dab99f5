//! The TUI against a real `lull serve` (started in process on port 0, over
//! a fresh SQLite file or a throwaway PostgreSQL database): keys go
//! through the state machine, its calls through [`Io`] to the server, and
//! the screen is drawn into ratatui's `TestBackend` and read as text.
//! What the screen says is checked against what the REST API says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod screens;

use std::collections::VecDeque;

use chrono::Utc;
use client::Client;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use testkit::TestDb;
use wire::{RegisterRequest, ReportedState, WorkerHeartbeatRequest};

use super::io::Io;
use super::state::{Effect, Key, Msg, State};
use super::view::{self, Theme};

/// A server for one test, stopped when dropped.
pub struct Server {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(db: &TestDb) -> Server {
        Self::start_with(db, None).await
    }

    /// Token mode: every call needs a bearer token.
    pub async fn start_token_mode(db: &TestDb) -> Server {
        Self::start_with(db, Some("token")).await
    }

    async fn start_with(db: &TestDb, auth: Option<&str>) -> Server {
        let cfg = server::config::ConfigArgs {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(db.url.clone()),
            static_dir: Some("/nonexistent".into()),
            auth: auth.map(str::to_string),
            ..Default::default()
        }
        .resolve()
        .expect("a valid test configuration");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, _svc, handle) = server::start(&cfg, async move {
            let _ = stopped.await;
        })
        .await
        .expect("the server starts");
        Server {
            base: format!("http://{addr}"),
            stop: Some(stop),
            handle,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base).unwrap()
    }

    /// A client with a fresh token `name` of `role` (as `lull token
    /// create`; a worker token's name is its worker id).
    pub async fn client_as(&self, db: &TestDb, name: &str, role: &str) -> Client {
        let tokens = server::service::tokens::Tokens::open(&db.url)
            .await
            .unwrap();
        let role = server::domain::Role::parse(role).unwrap();
        let (_, token) = tokens.create(name, role).await.unwrap();
        Client::builder(&self.base).token(token).build().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.abort();
    }
}

/// Registers running workers `ids` (each heartbeats once: observed
/// running, so the safety rule counts them available).
pub async fn register(api: &Client, ids: &[&str]) {
    for id in ids {
        api.register(&RegisterRequest {
            worker_id: Some(id.to_string()),
            name: Some(format!("{id}-name")),
            boot_id: Some(format!("{id}-boot-1")),
            ..Default::default()
        })
        .await
        .unwrap();
        api.worker_heartbeat(
            id,
            &WorkerHeartbeatRequest {
                boot_id: Some(format!("{id}-boot-1")),
                state: Some(ReportedState::Running),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
}

/// The TUI, driven key by key; every call it asks for is made (and
/// answered) before the next key, so a test reads a settled screen.
pub struct Tui {
    pub state: State,
    pub io: Io,
    pub theme: Theme,
    term: Terminal<TestBackend>,
}

impl Tui {
    /// An 80×24 TUI of `server`, with its first reads done.
    pub async fn open(server: &Server) -> Tui {
        Self::open_with(server, server.client()).await
    }

    /// The same, calling through `api` (a client with a token).
    pub async fn open_with(server: &Server, api: Client) -> Tui {
        let mut tui = Tui {
            state: State::new(&server.base, Utc::now()),
            io: Io { api },
            theme: Theme { color: true },
            term: Terminal::new(TestBackend::new(80, 24)).unwrap(),
        };
        let first = tui.state.start();
        tui.run(first).await;
        tui
    }

    /// Makes the calls, feeds the answers, until nothing is left to do.
    pub async fn run(&mut self, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            let msg = self.io.run(effect).await;
            queue.extend(self.state.update(msg));
        }
    }

    pub async fn msg(&mut self, msg: Msg) {
        let effects = self.state.update(msg);
        self.run(effects).await;
    }

    pub async fn key(&mut self, key: Key) {
        self.msg(Msg::Key(key)).await;
    }

    /// Types `text`, a key per character.
    pub async fn typ(&mut self, text: &str) {
        for c in text.chars() {
            self.key(Key::Char(c)).await;
        }
    }

    /// A clock tick now (polls, follows a rolling restart).
    pub async fn tick(&mut self) {
        self.msg(Msg::Tick(Utc::now())).await;
    }

    /// Reads the fleet again, as the stream or polling would.
    pub async fn refresh(&mut self) {
        self.run(vec![Effect::Refresh]).await;
    }

    /// The screen as text, a line per row.
    pub fn screen(&mut self) -> String {
        let (state, theme) = (&self.state, self.theme);
        self.term
            .draw(|f| view::render(f, state, theme))
            .expect("draws");
        let buf = self.term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    /// The screen's row that shows `needle`.
    pub fn row(&mut self, needle: &str) -> String {
        let screen = self.screen();
        screen
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no row shows {needle:?}:\n{screen}"))
            .to_string()
    }

    /// Panics with the screen unless it shows every one of `needles`.
    pub fn expect(&mut self, needles: &[&str]) {
        let screen = self.screen();
        for n in needles {
            assert!(
                screen.contains(n),
                "the screen does not show {n:?}:\n{screen}"
            );
        }
    }

    pub fn buffer(&self) -> &ratatui::buffer::Buffer {
        self.term.backend().buffer()
    }
}
