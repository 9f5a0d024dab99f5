//! The Lull worker runtime: claims jobs from a Lull server, runs them through
//! a [`Registry`] of [`Handler`]s, and honours the control plane.
//!
//! What it guarantees an operator:
//! - **Global pause** (`system.workersPaused` on every claim and heartbeat
//!   answer): no claims while paused; the reason is logged once per pause
//!   `version`; claiming resumes by itself when the pause clears.
//! - **Quiesce**: a running job's [`JobContext::checkpoint`] blocks while the
//!   fleet is quiesced, with lease heartbeats going on (reporting
//!   `pausedAtCheckpoint`), so no lease expires; a drain (SIGTERM, the
//!   `drain` directive, a rolling restart) ends the hold with
//!   [`Checkpoint::Stop`] and hands the job back, so the worker can exit.
//! - **Directives** (`run` | `pause` | `drain` on worker heartbeats) and
//!   SIGTERM: drain finishes the running jobs, then the worker exits 0.
//! - **Results** go to `/api/workers/results` with an idempotency key; when
//!   the server cannot take them they wait in a spool directory and are
//!   replayed newest-first until acknowledged.
//!
//! Embedding: build a [`Registry`] (with your own handlers), a [`Config`],
//! then [`Worker::new`] and [`Worker::run`]. See `docs/worker.md`.

//!
//! The module graph is a DAG (checked by `tests/module_graph.rs`), from
//! the top: `runtime` (the claim loop) → `job`, `background` → `shared`
//! (what a run's tasks share) → `results` → `spool`; `registry` →
//! `builtin` → `handler` → `fleet`; `config` and `shutdown` below them.
//! The server is reached through the typed [`client`] crate only.

mod background;
pub mod builtin;
pub mod config;
pub mod fleet;
pub mod handler;
mod job;
pub mod registry;
mod results;
pub mod runtime;
mod shared;
pub mod shutdown;
pub mod spool;

pub use config::{Cli, Config, ConfigError, LogFormat};
pub use handler::{Checkpoint, Handler, JobContext, JobError};
pub use registry::Registry;
pub use runtime::Worker;
pub use shared::{Exit, WorkerError};
pub use shutdown::ShutdownHandle;
