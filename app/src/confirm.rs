//! The force-resume confirmation: a modal dialog that says what is still
//! running before the operator resumes a fleet that has not drained.
//!
//! It is always in the page and shown by removing `hidden`; its buttons and
//! keys are handled by the controls section that holds it (see
//! [`crate::controls`]): focus moves to "Cancel" (the safe choice) on open,
//! Tab and Shift+Tab cycle inside, Escape cancels, and focus goes back to
//! the Resume button.

use leptos::prelude::*;
use wire::{BlockingJob, DrainMetrics};

use crate::dom;
use crate::format;
use crate::html::Html;
use crate::state::Dashboard;

/// How many blocking jobs the dialog names before summarising the rest.
const LISTED: usize = 5;

/// "The fleet has not drained: 2 jobs are still running and 1 job is stale…"
pub fn summary(m: Option<DrainMetrics>) -> String {
    let (running, stale) = m.map_or((0, 0), |m| (m.running, m.stale_running));
    let mut text = format!(
        "The fleet has not drained: {} still running",
        format::count(running, "job is", "jobs are")
    );
    if stale > 0 {
        text.push_str(&format!(
            " and {} stale (lease expired)",
            format::count(stale, "job is", "jobs are")
        ));
    }
    text.push_str(". Resuming now lets workers claim new jobs while these are still in flight.");
    text
}

/// "render 67e55044 on worker-1, started 19:40:01 (stale)"
fn job_line(j: &BlockingJob) -> String {
    let id = j.id.to_string();
    let mut line = format!("{} {}", j.job_type, format::short_id(&id));
    if let Some(w) = &j.worker_id {
        line.push_str(&format!(" on {w}"));
    }
    if let Some(t) = j.started_at {
        line.push_str(&format!(", started {}", format::clock(t)));
    }
    if j.stale {
        line.push_str(" (stale)");
    }
    line
}

/// The dialog's markup (inside the controls section).
pub const HTML: &str = concat!(
    r#"<div class="overlay" id="force-overlay" hidden data-action="backdrop">"#,
    r#"<div class="dialog" role="dialog" aria-modal="true" aria-labelledby="force-resume-title" aria-describedby="force-resume-desc" data-action="none">"#,
    r#"<h2 id="force-resume-title">Resume before the fleet has drained?</h2>"#,
    r#"<p id="force-resume-desc"></p><ul class="dialog-jobs" id="force-jobs"></ul>"#,
    r#"<p class="muted">Cancel keeps the workers paused. Continue resumes them now; the audit log records that you resumed before full drain (forceResume).</p>"#,
    r#"<div class="dialog-actions"><button type="button" class="btn" id="force-cancel" data-action="cancel">Cancel</button>"#,
    r#"<button type="button" class="btn btn-danger" id="force-continue" data-action="continue">Continue</button></div>"#,
    r#"</div></div>"#,
);

/// Shows the dialog while `hidden` is false, with what still runs.
pub fn bind(dash: Dashboard, hidden: impl Fn() -> bool + 'static) {
    let metrics = dash.metrics();
    dom::flag("force-overlay", "hidden", hidden);
    dom::text("force-resume-desc", move || summary(metrics.get()));
    dom::html("force-jobs", move || {
        dash.drain.with(|d| {
            let jobs = d.as_ref().map(|d| d.blocking.as_slice()).unwrap_or(&[]);
            let mut h = Html::new();
            for j in jobs.iter().take(LISTED) {
                h.raw("<li>").text(&job_line(j)).raw("</li>");
            }
            if jobs.len() > LISTED {
                h.raw("<li>")
                    .text(&format!("… and {} more.", jobs.len() - LISTED))
                    .raw("</li>");
            }
            h.finish()
        })
    });
}
