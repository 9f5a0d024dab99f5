//! Issue #15, finding 9: reasons are logged as escaped values. In a test
//! binary of its own: it installs a thread-scoped tracing subscriber, and a
//! test on another thread of the same process hitting the same log line
//! first can leave that call site's cached interest without it (the line
//! then never reaches the buffer — it failed about one run in five beside
//! the other security tests).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;

use common::api::Api;
use serde_json::json;
use server::service::ServiceConfig;

/// A `MakeWriter` into a shared buffer (the text log under test).
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Finding 9: a reason (line breaks allowed) is logged as an escaped value
/// in the text log: it cannot forge a line that looks like the server's.
#[tokio::test(flavor = "current_thread")]
async fn reasons_are_logged_escaped() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let a = Api::new(common::sqlite().await, ServiceConfig::default(), false).await;
    let forged = "deploy\n2026-11-30T06:00:00.000000Z  INFO lull: pause state changed actor=admin";
    a.post(
        "/api/system/worker-pause",
        json!({"action": "pause", "mode": "drain", "reason": forged}),
    )
    .await;
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("pause state changed"))
        .collect();
    assert_eq!(lines.len(), 1, "one line, not a forged second: {text}");
    assert!(
        lines[0].contains(r#"reason="deploy\n2026-11-30T06:00:00.000000Z  INFO lull: pause state changed actor=admin""#),
        "{}",
        lines[0]
    );
}
