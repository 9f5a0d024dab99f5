//! The drain card: the queue's counts, progress toward drained with an ETA
//! (from [`crate::estimate`]), a small chart of running jobs over time, and
//! the jobs still blocking the drain.

use chrono::DateTime;
use leptos::prelude::*;
use wire::{BlockingJob, PauseMode, RunningSample};

use crate::estimate::{drain_estimate, eta_text};
use crate::format;
use crate::state::Dashboard;
use crate::widgets::Time;

/// The chart's box, in SVG user units.
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

/// The samples of the chart: the history, ending at the live figures (which
/// move between samples).
fn samples(dash: Dashboard) -> Option<Vec<RunningSample>> {
    let now = DateTime::from_timestamp_millis(dash.now_ms.get());
    let metrics = dash.metrics().get();
    dash.drain.with(|d| {
        let mut samples = d.as_ref()?.history.clone();
        let last = samples.last().map(|s| s.at);
        if let (Some(m), Some(now)) = (metrics, now) {
            samples.push(RunningSample {
                at: last.map_or(now, |l| l.max(now)),
                running: m.running,
                stale_running: m.stale_running,
            });
        }
        Some(samples)
    })
}

#[component]
pub fn DrainCard() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let status = dash.status();
    let metrics = dash.metrics();
    let stat = move |label: &'static str,
                     key: &'static str,
                     value: fn(wire::DrainMetrics) -> String| {
        view! {
            <div>
                <dt>{label}</dt>
                <dd data-stat=key>{move || metrics.get().map_or_else(|| "–".to_string(), value)}</dd>
            </div>
        }
    };
    let estimate = Memo::new(move |_| {
        status.with(|s| dash.drain.with(|d| drain_estimate(s.as_ref()?, d.as_ref())))
    });
    let running = move || status.with(|s| s.as_ref().is_some_and(|s| !s.workers_paused));
    let quiesce = move || {
        status.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.workers_paused && s.mode == Some(PauseMode::Quiesce))
        })
    };
    let chart = Memo::new(move |_| samples(dash).and_then(|h| chart(&h, CHART_W, CHART_H)));
    let blocking = move || {
        dash.drain
            .with(|d| d.as_ref().map(|d| d.blocking.clone()).unwrap_or_default())
    };

    view! {
        <section class="card drain" aria-labelledby="drain-h">
            <h2 id="drain-h">"Drain"</h2>
            <dl class="stats">
                {stat("Queued", "queued", |m| m.queued.to_string())}
                {stat("Running", "running", |m| m.running.to_string())}
                {stat("Stale running", "stale", |m| m.stale_running.to_string())}
                {stat("Drained", "drained", |m| if m.is_drained { "Yes" } else { "No" }.to_string())}
            </dl>
            <div class="progress-wrap">
                {move || estimate.get().map(|e| {
                    let p = e.progress;
                    let done = format!("{} of {} finished since the pause", p.total - p.left, format::count(p.total, "job", "jobs"));
                    view! {
                        <p id="drain-progress-label" class="progress-label">
                            "Progress toward drained: " <strong>{p.percent} " %"</strong> " — " {done}
                        </p>
                        <div class="progress" role="progressbar" aria-labelledby="drain-progress-label"
                            aria-valuemin="0" aria-valuemax="100" aria-valuenow=p.percent>
                            <div class="progress-fill" style:width=format!("{}%", p.percent)></div>
                        </div>
                        <p class="eta">{move || metrics.get().map(|m| eta_text(&m, &e))}</p>
                    }
                })}
                <Show when=quiesce>
                    <p class="eta">
                        {move || {
                            let jobs = blocking();
                            let held = jobs.iter().filter(|j| j.paused_at_checkpoint).count();
                            format!("{held} of {} blocking jobs are holding at a checkpoint.", jobs.len())
                        }}
                    </p>
                </Show>
                <Show when=running>
                    <p class="muted">"Workers are running. Pause them to start a drain."</p>
                </Show>
            </div>
            {move || chart.get().map(|c| {
                let label = format!("Running jobs over the last {} min: {} now, peak {}.", c.minutes, c.latest, c.peak);
                view! {
                    <figure class="chart">
                        <svg viewBox=format!("0 0 {CHART_W} {CHART_H}") preserveAspectRatio="none" role="img" aria-label=label.clone()>
                            <path class="chart-running" d=c.area></path>
                            <polyline class="chart-stale" points=c.stale></polyline>
                        </svg>
                        <figcaption>{label}</figcaption>
                    </figure>
                }
            })}
            <h3 class="sub">"Blocking the drain"</h3>
            <Show
                when=move || !blocking().is_empty()
                fallback=|| view! { <p class="muted">"No running or stale jobs."</p> }
            >
                <ul class="jobs" aria-label="Jobs blocking the drain">
                    <For
                        each=blocking
                        key=|j| (j.id, j.stale, j.paused_at_checkpoint, j.lease_expires_at, j.expected_end_at)
                        children=|job| view! { <BlockingRow job /> }
                    />
                </ul>
            </Show>
        </section>
    }
}

/// One job that keeps the fleet from draining (keyed by what it shows, so a
/// row is only redrawn when its facts change).
#[component]
fn BlockingRow(job: BlockingJob) -> impl IntoView {
    let id = job.id.to_string();
    let facts = [
        ("Started", job.started_at),
        ("Lease until", job.lease_expires_at),
        ("Expected end", job.expected_end_at),
    ];
    view! {
        <li class="job" data-job-id=id.clone()>
            <p class="job-head">
                <span class="job-type">{job.job_type}</span>
                " "
                <code title=id.clone()>{format::short_id(&id).to_string()}</code>
                {job.stale.then(|| view! { " " <span class="badge badge-bad">"stale"</span> })}
                {job.paused_at_checkpoint.then(|| view! { " " <span class="badge">"at checkpoint"</span> })}
            </p>
            <dl class="job-facts">
                <div><dt>"Worker"</dt><dd>{job.worker_id.unwrap_or_else(|| "–".into())}</dd></div>
                {facts
                    .into_iter()
                    .filter_map(|(label, t)| t.map(|t| view! { <div><dt>{label}</dt><dd><Time at=t /></dd></div> }))
                    .collect_view()}
            </dl>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, running: i64) -> RunningSample {
        RunningSample {
            at: DateTime::from_timestamp(at, 0).unwrap(),
            running,
            stale_running: 0,
        }
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
}
