//! Embedding the Lull worker runtime with a handler of your own.
//!
//! ```sh
//! cargo run -p worker --example custom_worker   # LULL_SERVER=http://host:8080
//! curl -X POST localhost:8080/api/queue/jobs -H 'content-type: application/json' \
//!      -d '{"type":"word_count","payload":{"text":"to be or not to be"}}'
//! ```

use async_trait::async_trait;
use serde_json::{json, Value};
use worker::{Checkpoint, Config, Exit, Handler, JobContext, JobError, Registry, Worker};

/// Counts the words of `payload.text`, one checkpoint per line so a quiesce
/// can hold it between lines.
struct WordCount;

#[async_trait]
impl Handler for WordCount {
    async fn run(&self, ctx: JobContext, payload: Value) -> Result<Value, JobError> {
        let text = payload["text"]
            .as_str()
            .ok_or_else(|| JobError::fatal("payload.text must be a string"))?;
        let mut words = 0;
        for line in text.lines() {
            if ctx.checkpoint().await == Checkpoint::Stop {
                // The worker is going away: the job is handed back.
                return Err(JobError::retryable("stopped at a checkpoint"));
            }
            words += line.split_whitespace().count();
        }
        Ok(json!({ "words": words }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut registry = Registry::with_builtins();
    registry.register("word_count", WordCount);
    // A closure is a handler too.
    registry.register("echo", |_ctx: JobContext, payload: Value| async move {
        Ok(payload)
    });

    let server = std::env::var("LULL_SERVER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let mut config = Config::new(server)?;
    config.concurrency = 4;

    let worker = Worker::new(config, registry)?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        // Ctrl-C once: drain; twice: stop at once.
        while tokio::signal::ctrl_c().await.is_ok() {
            shutdown.escalate();
        }
    });
    match worker.run().await? {
        Exit::Drained => Ok(()),
        Exit::Stopped => std::process::exit(130),
    }
}
