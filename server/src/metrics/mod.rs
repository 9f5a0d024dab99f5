//! Metrics through the `metrics` facade: the service records into
//! [`metrics`] handles (counters, gauges, histograms); the exporters turn
//! them into Prometheus text at `/metrics` (`metrics-exporter-prometheus`)
//! and, when `LULL_STATSD=host:port` is set, into StatsD datagrams
//! (`metrics-exporter-statsd`), both fed by one fan-out recorder.
//!
//! Each [`Service`](crate::service::Service) owns its recorder instead of
//! installing a global one: several services share a test process, and
//! each must count only its own requests. Counters are process-local (each
//! server reports its own, as Prometheus expects); gauges that describe
//! shared state (pause, jobs by status, queues, workers by state, rolling
//! restarts) are set from storage before each scrape (and on the metrics
//! tick when StatsD is on). Every series name and its meaning is listed in
//! `docs/observability.md`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::drain::{JobCounts, LiveCounts};

mod statsd;

pub use statsd::StatsdTarget;
use statsd::{statsd_recorder, Both};

/// Upper bounds (seconds) of the job-latency histogram buckets.
const JOB_LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0];
/// Upper bounds (seconds) of the storage-call latency buckets.
const STORAGE_LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static META: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Every series: name, help text (the `# HELP` line and the docs).
const COUNTERS: [(&str, &str); 13] = [
    (
        "lull_sqlite_commits_total",
        "SQLite with group commit: commits (each one fsync) made by this process; 0 otherwise.",
    ),
    (
        "lull_sqlite_committed_writes_total",
        "SQLite with group commit: writes those commits made durable (writes / commits is the mean group size); 0 otherwise.",
    ),
    (
        "lull_pause_actions_total",
        "Pause-state changes made through this process, by action (pause, resume, force_resume, noop).",
    ),
    ("lull_claims_total", "Claim requests by outcome (paused, claimed, empty, error)."),
    (
        "lull_queue_pause_actions_total",
        "Queue pause-state changes made through this process, by action.",
    ),
    ("lull_job_completions_total", "Jobs completed successfully."),
    (
        "lull_dispatch_failures_total",
        "Job failures reported by workers (retried or final).",
    ),
    (
        "lull_lease_conflicts_total",
        "Fenced calls refused because the lease was lost.",
    ),
    (
        "lull_expired_leases_requeued_total",
        "Expired leases requeued or failed before a claim.",
    ),
    (
        "lull_storage_calls_total",
        "Storage calls made by this process (each at least one database round trip).",
    ),
    (
        "lull_fleet_actions_total",
        "Per-worker actions applied through this process, by action (pause, resume, drain).",
    ),
    (
        "lull_fleet_action_refusals_total",
        "Per-worker actions refused by the safety rule, by action.",
    ),
    (
        "lull_rolling_restarts_started_total",
        "Rolling restarts started through this process.",
    ),
];

const GAUGES: [(&str, &str); 13] = [
    ("lull_workers_paused", "1 while the fleet is paused."),
    ("lull_pause_version", "Version of the global pause state."),
    ("lull_pause_mode", "1 for the current pause mode."),
    (
        "lull_pause_duration_seconds",
        "Seconds since the current fleet pause began; 0 while running.",
    ),
    (
        "lull_jobs",
        "Jobs by status (stale_running: running with an expired lease).",
    ),
    ("lull_queue_paused", "1 while the queue is paused."),
    ("lull_queue_jobs", "Live jobs of each queue by status."),
    (
        "lull_fleet_workers",
        "Registered workers by observed state (running, paused, draining, stopped, offline).",
    ),
    ("lull_rolling_restarts", "Rolling restarts by status."),
    (
        "lull_pause_applied_workers",
        "Online workers that have applied the current pause version.",
    ),
    (
        "lull_pause_pending_workers",
        "Online workers that have not applied the current pause version yet.",
    ),
    (
        "lull_stream_subscribers",
        "Open live event streams (dashboards, lull tui) on this process.",
    ),
    (
        "lull_claim_waiters",
        "Claims long-polling for a job on this process.",
    ),
];

const HISTOGRAMS: [(&str, &str); 2] = [
    ("lull_job_latency_seconds", "Time from claim to completion."),
    (
        "lull_storage_call_duration_seconds",
        "Duration of one storage call (connection held, statements run).",
    ),
];

/// One queue's gauges: its name, whether it is paused, its live jobs.
pub type QueueGauges<'a> = (&'a str, bool, LiveCounts);

/// The pause gauges.
#[derive(Debug, Clone, Copy)]
pub struct PauseGauges<'a> {
    pub paused: bool,
    pub mode: Option<&'a str>,
    pub version: i64,
    /// Seconds since the current pause began (0 while running).
    pub paused_for_seconds: f64,
}

/// The service's metrics: the recorder, the Prometheus handle, and the
/// handles of the fixed series (registered once: the paused-claim path
/// only bumps an atomic).
pub struct Metrics {
    recorder: Arc<dyn Recorder + Send + Sync>,
    prometheus: PrometheusHandle,
    statsd: bool,
    claims_paused: Counter,
    claims_claimed: Counter,
    claims_empty: Counter,
    claims_error: Counter,
    lease_conflicts: Counter,
    completed: Counter,
    failures: Counter,
    requeued_expired: Counter,
    storage_calls: Counter,
    sqlite_commits: Counter,
    sqlite_writes: Counter,
    job_latency: Histogram,
    storage_latency: Histogram,
    stream_subscribers: Gauge,
    claim_waiters: Gauge,
    waiting: AtomicI64,
    /// Empty claims, also kept here: tests wait on it to know a long-poll
    /// has made its first attempt (an in-process signal, not an export).
    empty_claims: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("statsd", &self.statsd)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        // Without StatsD nothing can fail.
        Metrics::new(None).unwrap_or_else(|_| unreachable!("no StatsD target"))
    }
}

impl Metrics {
    /// The recorder: Prometheus always, StatsD too when a target is given.
    pub fn new(statsd: Option<&StatsdTarget>) -> Result<Metrics, String> {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            ("lull_job_latency_seconds", &JOB_LATENCY_BUCKETS[..]),
            (
                "lull_storage_call_duration_seconds",
                &STORAGE_LATENCY_BUCKETS[..],
            ),
        ] {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.into()), buckets)
                .map_err(|e| e.to_string())?;
        }
        let prom = builder.build_recorder();
        let prometheus = prom.handle();
        let recorder: Arc<dyn Recorder + Send + Sync> = match statsd {
            Some(t) => Arc::new(Both(prom, statsd_recorder(t)?)),
            None => Arc::new(prom),
        };
        for (name, help) in COUNTERS {
            recorder.describe_counter(KeyName::from_const_str(name), None, help.into());
        }
        for (name, help) in GAUGES {
            recorder.describe_gauge(KeyName::from_const_str(name), None, help.into());
        }
        for (name, help) in HISTOGRAMS {
            recorder.describe_histogram(
                KeyName::from_const_str(name),
                Some(Unit::Seconds),
                help.into(),
            );
        }
        let counter = |name: &'static str, label: Option<(&'static str, &'static str)>| {
            let labels: Vec<Label> = label
                .map(|(k, v)| Label::from_static_parts(k, v))
                .into_iter()
                .collect();
            recorder.register_counter(&Key::from_parts(name, labels), &META)
        };
        let m = Metrics {
            claims_paused: counter("lull_claims_total", Some(("outcome", "paused"))),
            claims_claimed: counter("lull_claims_total", Some(("outcome", "claimed"))),
            claims_empty: counter("lull_claims_total", Some(("outcome", "empty"))),
            claims_error: counter("lull_claims_total", Some(("outcome", "error"))),
            lease_conflicts: counter("lull_lease_conflicts_total", None),
            completed: counter("lull_job_completions_total", None),
            failures: counter("lull_dispatch_failures_total", None),
            requeued_expired: counter("lull_expired_leases_requeued_total", None),
            storage_calls: counter("lull_storage_calls_total", None),
            sqlite_commits: counter("lull_sqlite_commits_total", None),
            sqlite_writes: counter("lull_sqlite_committed_writes_total", None),
            job_latency: recorder
                .register_histogram(&Key::from_static_name("lull_job_latency_seconds"), &META),
            storage_latency: recorder.register_histogram(
                &Key::from_static_name("lull_storage_call_duration_seconds"),
                &META,
            ),
            stream_subscribers: recorder
                .register_gauge(&Key::from_static_name("lull_stream_subscribers"), &META),
            claim_waiters: recorder
                .register_gauge(&Key::from_static_name("lull_claim_waiters"), &META),
            recorder,
            prometheus,
            statsd: statsd.is_some(),
            waiting: AtomicI64::new(0),
            empty_claims: AtomicU64::new(0),
        };
        // Every action series exists from the start (at 0), so a rate() or
        // an alert works before the first action.
        for a in ["pause", "resume", "force_resume", "noop"] {
            m.labelled_counter("lull_pause_actions_total", &[("action", a)])
                .increment(0);
        }
        for a in ["pause", "resume"] {
            m.labelled_counter("lull_queue_pause_actions_total", &[("action", a)])
                .increment(0);
        }
        for a in ["pause", "resume", "drain"] {
            m.labelled_counter("lull_fleet_actions_total", &[("action", a)])
                .increment(0);
            m.labelled_counter("lull_fleet_action_refusals_total", &[("action", a)])
                .increment(0);
        }
        for c in [
            &m.claims_paused,
            &m.claims_claimed,
            &m.claims_empty,
            &m.claims_error,
            &m.lease_conflicts,
            &m.completed,
            &m.failures,
            &m.requeued_expired,
        ] {
            c.increment(0);
        }
        m.labelled_counter("lull_rolling_restarts_started_total", &[])
            .increment(0);
        m.stream_subscribers.set(0.0);
        m.claim_waiters.set(0.0);
        Ok(m)
    }

    /// Whether a StatsD exporter is attached (the metrics tick then pushes
    /// the storage gauges too).
    pub fn statsd_enabled(&self) -> bool {
        self.statsd
    }

    fn labelled_counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.to_string()))
            .collect();
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &META)
    }

    fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.to_string()))
            .collect();
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &META)
    }

    /// A claim answered paused.
    pub fn claim_paused(&self) {
        self.claims_paused.increment(1);
    }

    pub fn claim_claimed(&self) {
        self.claims_claimed.increment(1);
    }

    pub fn claim_empty(&self) {
        self.claims_empty.increment(1);
        self.empty_claims.fetch_add(1, Relaxed);
    }

    pub fn claim_error(&self) {
        self.claims_error.increment(1);
    }

    /// Claims that came back empty so far on this process.
    pub fn empty_claims(&self) -> u64 {
        self.empty_claims.load(Relaxed)
    }

    pub fn lease_conflict(&self) {
        self.lease_conflicts.increment(1);
    }

    pub fn requeued(&self, n: u64) {
        self.requeued_expired.increment(n);
    }

    pub fn failure(&self) {
        self.failures.increment(1);
    }

    /// A completed job and how long it ran (claim to completion).
    pub fn completed(&self, latency_seconds: Option<f64>) {
        self.completed.increment(1);
        if let Some(s) = latency_seconds {
            self.job_latency.record(s.max(0.0));
        }
    }

    /// An applied pause-state change (`pause`, `resume`, `force_resume`,
    /// `noop`).
    pub fn pause_action(&self, action: &str) {
        self.labelled_counter("lull_pause_actions_total", &[("action", action)])
            .increment(1);
    }

    /// An applied queue pause or resume.
    pub fn queue_pause_action(&self, action: &str) {
        self.labelled_counter("lull_queue_pause_actions_total", &[("action", action)])
            .increment(1);
    }

    /// An applied per-worker action.
    pub fn fleet_action(&self, action: &str) {
        self.labelled_counter("lull_fleet_actions_total", &[("action", action)])
            .increment(1);
    }

    /// A per-worker action refused by the safety rule.
    pub fn fleet_refusal(&self, action: &str) {
        self.labelled_counter("lull_fleet_action_refusals_total", &[("action", action)])
            .increment(1);
    }

    pub fn rolling_restart_started(&self) {
        self.labelled_counter("lull_rolling_restarts_started_total", &[])
            .increment(1);
    }

    /// The handle storage records each call's duration into.
    pub fn storage_latency(&self) -> Histogram {
        self.storage_latency.clone()
    }

    /// A claim starts (`+1`) or stops (`-1`) long-polling.
    pub fn claim_waiting(&self, delta: i64) {
        let n = self.waiting.fetch_add(delta, Relaxed) + delta;
        self.claim_waiters.set(n as f64);
    }

    pub fn set_stream_subscribers(&self, n: usize) {
        self.stream_subscribers.set(n as f64);
    }

    /// The pause gauges (from the cache: no storage call).
    pub fn set_pause(&self, p: PauseGauges<'_>) {
        self.gauge("lull_workers_paused", &[])
            .set(f64::from(u8::from(p.paused)));
        self.gauge("lull_pause_version", &[]).set(p.version as f64);
        for m in ["drain", "quiesce"] {
            self.gauge("lull_pause_mode", &[("mode", m)])
                .set(f64::from(u8::from(p.mode == Some(m))));
        }
        self.gauge("lull_pause_duration_seconds", &[])
            .set(p.paused_for_seconds.max(0.0));
    }

    /// Jobs by status, each queue's pause and live jobs.
    pub fn set_jobs(&self, jobs: &JobCounts, queues: &[QueueGauges<'_>]) {
        for (status, n) in [
            ("queued", jobs.queued),
            ("scheduled", jobs.scheduled),
            ("running", jobs.running),
            ("stale_running", jobs.stale_running),
            ("succeeded", jobs.succeeded),
            ("failed", jobs.failed),
            ("cancelled", jobs.cancelled),
        ] {
            self.gauge("lull_jobs", &[("status", status)]).set(n as f64);
        }
        for (name, paused, c) in queues {
            self.gauge("lull_queue_paused", &[("queue", name)])
                .set(f64::from(u8::from(*paused)));
            for (status, n) in [
                ("queued", c.queued),
                ("scheduled", c.scheduled),
                ("running", c.running),
                ("stale_running", c.stale_running),
            ] {
                self.gauge("lull_queue_jobs", &[("queue", name), ("status", status)])
                    .set(n as f64);
            }
        }
    }

    /// Workers by observed state; every state is reported (0 when none).
    pub fn set_workers(&self, by_state: &[(&str, usize)]) {
        for (state, n) in by_state {
            self.gauge("lull_fleet_workers", &[("state", state)])
                .set(*n as f64);
        }
    }

    /// How many online workers have applied the current pause version, and
    /// how many have not yet (offline and stopped workers are in neither).
    pub fn set_acknowledgement(&self, applied: usize, pending: usize) {
        self.gauge("lull_pause_applied_workers", &[])
            .set(applied as f64);
        self.gauge("lull_pause_pending_workers", &[])
            .set(pending as f64);
    }

    /// Rolling restarts by status.
    pub fn set_rolling_restarts(&self, by_status: &[(&str, usize)]) {
        for (status, n) in by_status {
            self.gauge("lull_rolling_restarts", &[("status", status)])
                .set(*n as f64);
        }
    }

    /// Folds the histogram samples recorded since the last call into their
    /// buckets: without it they pile up between scrapes (the metrics tick
    /// calls it, so an unscraped process stays bounded).
    pub fn upkeep(&self) {
        self.prometheus.run_upkeep();
    }

    /// The Prometheus exposition text; `storage_calls` and
    /// `sqlite_commits` (commits, writes) are the store's own running
    /// counts.
    pub fn render(&self, storage_calls: u64, sqlite_commits: Option<(u64, u64)>) -> String {
        self.storage_calls.absolute(storage_calls);
        if let Some((commits, writes)) = sqlite_commits {
            self.sqlite_commits.absolute(commits);
            self.sqlite_writes.absolute(writes);
        }
        self.prometheus.run_upkeep();
        self.prometheus.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_pause_gauge_counters_and_histogram() {
        let m = Metrics::default();
        m.pause_action("pause");
        m.claim_paused();
        m.completed(Some(0.2));
        m.queue_pause_action("pause");
        let emails = LiveCounts {
            queued: 4,
            running: 2,
            ..Default::default()
        };
        m.set_pause(PauseGauges {
            paused: true,
            mode: Some("drain"),
            version: 7,
            paused_for_seconds: 12.0,
        });
        m.set_jobs(
            &JobCounts {
                queued: 3,
                scheduled: 5,
                ..Default::default()
            },
            &[
                ("emails", true, emails),
                ("default", false, LiveCounts::default()),
            ],
        );
        let text = m.render(42, Some((3, 12)));
        assert!(text.contains("lull_workers_paused 1"), "{text}");
        assert!(text.contains("lull_pause_version 7"));
        assert!(text.contains("lull_pause_mode{mode=\"drain\"} 1"));
        assert!(text.contains("lull_pause_actions_total{action=\"pause\"} 1"));
        assert!(text.contains("lull_claims_total{outcome=\"paused\"} 1"));
        assert!(text.contains("lull_jobs{status=\"queued\"} 3"));
        assert!(text.contains("lull_job_latency_seconds_bucket{le=\"0.5\"} 1"));
        assert!(text.contains("lull_job_latency_seconds_bucket{le=\"0.1\"} 0"));
        assert!(text.contains("lull_job_latency_seconds_count 1"));
        assert!(text.contains("lull_storage_calls_total 42"));
        assert!(text.contains("lull_sqlite_commits_total 3"), "{text}");
        assert!(text.contains("lull_sqlite_committed_writes_total 12"));
        assert!(text.contains("lull_jobs{status=\"scheduled\"} 5"));
        assert!(text.contains("lull_queue_paused{queue=\"emails\"} 1"));
        assert!(text.contains("lull_queue_paused{queue=\"default\"} 0"));
        assert!(text.contains("lull_queue_jobs{queue=\"emails\",status=\"queued\"} 4"));
        assert!(text.contains("lull_queue_jobs{queue=\"emails\",status=\"running\"} 2"));
        assert!(text.contains("lull_queue_pause_actions_total{action=\"pause\"} 1"));
        assert!(text.contains("lull_pause_duration_seconds 12"));
        assert!(text.contains("# HELP lull_workers_paused 1 while the fleet is paused."));
    }
}
