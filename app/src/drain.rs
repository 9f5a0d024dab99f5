//! The drain card: the queue's counts, progress toward drained with an ETA,
//! a small chart of running jobs over time, and the jobs still blocking the
//! drain. Read-only, so written as HTML (see [`crate::html`]).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use wire::{BlockingJob, DrainMetrics, DrainView, PauseMode, RunningSample, WorkerPauseStatus};

use crate::dom;
use crate::format;
use crate::html::Html;
use crate::state::Dashboard;

/// Progress toward drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Jobs still in flight (running + stale).
    pub left: i64,
    /// The most that were in flight since the pause began.
    pub total: i64,
    pub percent: i64,
}

/// When the current pause began and how many jobs were in flight then: the
/// oldest pause event of the unbroken run of pause events at the top of the
/// audit (a mode switch while paused is a pause event too).
pub fn pause_start(status: &WorkerPauseStatus) -> Option<(DateTime<Utc>, i64)> {
    if !status.workers_paused {
        return None;
    }
    status
        .audit
        .latest
        .iter()
        // Per-worker actions (`worker.pause`, …) are not the global pause.
        .filter(|e| e.action == "pause" || e.action == "resume")
        .take_while(|e| e.action == "pause")
        .last()
        .map(|e| (e.created_at, e.metrics.running + e.metrics.stale_running))
}

/// Progress relative to the most jobs in flight since the pause began: the
/// count at the pause, the peak of the chart since then, or now.
pub fn drain_progress(
    metrics: &DrainMetrics,
    at_pause: i64,
    history: &[RunningSample],
    since: Option<DateTime<Utc>>,
) -> Progress {
    let left = metrics.running + metrics.stale_running;
    let peak = history
        .iter()
        .filter(|s| since.is_none_or(|t| s.at >= t))
        .map(|s| s.running + s.stale_running)
        .max()
        .unwrap_or(0);
    let total = at_pause.max(peak).max(left);
    let percent = if total == 0 {
        100
    } else {
        (total - left) * 100 / total
    };
    Progress {
        left,
        total,
        percent,
    }
}

/// The chart's box, in SVG user units (integers: no float formatting in
/// the bundle).
const CHART_W: i64 = 600;
const CHART_H: i64 = 120;

/// The chart's geometry in a `w`×`h` box.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// SVG path of the running jobs, as a filled area.
    pub area: String,
    /// SVG polyline points of the stale jobs.
    pub stale: String,
    pub peak: i64,
    pub latest: i64,
    pub minutes: i64,
}

pub fn chart(history: &[RunningSample], w: i64, h: i64) -> Option<Chart> {
    let first = history.first()?;
    let last = history.last()?;
    let t0 = first.at.timestamp_millis();
    let span = (last.at.timestamp_millis() - t0).max(1);
    let peak = history.iter().map(|s| s.running).max().unwrap_or(0).max(1);
    let x = |s: &RunningSample| {
        if history.len() == 1 {
            w
        } else {
            (s.at.timestamp_millis() - t0) * w / span
        }
    };
    // Two units of headroom so the peak's stroke stays inside the box.
    let y = |v: i64| h - v * (h - 2) / peak;
    let mut area = format!("M{},{h}", x(first));
    let mut stale = Vec::with_capacity(history.len());
    for s in history {
        area.push_str(&format!(" L{},{}", x(s), y(s.running)));
        stale.push(format!("{},{}", x(s), y(s.stale_running)));
    }
    area.push_str(&format!(" L{},{h} Z", x(last)));
    Some(Chart {
        area,
        stale: stale.join(" "),
        peak,
        latest: last.running,
        minutes: ((span + 30_000) / 60_000).max(1),
    })
}

/// The text under the progress bar: the ETA, or why there is none.
pub fn eta_text(metrics: &DrainMetrics, view: Option<&DrainView>) -> String {
    if metrics.is_drained {
        return "The fleet has drained: nothing is running.".to_string();
    }
    match view.and_then(|d| d.eta_seconds.map(|e| (e, d.completions_per_minute))) {
        Some((eta, rate)) => format!(
            "Drained in {} at {} jobs/min (last 5 min).",
            format::eta(eta),
            format::tenths(rate)
        ),
        None => "No estimate yet: no job finished in the last 5 minutes.".to_string(),
    }
}

/// The card's markup; [`bind`] fills it.
pub const HTML: &str = r#"<section class="card drain" aria-labelledby="drain-h"><h2 id="drain-h">Drain</h2><div id="drain-body"></div></section>"#;

/// Recomputed when the status (a new version), the metrics, the drain view
/// or the clock change; the page is only touched when the result differs
/// (a clock tick often changes no "3 min ago").
pub fn bind(dash: Dashboard) {
    let status = dash.status();
    let metrics = dash.metrics();
    let drain = dash.drain;
    let now = dash.now_ms;
    dom::html("drain-body", move || {
        status
            .with(|s| drain.with(|d| drain_html(s.as_ref(), metrics.get(), d.as_ref(), now.get())))
    });
}

/// The drain card's content: figures, progress and ETA (while paused), the
/// running-jobs chart, and the jobs blocking the drain.
pub fn drain_html(
    status: Option<&WorkerPauseStatus>,
    metrics: Option<DrainMetrics>,
    view: Option<&DrainView>,
    now_ms: i64,
) -> String {
    let mut h = Html::new();
    h.raw("<dl class=\"stats\">");
    let figures = [
        ("Queued", "queued", metrics.map(|m| m.queued.to_string())),
        ("Running", "running", metrics.map(|m| m.running.to_string())),
        (
            "Stale running",
            "stale",
            metrics.map(|m| m.stale_running.to_string()),
        ),
        (
            "Drained",
            "drained",
            metrics.map(|m| if m.is_drained { "Yes" } else { "No" }.to_string()),
        ),
    ];
    for (label, key, value) in figures {
        h.raw("<div><dt>")
            .raw(label)
            .raw("</dt><dd data-stat=\"")
            .raw(key)
            .raw("\">")
            .text(value.as_deref().unwrap_or("–"))
            .raw("</dd></div>");
    }
    h.raw("</dl><div class=\"progress-wrap\">");
    let paused_mode = status.and_then(|s| s.mode.filter(|_| s.workers_paused));
    match (status, paused_mode, metrics) {
        (Some(s), Some(mode), Some(m)) => {
            let (since, at_pause) = pause_start(s).map_or((None, 0), |(t, n)| (Some(t), n));
            let history = view.map(|d| d.history.as_slice()).unwrap_or(&[]);
            let p = drain_progress(&m, at_pause, history, since);
            let percent = p.percent.to_string();
            h.raw("<p id=\"drain-progress-label\" class=\"progress-label\">Progress toward drained: <strong>")
                .raw(&percent)
                .raw(" %</strong> — ")
                .text(&format!(
                    "{} of {} finished since the pause",
                    p.total - p.left,
                    format::count(p.total, "job", "jobs")
                ))
                .raw("</p><div class=\"progress\" role=\"progressbar\" aria-labelledby=\"drain-progress-label\" aria-valuemin=\"0\" aria-valuemax=\"100\" aria-valuenow=\"")
                .raw(&percent)
                .raw("\"><div class=\"progress-fill\" style=\"width:")
                .raw(&percent)
                .raw("%\"></div></div><p class=\"eta\">")
                .text(&eta_text(&m, view))
                .raw("</p>");
            if mode == PauseMode::Quiesce {
                let jobs = view.map(|d| d.blocking.as_slice()).unwrap_or(&[]);
                let held = jobs.iter().filter(|j| j.paused_at_checkpoint).count();
                h.raw("<p class=\"eta\">")
                    .text(&format!(
                        "{held} of {} blocking jobs are holding at a checkpoint.",
                        jobs.len()
                    ))
                    .raw("</p>");
            }
        }
        (Some(_), None, _) => {
            h.raw("<p class=\"muted\">Workers are running. Pause them to start a drain.</p>");
        }
        _ => {}
    }
    h.raw("</div>");
    // The chart ends at the live figures, which move between samples.
    let samples = view.map(|d| {
        let mut samples = d.history.clone();
        let last = samples.last().map(|s| s.at);
        let now = DateTime::from_timestamp_millis(now_ms);
        if let (Some(m), Some(now)) = (metrics, now) {
            samples.push(RunningSample {
                at: last.map_or(now, |l| l.max(now)),
                running: m.running,
                stale_running: m.stale_running,
            });
        }
        samples
    });
    if let Some(c) = samples.and_then(|h| chart(&h, CHART_W, CHART_H)) {
        let label = format!(
            "Running jobs over the last {} min: {} now, peak {}.",
            c.minutes, c.latest, c.peak
        );
        h.raw("<figure class=\"chart\"><svg viewBox=\"0 0 ")
            .raw(&format!("{CHART_W} {CHART_H}"))
            .raw("\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"")
            .text(&label)
            .raw("\"><path class=\"chart-running\" d=\"")
            .raw(&c.area)
            .raw("\"></path><polyline class=\"chart-stale\" points=\"")
            .raw(&c.stale)
            .raw("\"></polyline></svg><figcaption>")
            .text(&label)
            .raw("</figcaption></figure>");
    }
    h.raw("<h3 class=\"sub\">Blocking the drain</h3>");
    let jobs = view.map(|d| d.blocking.as_slice()).unwrap_or(&[]);
    if jobs.is_empty() {
        h.raw("<p class=\"muted\">No running or stale jobs.</p>");
    } else {
        h.raw("<ul class=\"jobs\" aria-label=\"Jobs blocking the drain\">");
        for job in jobs {
            job_html(&mut h, job, now_ms);
        }
        h.raw("</ul>");
    }
    h.finish()
}

fn job_html(h: &mut Html, job: &BlockingJob, now_ms: i64) {
    let id = job.id.to_string();
    h.raw("<li class=\"job\" data-job-id=\"")
        .text(&id)
        .raw("\"><p class=\"job-head\"><span class=\"job-type\">")
        .text(&job.job_type)
        .raw("</span> <code title=\"")
        .text(&id)
        .raw("\">")
        .text(format::short_id(&id))
        .raw("</code>");
    if job.stale {
        h.raw(" <span class=\"badge badge-bad\">stale</span>");
    }
    if job.paused_at_checkpoint {
        h.raw(" <span class=\"badge\">at checkpoint</span>");
    }
    h.raw("</p><dl class=\"job-facts\"><div><dt>Worker</dt><dd>")
        .text(job.worker_id.as_deref().unwrap_or("–"))
        .raw("</dd></div>");
    let facts = [
        ("Started", job.started_at),
        ("Lease until", job.lease_expires_at),
        ("Expected end", job.expected_end_at),
    ];
    for (label, t) in facts {
        if let Some(t) = t {
            h.raw("<div><dt>")
                .raw(label)
                .raw("</dt><dd>")
                .time(t, now_ms, format::clock)
                .raw("</dd></div>");
        }
    }
    h.raw("</dl></li>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::{AuditBlock, ControlEvent};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn sample(at: i64, running: i64) -> RunningSample {
        RunningSample {
            at: t(at),
            running,
            stale_running: 0,
        }
    }

    fn ev(action: &str, at: i64, running: i64) -> ControlEvent {
        ControlEvent {
            id: at,
            action: action.into(),
            mode: Some(PauseMode::Drain),
            reason: "r".into(),
            actor: "a".into(),
            force_resume: false,
            metrics: DrainMetrics::new(0, running, 0),
            version: at,
            success: true,
            request_id: None,
            created_at: t(at),
            targets: vec![],
            details: None,
            queue: None,
        }
    }

    #[test]
    fn progress_counts_from_the_most_in_flight_since_the_pause() {
        let m = DrainMetrics::new(7, 1, 1);
        let p = drain_progress(&m, 4, &[], None);
        assert_eq!((p.left, p.total, p.percent), (2, 4, 50));
        // A peak after the pause raises the total; one before it does not.
        let history = [sample(10, 9), sample(30, 6)];
        assert_eq!(drain_progress(&m, 4, &history, Some(t(20))).total, 6);
        assert_eq!(drain_progress(&m, 4, &history, None).total, 9);
    }

    #[test]
    fn progress_is_complete_when_nothing_was_ever_in_flight() {
        let p = drain_progress(&DrainMetrics::new(3, 0, 0), 0, &[], None);
        assert_eq!(p.percent, 100);
        let p = drain_progress(&DrainMetrics::new(0, 2, 0), 0, &[], None);
        assert_eq!((p.total, p.percent), (2, 0), "never more done than started");
    }

    #[test]
    fn the_pause_starts_at_the_oldest_pause_event_of_the_current_run() {
        let mut s = WorkerPauseStatus {
            workers_paused: true,
            mode: Some(PauseMode::Quiesce),
            reason: None,
            version: 5,
            requested_by: None,
            requested_at: None,
            updated_at: t(0),
            metrics: DrainMetrics::default(),
            audit: AuditBlock {
                // Newest first: a mode switch, the pause, an older resume.
                latest: vec![
                    ev("pause", 50, 1),
                    ev("worker.drain", 45, 2),
                    ev("pause", 40, 3),
                    ev("resume", 30, 0),
                ],
            },
            warning: None,
            until: None,
        };
        assert_eq!(pause_start(&s), Some((t(40), 3)));
        assert_eq!(
            eta_text(&DrainMetrics::new(0, 0, 0), None),
            "The fleet has drained: nothing is running."
        );
        s.workers_paused = false;
        assert_eq!(pause_start(&s), None);
    }

    #[test]
    fn chart_scales_to_the_box_and_peak() {
        let c = chart(&[sample(0, 0), sample(60, 4), sample(120, 2)], 300, 60).unwrap();
        assert_eq!((c.peak, c.latest, c.minutes), (4, 2, 2));
        assert_eq!(c.area, "M0,60 L0,60 L150,2 L300,31 L300,60 Z");
        assert_eq!(c.stale, "0,60 150,60 300,60");
        assert!(chart(&[], 300, 60).is_none());
        let one = chart(&[sample(0, 0)], 300, 60).unwrap();
        assert_eq!(
            (one.minutes, one.area.as_str()),
            (1, "M300,60 L300,60 L300,60 Z")
        );
    }

    fn blocking(stale: bool, at_checkpoint: bool) -> BlockingJob {
        BlockingJob {
            id: Default::default(),
            job_type: "render<x>".into(),
            worker_id: Some("w-1".into()),
            started_at: Some(t(100)),
            lease_expires_at: Some(t(130)),
            stale,
            paused_at_checkpoint: at_checkpoint,
            expected_end_at: None,
        }
    }

    fn paused(mode: PauseMode, audit: Vec<ControlEvent>) -> WorkerPauseStatus {
        WorkerPauseStatus {
            workers_paused: true,
            mode: Some(mode),
            reason: None,
            version: 2,
            requested_by: None,
            requested_at: None,
            updated_at: t(0),
            metrics: DrainMetrics::default(),
            audit: AuditBlock { latest: audit },
            warning: None,
            until: None,
        }
    }

    #[test]
    fn the_card_shows_figures_progress_eta_and_blocking_jobs() {
        let m = DrainMetrics::new(4, 2, 0);
        let view = DrainView {
            metrics: m,
            blocking: vec![blocking(false, true), blocking(true, false)],
            history: vec![sample(50, 3), sample(110, 2)],
            completions_per_minute: 1.0,
            eta_seconds: Some(120.0),
            progress: None,
        };
        let s = paused(PauseMode::Quiesce, vec![ev("pause", 40, 3)]);
        let html = drain_html(Some(&s), Some(m), Some(&view), 110_000);
        assert!(html.contains("<dd data-stat=\"queued\">4</dd>"));
        assert!(html.contains("<dd data-stat=\"drained\">No</dd>"));
        assert!(html.contains("aria-valuenow=\"33\""));
        assert!(html.contains("1 of 3 jobs finished since the pause"));
        assert!(html.contains("Drained in about 2 min at 1.0 jobs/min"));
        assert!(html.contains("1 of 2 blocking jobs are holding at a checkpoint."));
        assert!(html.contains("role=\"img\""));
        assert!(html.contains("render&lt;x&gt;"), "server text is escaped");
        assert!(html.contains(">stale</span>"));
        assert!(html.contains(">at checkpoint</span>"));
        assert!(
            html.contains("(in 20 s)"),
            "lease expiry is relative to now"
        );
    }

    #[test]
    fn the_card_without_a_pause_or_data() {
        let mut s = paused(PauseMode::Drain, vec![]);
        s.workers_paused = false;
        let html = drain_html(Some(&s), Some(DrainMetrics::new(0, 0, 0)), None, 0);
        assert!(html.contains("Workers are running."));
        assert!(html.contains("No running or stale jobs."));
        assert!(!html.contains("progressbar"));
        let html = drain_html(None, None, None, 0);
        assert!(html.contains("<dd data-stat=\"running\">–</dd>"));
    }
}
