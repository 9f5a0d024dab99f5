//! A real `lull` server, started in-process on port 0 over a fresh test
//! database, and stopped when dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
#![allow(dead_code)] // each test binary uses a different part

use client::Client;
use testkit::TestDb;

pub struct TestServer {
    pub base: String,
    /// The database's URL (for minting tokens).
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Authentication disabled (everyone is the local operator).
    pub async fn start(db: &TestDb) -> TestServer {
        Self::start_with(db, None).await
    }

    /// Token mode: every caller but `/livez`, `/health` and `/auth/me`
    /// needs a bearer token.
    pub async fn start_token_mode(db: &TestDb) -> TestServer {
        Self::start_with(db, Some("token")).await
    }

    async fn start_with(db: &TestDb, auth: Option<&str>) -> TestServer {
        let cfg = server::config::ConfigArgs {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(db.url.clone()),
            static_dir: Some("/nonexistent".into()),
            auth: auth.map(str::to_string),
            pause_poll_interval_ms: Some(300),
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
        TestServer {
            base: format!("http://{addr}"),
            database_url: db.url.clone(),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// A client without a token.
    pub fn client(&self) -> Client {
        Client::new(&self.base).unwrap()
    }

    /// A client with `token`.
    pub fn client_with(&self, token: &str) -> Client {
        Client::builder(&self.base).token(token).build().unwrap()
    }

    /// Creates a token (as `lull token create` does) and returns its secret.
    pub async fn mint_token(&self, name: &str, role: &str) -> String {
        let tokens = server::service::tokens::Tokens::open(&self.database_url)
            .await
            .expect("open the store");
        let role = server::domain::Role::parse(role).expect("a role");
        let (_, token) = tokens.create(name, role).await.expect("create a token");
        token
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}
