//! The Lull worker runtime: claims jobs from a Lull server, runs them through
//! a [`Registry`] of [`Handler`]s, and honours the control plane.
//!
//! What it guarantees an operator:
//! - **Global pause** (`system.workersPaused` on every claim and heartbeat
//!   answer): no claims while paused; the reason is logged once per pause
//!   `version`; claiming resumes by itself when the pause clears.
//! - **Quiesce**: a running job's [`JobContext::checkpoint`] blocks while the
//!   fleet is quiesced, with lease heartbeats going on (reporting
//!   `pausedAtCheckpoint`), so no lease expires.
//! - **Directives** (`run` | `pause` | `drain` on worker heartbeats) and
//!   SIGTERM: drain finishes the running jobs, then the worker exits 0.
//! - **Results** go to `/api/workers/results` with an idempotency key; when
//!   the server cannot take them they wait in a spool directory and are
//!   replayed newest-first until acknowledged.
//!
//! Embedding: build a [`Registry`] (with your own handlers), a [`Config`],
//! then [`Worker::new`] and [`Worker::run`]. See `docs/worker.md`.

pub mod api;
mod background;
pub mod builtin;
pub mod config;
pub mod fleet;
pub mod handler;
mod job;
mod results;
pub mod runtime;
pub mod shutdown;
pub mod spool;

pub use config::{Cli, Config, ConfigError, LogFormat};
pub use handler::{Handler, JobContext, JobError, Registry};
pub use runtime::{Exit, Worker, WorkerError};
pub use shutdown::ShutdownHandle;
