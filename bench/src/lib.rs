//! Lull's benchmarks and fault scenarios.
//!
//! Everything here drives real `lull serve` processes over loopback, on a
//! fresh database per run (a temp SQLite file, or a throwaway PostgreSQL
//! database created next to the one named by the admin URL and dropped
//! afterwards). Every load loop is bounded by a deadline and a count.
//!
//! - [`scenarios`]: the performance scenarios of issue 7 (paused-claim cost,
//!   claim throughput against a direct-SQL loop, enqueue→start latency,
//!   heartbeats, pause propagation, memory).
//! - [`faults`]: the crash-safety scenarios, in a short "smoke" size (run by
//!   `cargo test`) and a full size (run by `lull-bench`).
//! - [`peer`]: graphile-worker, the peer scenario 8 measures Lull against
//!   (installed from npm into `target/bench-peer`, run by a Node script).
//! - [`report`]: renders `BENCHMARKS.md`; [`sections`]: the parts of it a
//!   scenario owns between markers.
//!
//! The binary `lull-bench` ties them together; `tests/faults.rs` runs the
//! smoke faults.

pub mod db;
pub mod faults;
pub mod http;
pub mod ledger;
pub mod peer;
pub mod proc;
pub mod report;
pub mod scenarios;
pub mod sections;
pub mod stats;

/// The default admin URL of the benchmark PostgreSQL (trust auth on
/// loopback); throwaway databases are created through it.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
