//! Process-local counters for `/metrics` (Prometheus text format).
//!
//! Counters live in memory (each server process reports its own, as
//! Prometheus expects); gauges that describe shared state (pause state, jobs
//! by status, each queue's pause and live jobs) are read from storage at
//! scrape time.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::domain::drain::{JobCounts, LiveCounts};

/// One queue's gauges: its name, whether it is paused, its live jobs.
pub type QueueGauges<'a> = (&'a str, bool, LiveCounts);

/// Upper bounds (seconds) of the job-latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0];

#[derive(Debug, Default)]
pub struct Metrics {
    pub pauses: AtomicU64,
    pub resumes: AtomicU64,
    pub force_resumes: AtomicU64,
    pub noop_actions: AtomicU64,
    pub queue_pauses: AtomicU64,
    pub queue_resumes: AtomicU64,
    pub claims_paused: AtomicU64,
    pub claims_claimed: AtomicU64,
    pub claims_empty: AtomicU64,
    pub claims_error: AtomicU64,
    pub requeued_expired: AtomicU64,
    pub completed: AtomicU64,
    pub failures: AtomicU64,
    pub lease_conflicts: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    /// Sum of latencies in microseconds (integer, lock-free).
    latency_sum_us: AtomicU64,
}

pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Metrics {
    /// Records how long a finished job ran (claim to completion).
    pub fn observe_latency(&self, seconds: f64) {
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us
            .fetch_add((seconds.max(0.0) * 1e6) as u64, Relaxed);
    }

    /// The Prometheus exposition text.
    pub fn render(
        &self,
        paused: bool,
        mode: Option<&str>,
        version: i64,
        jobs: &JobCounts,
        queues: &[QueueGauges<'_>],
        storage_calls: u64,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let mut gauge = |name: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "lull_workers_paused",
            "1 while the fleet is paused.",
            u8::from(paused).to_string(),
        );
        gauge(
            "lull_pause_version",
            "Version of the global pause state.",
            version.to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP lull_pause_mode 1 for the current pause mode.\n# TYPE lull_pause_mode gauge"
        );
        for m in ["drain", "quiesce"] {
            let _ = writeln!(
                out,
                "lull_pause_mode{{mode=\"{m}\"}} {}",
                u8::from(mode == Some(m))
            );
        }
        let _ = writeln!(out, "# HELP lull_pause_actions_total Pause-state changes made through this process.\n# TYPE lull_pause_actions_total counter");
        let _ = writeln!(
            out,
            "lull_pause_actions_total{{action=\"pause\"}} {}",
            self.pauses.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "lull_pause_actions_total{{action=\"resume\"}} {}",
            self.resumes.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "lull_pause_actions_total{{action=\"force_resume\"}} {}",
            self.force_resumes.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "lull_pause_actions_total{{action=\"noop\"}} {}",
            self.noop_actions.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP lull_claims_total Claim requests by outcome.\n# TYPE lull_claims_total counter"
        );
        for (outcome, c) in [
            ("paused", &self.claims_paused),
            ("claimed", &self.claims_claimed),
            ("empty", &self.claims_empty),
            ("error", &self.claims_error),
        ] {
            let _ = writeln!(
                out,
                "lull_claims_total{{outcome=\"{outcome}\"}} {}",
                c.load(Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP lull_jobs Jobs by status (stale_running: running with an expired lease).\n# TYPE lull_jobs gauge");
        for (status, n) in [
            ("queued", jobs.queued),
            ("scheduled", jobs.scheduled),
            ("running", jobs.running),
            ("stale_running", jobs.stale_running),
            ("succeeded", jobs.succeeded),
            ("failed", jobs.failed),
            ("cancelled", jobs.cancelled),
        ] {
            let _ = writeln!(out, "lull_jobs{{status=\"{status}\"}} {n}");
        }
        // Queue names are identifiers ([A-Za-z0-9._:@/-]): safe as label
        // values without escaping.
        let _ = writeln!(
            out,
            "# HELP lull_queue_paused 1 while the queue is paused.\n# TYPE lull_queue_paused gauge"
        );
        for (name, paused, _) in queues {
            let _ = writeln!(
                out,
                "lull_queue_paused{{queue=\"{name}\"}} {}",
                u8::from(*paused)
            );
        }
        let _ = writeln!(out, "# HELP lull_queue_jobs Live jobs of each queue by status.\n# TYPE lull_queue_jobs gauge");
        for (name, _, c) in queues {
            for (status, n) in [
                ("queued", c.queued),
                ("scheduled", c.scheduled),
                ("running", c.running),
                ("stale_running", c.stale_running),
            ] {
                let _ = writeln!(
                    out,
                    "lull_queue_jobs{{queue=\"{name}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# HELP lull_queue_pause_actions_total Queue pause-state changes made through this process.\n# TYPE lull_queue_pause_actions_total counter");
        for (action, c) in [
            ("pause", &self.queue_pauses),
            ("resume", &self.queue_resumes),
        ] {
            let _ = writeln!(
                out,
                "lull_queue_pause_actions_total{{action=\"{action}\"}} {}",
                c.load(Relaxed)
            );
        }
        for (name, help, c) in [
            (
                "lull_job_completions_total",
                "Jobs completed successfully.",
                &self.completed,
            ),
            (
                "lull_dispatch_failures_total",
                "Job failures reported by workers (retried or final).",
                &self.failures,
            ),
            (
                "lull_lease_conflicts_total",
                "Fenced calls refused because the lease was lost.",
                &self.lease_conflicts,
            ),
            (
                "lull_expired_leases_requeued_total",
                "Expired leases requeued or failed before a claim.",
                &self.requeued_expired,
            ),
            (
                "lull_storage_calls_total",
                "Storage calls made by this process (each at least one database round trip).",
                &AtomicU64::new(storage_calls),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP lull_job_latency_seconds Time from claim to completion.\n# TYPE lull_job_latency_seconds histogram");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "lull_job_latency_seconds_bucket{{le=\"{bound}\"}} {}",
                self.latency_buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            out,
            "lull_job_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "lull_job_latency_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "lull_job_latency_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_pause_gauge_counters_and_histogram() {
        let m = Metrics::default();
        inc(&m.pauses);
        inc(&m.claims_paused);
        m.observe_latency(0.2);
        inc(&m.queue_pauses);
        let emails = LiveCounts {
            queued: 4,
            running: 2,
            ..Default::default()
        };
        let text = m.render(
            true,
            Some("drain"),
            7,
            &JobCounts {
                queued: 3,
                scheduled: 5,
                ..Default::default()
            },
            &[
                ("emails", true, emails),
                ("default", false, LiveCounts::default()),
            ],
            42,
        );
        assert!(text.contains("lull_workers_paused 1"));
        assert!(text.contains("lull_pause_version 7"));
        assert!(text.contains("lull_pause_mode{mode=\"drain\"} 1"));
        assert!(text.contains("lull_pause_actions_total{action=\"pause\"} 1"));
        assert!(text.contains("lull_claims_total{outcome=\"paused\"} 1"));
        assert!(text.contains("lull_jobs{status=\"queued\"} 3"));
        assert!(text.contains("lull_job_latency_seconds_bucket{le=\"0.5\"} 1"));
        assert!(text.contains("lull_job_latency_seconds_bucket{le=\"0.1\"} 0"));
        assert!(text.contains("lull_job_latency_seconds_count 1"));
        assert!(text.contains("lull_storage_calls_total 42"));
        assert!(text.contains("lull_jobs{status=\"scheduled\"} 5"));
        assert!(text.contains("lull_queue_paused{queue=\"emails\"} 1"));
        assert!(text.contains("lull_queue_paused{queue=\"default\"} 0"));
        assert!(text.contains("lull_queue_jobs{queue=\"emails\",status=\"queued\"} 4"));
        assert!(text.contains("lull_queue_jobs{queue=\"emails\",status=\"running\"} 2"));
        assert!(text.contains("lull_queue_pause_actions_total{action=\"pause\"} 1"));
    }
}
