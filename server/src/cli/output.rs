//! What the CLI prints: one-line summaries and small tables of the typed
//! answers (with `--json` the answer itself is printed instead, see
//! [`super::Ctx::print`]).

use chrono::{DateTime, SecondsFormat, Utc};
use wire::{EventsPage, RollingRestart, WorkerActionResponse, WorkerList, WorkerPauseStatus};

/// A time as the server writes it (RFC 3339, UTC, `Z`, the fraction only
/// when there is one), so a printed time reads like the JSON one.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The status as the dashboard's banner says it, and the drain metrics.
pub fn status_line(s: &WorkerPauseStatus) -> String {
    let state = if s.workers_paused {
        format!(
            "Workers: Paused ({})",
            s.mode.map(|m| m.as_str()).unwrap_or("?")
        )
    } else {
        "Workers: Running".to_string()
    };
    let state = match s.until {
        Some(until) => format!("{state} · resumes by itself at {}", timestamp(until)),
        None => state,
    };
    let m = &s.metrics;
    format!(
        "{state} · version {} · reason: {} · by {}\nqueued {} · running {} · stale {} · {}",
        s.version,
        s.reason.as_deref().unwrap_or("-"),
        s.requested_by.as_deref().unwrap_or("-"),
        m.queued,
        m.running,
        m.stale_running,
        if m.is_drained {
            "drained"
        } else {
            "not drained"
        }
    )
}

/// `lull workers list`.
pub fn workers_table(list: &WorkerList) -> String {
    let mut out = format!(
        "{:<20} {:<10} {:<10} {:<25} JOBS",
        "ID", "DESIRED", "OBSERVED", "LAST HEARTBEAT"
    );
    for w in &list.workers {
        out.push_str(&format!(
            "\n{:<20} {:<10} {:<10} {:<25} {}",
            w.id,
            w.desired_state.as_str(),
            w.observed_state.as_str(),
            timestamp(w.last_heartbeat_at),
            w.active_jobs.len()
        ));
    }
    out
}

/// What a worker action did, worker by worker.
pub fn action_summary(r: &WorkerActionResponse) -> String {
    let mut out = String::new();
    for w in &r.results {
        out.push_str(&format!(
            "{}: {} → {} ({} running job(s))\n",
            w.worker_id,
            w.previous_desired_state.as_str(),
            w.desired_state.as_str(),
            w.running_jobs
        ));
    }
    if let Some(eta) = r.eta_seconds {
        out.push_str(&format!("idle in about {eta:.0} s\n"));
    }
    out.trim_end().to_string()
}

/// One line of a rolling restart's progress: `running: w1=done w2=draining`.
pub fn rollout_progress(r: &RollingRestart) -> String {
    let states: Vec<String> = r
        .workers
        .iter()
        .map(|w| format!("{}={}", w.worker_id, w.state.as_str()))
        .collect();
    format!("{}: {}", r.status.as_str(), states.join(" "))
}

/// The audit log, one event a line, refusals and forced resumes marked.
pub fn events_lines(page: &EventsPage) -> String {
    let mut out = String::new();
    for e in &page.events {
        out.push_str(&format!(
            "{} v{} {:<24} {:<8} by {:<16} {}{}{}{}\n",
            timestamp(e.created_at),
            e.version,
            e.action,
            e.mode.map(|m| m.as_str()).unwrap_or("-"),
            e.actor,
            e.reason,
            if e.force_resume {
                " [force resume]"
            } else {
                ""
            },
            if e.success { "" } else { " [refused]" },
            e.queue
                .as_deref()
                .map(|q| format!(" [queue {q}]"))
                .unwrap_or_default()
        ));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(paused: bool) -> WorkerPauseStatus {
        serde_json::from_value(serde_json::json!({
            "workersPaused": paused, "mode": paused.then_some("drain"), "version": 3,
            "reason": "deploy", "requestedBy": "alice",
            "updatedAt": "2026-11-30T00:00:00Z",
            "metrics": {"queued": 1, "running": 2, "staleRunning": 0, "isDrained": false},
            "audit": {"latest": []}
        }))
        .unwrap()
    }

    #[test]
    fn status_line_reads_like_the_banner() {
        let line = status_line(&status(true));
        assert!(line.starts_with("Workers: Paused (drain) · version 3"));
        assert!(line.contains("running 2") && line.contains("not drained"));
        assert!(status_line(&status(false)).starts_with("Workers: Running · version 3"));
    }

    #[test]
    fn a_timed_pause_shows_its_end_as_the_server_writes_it() {
        let mut s = status(true);
        s.until = Some("2026-11-30T18:00:00Z".parse().unwrap());
        assert!(status_line(&s).contains("· resumes by itself at 2026-11-30T18:00:00Z ·"));
        let t: DateTime<Utc> = "2026-11-30T18:00:00.250Z".parse().unwrap();
        assert_eq!(timestamp(t), "2026-11-30T18:00:00.250Z");
    }

    #[test]
    fn events_mark_refusals_and_forced_resumes() {
        let page: EventsPage = serde_json::from_value(serde_json::json!({
            "events": [
                {"id": 2, "action": "resume", "mode": null, "reason": "early", "actor": "bob",
                 "forceResume": true, "metrics": {"queued": 0, "running": 1, "staleRunning": 0, "isDrained": false},
                 "version": 12, "success": true, "createdAt": "2026-11-30T00:00:01Z"},
                {"id": 1, "action": "worker.drain", "mode": null, "reason": "all", "actor": "bob",
                 "forceResume": false, "metrics": {"queued": 0, "running": 0, "staleRunning": 0, "isDrained": true},
                 "version": 11, "success": false, "createdAt": "2026-11-30T00:00:00Z"}
            ],
            "nextBefore": null
        }))
        .unwrap();
        let lines = events_lines(&page);
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(
            lines[0],
            "2026-11-30T00:00:01Z v12 resume                   -        by bob              early [force resume]"
        );
        assert!(lines[1].ends_with("all [refused]"), "{}", lines[1]);
    }

    #[test]
    fn a_queue_event_names_its_queue() {
        let page: EventsPage = serde_json::from_value(serde_json::json!({
            "events": [
                {"id": 3, "action": "queue.pause", "mode": "drain", "reason": "provider", "actor": "ops",
                 "forceResume": false, "metrics": {"queued": 4, "running": 0, "staleRunning": 0, "isDrained": true},
                 "version": 2, "success": true, "createdAt": "2026-11-30T00:00:02Z", "queue": "emails"}
            ],
            "nextBefore": null
        }))
        .unwrap();
        assert!(events_lines(&page).ends_with("provider [queue emails]"));
    }
}
