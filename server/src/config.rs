//! Configuration: command-line flags, then environment variables, then an
//! optional TOML file, then defaults — resolved and validated in one place,
//! so `lull check-config` and `lull serve` agree exactly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::domain::retention::{
    parse_age, RetentionPolicy, DEFAULT_CANCELLED, DEFAULT_FAILED, DEFAULT_SUCCEEDED,
};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/lull.db";
/// Where a binary built without the embedded dashboard looks for one.
pub const DEFAULT_STATIC_DIR: &str = "./dist";

/// Flags shared by the subcommands (each also readable from the environment).
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (optional).
    #[arg(long, env = "LULL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LULL_LISTEN")]
    pub listen: Option<String>,
    /// `sqlite://path` (created if missing) or `postgres://…`
    /// [default: sqlite://./data/lull.db].
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// PostgreSQL: the URL for LISTEN and migrations, which need a session
    /// of their own, when `--database-url` goes through a transaction-mode
    /// pooler such as PgBouncer [default: the database URL].
    #[arg(long, env = "LULL_DATABASE_SESSION_URL")]
    pub database_session_url: Option<String>,
    /// Serve the dashboard from this directory (Trunk's `dist/`) instead of
    /// the copy embedded in a release binary [default: the embedded copy;
    /// in a build without one, ./dist].
    #[arg(long, env = "LULL_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Told to workers: how long to sleep between claims while paused
    /// [default: 5000].
    #[arg(long, env = "LULL_PAUSE_POLL_INTERVAL_MS")]
    pub pause_poll_interval_ms: Option<u64>,
    /// Fallback re-read of the pause state from the database, in case a
    /// notification was lost [default: 1000].
    #[arg(long, env = "LULL_PAUSE_REFRESH_MS")]
    pub pause_refresh_ms: Option<u64>,
    /// A worker whose last heartbeat is older than this is offline
    /// [default: 15].
    #[arg(long, env = "LULL_WORKER_STALE_SECONDS")]
    pub worker_stale_seconds: Option<u64>,
    /// `/health` warns when a pause has not been applied by some online
    /// worker after this long [default: 2 × the pause poll interval + the
    /// workers' default heartbeat interval, 2 s].
    #[arg(long, env = "LULL_ACK_WARN_AFTER_MS")]
    pub ack_warn_after_ms: Option<u64>,
    /// `disabled` (local use, loopback only) or `token` [default: disabled].
    #[arg(long, env = "LULL_AUTH")]
    pub auth: Option<String>,
    /// With auth disabled, listen on a non-loopback address anyway.
    #[arg(long, env = "LULL_ALLOW_INSECURE_BIND")]
    pub allow_insecure_bind: bool,
    /// In token mode, require a token for /metrics too.
    #[arg(long, env = "LULL_PROTECT_METRICS")]
    pub protect_metrics: bool,
    /// Fleet actions and rolling restarts must leave at least this many
    /// available workers unless confirmed [default: 1].
    #[arg(long, env = "LULL_MIN_AVAILABLE_WORKERS")]
    pub min_available_workers: Option<usize>,
    /// Delete succeeded jobs this long after they finished; 0 keeps them
    /// forever [default: 7d].
    #[arg(long, env = "LULL_RETAIN_SUCCEEDED")]
    pub retain_succeeded: Option<String>,
    /// Delete cancelled jobs this long after they finished; 0 keeps them
    /// forever [default: 7d].
    #[arg(long, env = "LULL_RETAIN_CANCELLED")]
    pub retain_cancelled: Option<String>,
    /// Delete failed jobs this long after they finished; 0 keeps them
    /// forever [default: 30d].
    #[arg(long, env = "LULL_RETAIN_FAILED")]
    pub retain_failed: Option<String>,
    /// Delete control events (the audit log) this old; 0 keeps them forever
    /// [default: 0].
    #[arg(long, env = "LULL_RETAIN_EVENTS")]
    pub retain_events: Option<String>,
    /// How often the retention pass runs [default: 60000].
    #[arg(long, env = "LULL_RETENTION_INTERVAL_MS")]
    pub retention_interval_ms: Option<u64>,
    /// Also send the metrics to this StatsD server (`host:port`, UDP).
    #[arg(long, env = "LULL_STATSD")]
    pub statsd: Option<String>,
    /// The URL users reach this server by (behind a proxy): its host name
    /// is accepted in `Host`, besides loopback names and IP addresses.
    #[arg(long, env = "LULL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// More host names accepted in `Host`, comma-separated (requests for
    /// any other name are refused with 421: DNS-rebinding defence).
    #[arg(long, env = "LULL_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Proxies (CIDRs or addresses, comma-separated) whose
    /// `X-Forwarded-For` names the client address for the limit on failed
    /// authentications; from any other peer the header is ignored
    /// [default: none].
    #[arg(long, env = "LULL_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Event streams (the dashboard's live updates) open at once; more are
    /// refused with 429 [default: 512].
    #[arg(long, env = "LULL_MAX_STREAMS")]
    pub max_streams: Option<usize>,
    /// Event streams open at once with one token [default: 16].
    #[arg(long, env = "LULL_MAX_STREAMS_PER_TOKEN")]
    pub max_streams_per_token: Option<usize>,
    /// SQLite: `group` (concurrent writes share a commit and its fsync) or
    /// `each` (a commit per write) [default: group].
    #[arg(long, env = "LULL_SQLITE_COMMIT")]
    pub sqlite_commit: Option<String>,
}

/// The TOML file: the same settings, snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    database_session_url: Option<String>,
    static_dir: Option<PathBuf>,
    pause_poll_interval_ms: Option<u64>,
    ack_warn_after_ms: Option<u64>,
    pause_refresh_ms: Option<u64>,
    worker_stale_seconds: Option<u64>,
    auth: Option<String>,
    allow_insecure_bind: Option<bool>,
    protect_metrics: Option<bool>,
    min_available_workers: Option<usize>,
    retain_succeeded: Option<String>,
    retain_cancelled: Option<String>,
    retain_failed: Option<String>,
    retain_events: Option<String>,
    retention_interval_ms: Option<u64>,
    statsd: Option<String>,
    public_url: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    max_streams: Option<usize>,
    max_streams_per_token: Option<usize>,
    sqlite_commit: Option<String>,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// `None`: the dashboard embedded in the binary (see `http::assets`).
    pub static_dir: Option<PathBuf>,
    pub pause_poll_interval_ms: u64,
    pub pause_refresh_ms: u64,
    pub worker_stale_seconds: u64,
    /// How long a pause may stay unapplied by an online worker before
    /// `/health` warns.
    pub ack_warn_after_ms: u64,
    pub auth: crate::auth::AuthMode,
    pub allow_insecure_bind: bool,
    pub metrics_public: bool,
    pub min_available_workers: usize,
    /// How long finished jobs (and the audit log) are kept.
    pub retention: RetentionPolicy,
    pub retention_interval_ms: u64,
    /// Where StatsD datagrams go, if anywhere.
    pub statsd: Option<crate::metrics::StatsdTarget>,
    /// Host names accepted in `Host` besides loopback names and IP
    /// addresses (from `public_url` and `allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// Whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::auth::TrustedProxies,
    /// Caps on open event streams.
    pub streams: crate::streams::StreamLimits,
    /// How the store is opened (SQLite's commit mode).
    pub store: crate::storage::StoreOptions,
}

/// A configuration error, worded for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError(format!("config file {} is invalid: {e}", path.display())))
}

impl ConfigArgs {
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let listen_raw = self
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            ConfigError(format!(
                "listen address {listen_raw:?} is invalid: use HOST:PORT with an IP, e.g. 127.0.0.1:8080"
            ))
        })?;
        let database_url = self
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        validate_database_url(&database_url)?;
        let sqlite_commit = match self.sqlite_commit.clone().or(file.sqlite_commit) {
            Some(mode) => mode.parse().map_err(ConfigError)?,
            None => crate::storage::sqlite::CommitMode::default(),
        };
        let pg_session_url = self
            .database_session_url
            .clone()
            .or(file.database_session_url)
            .filter(|u| !u.trim().is_empty());
        if let Some(session) = &pg_session_url {
            let is_pg = |u: &str| u.starts_with("postgres://") || u.starts_with("postgresql://");
            if !is_pg(&database_url) || !is_pg(session) {
                return Err(ConfigError(format!(
                    "database_session_url {:?} is for PostgreSQL: use it with a postgres:// \
                     database URL, and make it a postgres:// URL too",
                    crate::storage::redact(session)
                )));
            }
        }
        let pause_poll_interval_ms = self
            .pause_poll_interval_ms
            .or(file.pause_poll_interval_ms)
            .unwrap_or(5000);
        if !(100..=600_000).contains(&pause_poll_interval_ms) {
            return Err(ConfigError(format!(
                "pause_poll_interval_ms is {pause_poll_interval_ms}: it must be between 100 and 600000"
            )));
        }
        let pause_refresh_ms = self
            .pause_refresh_ms
            .or(file.pause_refresh_ms)
            .unwrap_or(1000);
        if !(50..=60_000).contains(&pause_refresh_ms) {
            return Err(ConfigError(format!(
                "pause_refresh_ms is {pause_refresh_ms}: it must be between 50 and 60000"
            )));
        }
        let ack_warn_after_ms = self
            .ack_warn_after_ms
            .or(file.ack_warn_after_ms)
            .unwrap_or_else(|| default_ack_warn_after_ms(pause_poll_interval_ms));
        if !(100..=3_600_000).contains(&ack_warn_after_ms) {
            return Err(ConfigError(format!(
                "ack_warn_after_ms is {ack_warn_after_ms}: it must be between 100 and 3600000"
            )));
        }
        let worker_stale_seconds = self
            .worker_stale_seconds
            .or(file.worker_stale_seconds)
            .unwrap_or(15);
        if !(2..=3600).contains(&worker_stale_seconds) {
            return Err(ConfigError(format!(
                "worker_stale_seconds is {worker_stale_seconds}: it must be between 2 and 3600"
            )));
        }
        let auth = match self.auth.clone().or(file.auth).as_deref() {
            None | Some("disabled") => crate::auth::AuthMode::Disabled,
            Some("token") => crate::auth::AuthMode::Token,
            Some(other) => {
                return Err(ConfigError(format!(
                    "auth is {other:?}: use \"disabled\" (local use) or \"token\""
                )))
            }
        };
        let allow_insecure_bind =
            self.allow_insecure_bind || file.allow_insecure_bind.unwrap_or(false);
        if auth == crate::auth::AuthMode::Disabled
            && !listen.ip().is_loopback()
            && !allow_insecure_bind
        {
            return Err(ConfigError(format!(
                "refusing to listen on {listen} with authentication disabled: anyone who can reach it \
                 could pause the fleet. Use LULL_AUTH=token, listen on 127.0.0.1, or pass \
                 --allow-insecure-bind if you really mean it"
            )));
        }
        let min_available_workers = self
            .min_available_workers
            .or(file.min_available_workers)
            .unwrap_or(1);
        if min_available_workers > 10_000 {
            return Err(ConfigError(format!(
                "min_available_workers is {min_available_workers}: at most 10000"
            )));
        }
        let defaults = crate::streams::StreamLimits::default();
        let streams = crate::streams::StreamLimits {
            total: self
                .max_streams
                .or(file.max_streams)
                .unwrap_or(defaults.total),
            per_token: self
                .max_streams_per_token
                .or(file.max_streams_per_token)
                .unwrap_or(defaults.per_token),
        };
        if streams.total == 0 || streams.per_token == 0 {
            return Err(ConfigError(
                "max_streams and max_streams_per_token must be at least 1 (the dashboard needs a stream)".into(),
            ));
        }
        let age = |field: &str, flag: &Option<String>, file: Option<String>, default: &str| {
            let raw = flag.clone().or(file).unwrap_or_else(|| default.to_string());
            parse_age(field, &raw).map_err(ConfigError)
        };
        let retention = RetentionPolicy {
            succeeded: age(
                "retain_succeeded",
                &self.retain_succeeded,
                file.retain_succeeded,
                DEFAULT_SUCCEEDED,
            )?,
            cancelled: age(
                "retain_cancelled",
                &self.retain_cancelled,
                file.retain_cancelled,
                DEFAULT_CANCELLED,
            )?,
            failed: age(
                "retain_failed",
                &self.retain_failed,
                file.retain_failed,
                DEFAULT_FAILED,
            )?,
            events: age(
                "retain_events",
                &self.retain_events,
                file.retain_events,
                "0",
            )?,
        };
        let retention_interval_ms = self
            .retention_interval_ms
            .or(file.retention_interval_ms)
            .unwrap_or(60_000);
        if !(50..=86_400_000).contains(&retention_interval_ms) {
            return Err(ConfigError(format!(
                "retention_interval_ms is {retention_interval_ms}: it must be between 50 and 86400000"
            )));
        }
        let statsd = self
            .statsd
            .clone()
            .or(file.statsd)
            .filter(|s| !s.trim().is_empty())
            .map(|s| crate::metrics::StatsdTarget::parse(s.trim()))
            .transpose()
            .map_err(ConfigError)?;
        let mut allowed_hosts = if self.allowed_hosts.is_empty() {
            file.allowed_hosts.unwrap_or_default()
        } else {
            self.allowed_hosts.clone()
        };
        if let Some(url) = self.public_url.clone().or(file.public_url) {
            let host = url
                .split_once("://")
                .map(|x| x.1)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .and_then(|authority| authority.rsplit('@').next())
                .map(|authority| match authority.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or(v6),
                    None => authority.split(':').next().unwrap_or(authority),
                })
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    ConfigError(format!(
                        "public_url {url:?} is invalid: use a URL such as https://lull.example.com"
                    ))
                })?;
            allowed_hosts.push(host.to_string());
        }
        let trusted_proxies = if self.trusted_proxies.is_empty() {
            file.trusted_proxies.unwrap_or_default()
        } else {
            self.trusted_proxies.clone()
        };
        let trusted_proxies =
            crate::auth::TrustedProxies::parse(&trusted_proxies).map_err(ConfigError)?;
        Ok(Config {
            store: crate::storage::StoreOptions {
                sqlite_commit,
                pg_session_url,
            },
            trusted_proxies,
            statsd,
            allowed_hosts,
            streams,
            retention,
            retention_interval_ms,
            min_available_workers,
            auth,
            allow_insecure_bind,
            metrics_public: !(self.protect_metrics || file.protect_metrics.unwrap_or(false)),
            worker_stale_seconds,
            ack_warn_after_ms,
            listen,
            database_url,
            static_dir: self.static_dir.clone().or(file.static_dir),
            pause_poll_interval_ms,
            pause_refresh_ms,
        })
    }
}

/// A worker that polls while paused notices a pause within one pause poll
/// interval and reports it with its next heartbeat (the runtime's default
/// interval is 2 s); twice the poll interval plus that is late.
pub fn default_ack_warn_after_ms(pause_poll_interval_ms: u64) -> u64 {
    2 * pause_poll_interval_ms + 2000
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    let redacted = crate::storage::redact(url);
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        if path.is_empty() {
            return Err(ConfigError(format!(
                "database URL {redacted:?} names no file: use sqlite://./data/lull.db"
            )));
        }
        Ok(())
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let rest = url.split_once("://").map(|x| x.1).unwrap_or("");
        if rest.is_empty() {
            return Err(ConfigError(format!(
                "database URL {redacted:?} names no host"
            )));
        }
        Ok(())
    } else {
        Err(ConfigError(format!(
            "database URL {redacted:?} is not supported: use sqlite://… or postgres://…"
        )))
    }
}

#[cfg(test)]
mod tests;
