//! Configuration of a worker: command-line flags (each also readable from
//! the environment), parsed and validated once into [`Config`], so a bad
//! value stops the worker at start-up with a clear message instead of
//! surfacing later as a 422 from the server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Server bounds on `leaseSeconds` (mirrored so a bad flag fails at start).
const LEASE_SECONDS: std::ops::RangeInclusive<u32> = 5..=3600;
/// Server bound on a claim's long-poll `waitMs`.
const MAX_WAIT_MS: u32 = 30_000;

/// The `lull-worker` command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "lull-worker",
    version,
    about = "Runs Lull jobs: claims, executes, reports; honours pause, quiesce and drain."
)]
pub struct Cli {
    /// Base URL of the Lull server.
    #[arg(long, env = "LULL_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Stable worker id (keep it across restarts so the fleet view and
    /// rolling restarts recognise the worker) [default: <hostname>-<pid>].
    #[arg(long, env = "LULL_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Display name [default: the worker id].
    #[arg(long, env = "LULL_WORKER_NAME")]
    pub name: Option<String>,
    /// Labels as `k=v,k2=v2`.
    #[arg(long, env = "LULL_WORKER_LABELS")]
    pub labels: Option<String>,
    /// Sleep between claims while the fleet is paused; when unset the
    /// server's `pausePollIntervalMs` is used (5000 before it has said).
    #[arg(long, env = "LULL_PAUSE_POLL_INTERVAL_MS")]
    pub pause_poll_interval_ms: Option<u64>,
    /// Where undeliverable results wait for replay.
    #[arg(long, env = "LULL_SPOOL_DIR", default_value = "./spool")]
    pub spool_dir: PathBuf,
    /// Jobs run at once.
    #[arg(long, env = "LULL_CONCURRENCY", default_value_t = 1)]
    pub concurrency: usize,
    /// Lease length asked for on claims and heartbeats (5–3600).
    #[arg(long, env = "LULL_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u32,
    /// Job types to claim, comma-separated [default: every registered type].
    #[arg(long, env = "LULL_TYPES", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Queues to claim from, comma-separated [default: every queue].
    #[arg(long, env = "LULL_QUEUES", value_delimiter = ',')]
    pub queues: Vec<String>,
    /// Long-poll wait of a claim (≤ 30000).
    #[arg(long, env = "LULL_WAIT_MS", default_value_t = 10_000)]
    pub wait_ms: u32,
    /// Worker heartbeat period (directives and backlog travel on it).
    #[arg(long, env = "LULL_HEARTBEAT_INTERVAL_MS", default_value_t = 2000)]
    pub heartbeat_interval_ms: u64,
    /// Spool replay period while results are waiting.
    #[arg(long, env = "LULL_REPLAY_INTERVAL_MS", default_value_t = 1000)]
    pub replay_interval_ms: u64,
    /// Log output: `text` or `json` (one object per line).
    #[arg(long, env = "LULL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written (filter with `LULL_LOG`, e.g. `info,worker=debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A resolved, validated worker configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Without a trailing slash.
    pub server: String,
    pub worker_id: String,
    pub name: String,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    /// `None`: follow the server's `pausePollIntervalMs`.
    pub pause_poll_interval: Option<Duration>,
    pub spool_dir: PathBuf,
    pub concurrency: usize,
    pub lease_seconds: u32,
    /// Empty: every type the registry has a handler for.
    pub types: Vec<String>,
    /// Empty: every queue.
    pub queues: Vec<String>,
    pub wait_ms: u32,
    pub heartbeat_interval: Duration,
    pub replay_interval: Duration,
    /// Sent as `Authorization: Bearer <token>` (from `LULL_TOKEN` only, so it
    /// never shows in `ps`).
    pub token: Option<String>,
}

/// A configuration value the worker cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// The defaults (overridden by the `LULL_*` environment variables, as
    /// for the binary) with the given server; adjust the fields afterwards.
    pub fn new(server: impl Into<String>) -> Result<Config, ConfigError> {
        let mut cli =
            Cli::try_parse_from(["lull-worker"]).map_err(|e| ConfigError(e.to_string()))?;
        cli.server = server.into();
        cli.resolve(None)
    }

    /// How often a running job's lease is extended: a third of the lease, so
    /// two heartbeats may be lost before it expires.
    pub fn lease_heartbeat_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.lease_seconds) * 1000 / 3)
    }
}

impl Cli {
    /// Validates the flags; `token` comes from `LULL_TOKEN` (see [`Config`]).
    pub fn resolve(self, token: Option<String>) -> Result<Config, ConfigError> {
        let server = self.server.trim_end_matches('/').to_string();
        // The HTTP client is built without TLS (no TLS stack in the
        // workspace yet): refuse https:// now rather than fail every request.
        if !server.starts_with("http://") {
            return Err(ConfigError(format!(
                "--server must be an http:// URL (this build has no TLS), not {:?}",
                self.server
            )));
        }
        let hostname = hostname();
        let worker_id = match self.worker_id {
            Some(id) => id,
            None => format!("{}-{}", sanitize_id(&hostname), std::process::id()),
        };
        check_worker_id(&worker_id)?;
        if !(1..=256).contains(&self.concurrency) {
            return Err(ConfigError(format!(
                "--concurrency is {}; it must be between 1 and 256",
                self.concurrency
            )));
        }
        if !LEASE_SECONDS.contains(&self.lease_seconds) {
            return Err(ConfigError(format!(
                "--lease-seconds is {}; it must be between {} and {}",
                self.lease_seconds,
                LEASE_SECONDS.start(),
                LEASE_SECONDS.end()
            )));
        }
        if self.wait_ms > MAX_WAIT_MS {
            return Err(ConfigError(format!(
                "--wait-ms is {}; it must be at most {MAX_WAIT_MS}",
                self.wait_ms
            )));
        }
        for (flag, ms) in [
            ("--heartbeat-interval-ms", self.heartbeat_interval_ms),
            ("--replay-interval-ms", self.replay_interval_ms),
        ] {
            if ms < 50 {
                return Err(ConfigError(format!(
                    "{flag} is {ms}; it must be at least 50"
                )));
            }
        }
        let types: Vec<String> = self
            .types
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        let mut queues: Vec<String> = Vec::new();
        for q in self
            .queues
            .iter()
            .map(|q| q.trim())
            .filter(|q| !q.is_empty())
        {
            check_queue(q)?;
            if !queues.iter().any(|known| known == q) {
                queues.push(q.to_string());
            }
        }
        Ok(Config {
            server,
            name: self.name.unwrap_or_else(|| worker_id.clone()),
            worker_id,
            hostname,
            labels: parse_labels(self.labels.as_deref().unwrap_or(""))?,
            pause_poll_interval: self.pause_poll_interval_ms.map(Duration::from_millis),
            spool_dir: self.spool_dir,
            concurrency: self.concurrency,
            lease_seconds: self.lease_seconds,
            types,
            queues,
            wait_ms: self.wait_ms,
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval_ms),
            replay_interval: Duration::from_millis(self.replay_interval_ms),
            token: token.filter(|t| !t.is_empty()),
        })
    }
}

/// `k=v,k2=v2` → a map; blank entries are skipped, a missing `=` or an empty
/// key is an error (a typo should not silently become a label).
pub fn parse_labels(raw: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut labels = BTreeMap::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(ConfigError(format!("--labels entry {item:?} is not k=v")));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError(format!(
                "--labels entry {item:?} has an empty key"
            )));
        }
        labels.insert(k.to_string(), v.trim().to_string());
    }
    Ok(labels)
}

/// The server accepts 1–128 characters of `[A-Za-z0-9._:@-]` (it also takes
/// `/`, but the id is a URL path segment here, so the worker refuses it).
fn check_worker_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "--worker-id {id:?} must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -"
        )))
    }
}

/// A queue name as the server accepts it: 1–128 characters of
/// `[A-Za-z0-9._:@/-]`.
fn check_queue(q: &str) -> Result<(), ConfigError> {
    let ok = q.len() <= 128
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@/-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "--queues names {q:?}: a queue is 1 to 128 characters of A-Z a-z 0-9 . _ : @ / -"
        )))
    }
}

/// Keeps a hostname usable inside a worker id.
fn sanitize_id(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    if cleaned.is_empty() {
        "worker".into()
    } else {
        cleaned
    }
}

/// The machine's hostname without a libc call: the kernel's, then
/// `$HOSTNAME`, then `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["lull-worker"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)
            .map_err(|e| ConfigError(e.to_string()))?
            .resolve(None)
    }

    #[test]
    fn flags_resolve_to_a_config() {
        let c = cli(&[
            "--server",
            "http://10.0.0.1:9000/",
            "--worker-id",
            "w-1",
            "--labels",
            "zone=a, tier = gpu ,",
            "--types",
            "a,b",
            "--queues",
            "emails, reports,emails",
            "--lease-seconds",
            "9",
        ])
        .unwrap();
        assert_eq!(
            c.queues,
            vec!["emails", "reports"],
            "trimmed, without repeats"
        );
        assert_eq!(c.server, "http://10.0.0.1:9000", "trailing slash dropped");
        assert_eq!(c.worker_id, "w-1");
        assert_eq!(c.name, "w-1", "name defaults to the id");
        assert_eq!(c.labels.get("tier").map(String::as_str), Some("gpu"));
        assert_eq!(c.labels.len(), 2);
        assert_eq!(c.types, vec!["a", "b"]);
        assert_eq!(c.lease_heartbeat_interval(), Duration::from_secs(3));
    }

    #[test]
    fn poll_interval_is_unset_unless_given() {
        // Unset means "follow the server"; the env var is read by clap too,
        // so only assert when the test process does not carry it.
        if std::env::var_os("LULL_PAUSE_POLL_INTERVAL_MS").is_none() {
            assert_eq!(cli(&[]).unwrap().pause_poll_interval, None);
        }
        let c = cli(&["--pause-poll-interval-ms", "250"]).unwrap();
        assert_eq!(c.pause_poll_interval, Some(Duration::from_millis(250)));
    }

    #[test]
    fn default_worker_id_is_hostname_and_pid() {
        let c = Cli::try_parse_from(["lull-worker"]).unwrap();
        if c.worker_id.is_none() {
            let id = c.resolve(None).unwrap().worker_id;
            assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        for (args, flag) in [
            (vec!["--server", "localhost:8080"], "--server"),
            (vec!["--server", "https://lull.example"], "--server"),
            (vec!["--worker-id", "a/b"], "--worker-id"),
            (vec!["--worker-id", ""], "--worker-id"),
            (vec!["--concurrency", "0"], "--concurrency"),
            (vec!["--lease-seconds", "4"], "--lease-seconds"),
            (vec!["--wait-ms", "30001"], "--wait-ms"),
            (vec!["--labels", "novalue"], "--labels"),
            (vec!["--labels", "=v"], "--labels"),
            (vec!["--queues", "a,b c"], "--queues"),
        ] {
            let err = cli(&args).unwrap_err();
            assert!(err.0.contains(flag), "{args:?}: {err}");
        }
    }

    #[test]
    fn labels_parse_and_blank_is_empty() {
        assert!(parse_labels("").unwrap().is_empty());
        assert!(parse_labels(" , ").unwrap().is_empty());
        let l = parse_labels("a=1,b=x=y").unwrap();
        assert_eq!(l["b"], "x=y", "only the first = splits");
    }

    #[test]
    fn hostnames_are_made_id_safe() {
        assert_eq!(sanitize_id("web 1/a"), "web-1-a");
        assert_eq!(sanitize_id(""), "worker");
    }

    #[test]
    fn empty_token_is_no_token() {
        let c = Cli::try_parse_from(["lull-worker"]).unwrap();
        assert_eq!(c.resolve(Some(String::new())).unwrap().token, None);
    }
}
