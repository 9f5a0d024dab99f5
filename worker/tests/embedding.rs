//! The runtime as a library: a custom handler registered in Rust runs a job
//! from a real server, and the shutdown handle drains the worker. On SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::{Api, Db, Server};
use serde_json::{json, Value};
use wire::JobStatus;
use worker::{Checkpoint, Config, Exit, Handler, JobContext, JobError, Registry, Worker};

struct WordCount;

#[async_trait]
impl Handler for WordCount {
    async fn run(&self, ctx: JobContext, payload: Value) -> Result<Value, JobError> {
        let text = payload["text"]
            .as_str()
            .ok_or_else(|| JobError::fatal("payload.text must be a string"))?;
        if ctx.checkpoint().await == Checkpoint::Stop {
            return Err(JobError::retryable("stopped at a checkpoint"));
        }
        Ok(json!({"words": text.split_whitespace().count(), "attempt": ctx.attempt()}))
    }
}

async fn an_embedded_worker_runs_a_custom_handler_and_drains(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut registry = Registry::new();
    registry.register("word_count", WordCount);
    let mut config = Config::new(server.base.clone()).unwrap();
    config.worker_id = "embedded".into();
    config.spool_dir = db.dir.0.join("spool");
    config.wait_ms = 1000;
    config.pause_poll_interval = None;
    let worker = Worker::new(config, registry).unwrap();
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    let good = api
        .enqueue("word_count", json!({"text": "to be or not to be"}))
        .await;
    let bad = api.enqueue("word_count", json!({"text": 42})).await;
    let done = api
        .wait_status(good, JobStatus::Succeeded, Duration::from_secs(15))
        .await;
    assert_eq!(done.result, Some(json!({"words": 6, "attempt": 1})));
    let failed = api
        .wait_status(bad, JobStatus::Failed, Duration::from_secs(15))
        .await;
    assert!(
        failed.error.as_deref().unwrap().contains("payload.text"),
        "{failed:?}"
    );
    assert_eq!(failed.attempts, 1, "a fatal error is not retried");

    shutdown.drain();
    let exit = tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(exit, Exit::Drained);
}

testkit::on_both_stores!(an_embedded_worker_runs_a_custom_handler_and_drains);
