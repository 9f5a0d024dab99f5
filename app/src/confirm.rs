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

pub fn force_resume_dialog(
    hidden: impl Fn() -> bool + Send + Sync + 'static,
    cancel_id: &'static str,
    continue_id: &'static str,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let metrics = dash.metrics();
    let jobs = move || {
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
    };
    view! {
        <div class="overlay" hidden=hidden data-action="backdrop">
            <div class="dialog" role="dialog" aria-modal="true"
                aria-labelledby="force-resume-title" aria-describedby="force-resume-desc"
                data-action="none">
                <h2 id="force-resume-title">"Resume before the fleet has drained?"</h2>
                <p id="force-resume-desc">{move || summary(metrics.get())}</p>
                <ul class="dialog-jobs" inner_html=jobs></ul>
                <p class="muted">
                    "Cancel keeps the workers paused. Continue resumes them now; the audit log records that you resumed before full drain (forceResume)."
                </p>
                <div class="dialog-actions">
                    <button type="button" class="btn" id=cancel_id data-action="cancel">"Cancel"</button>
                    <button type="button" class="btn btn-danger" id=continue_id data-action="continue">
                        "Continue"
                    </button>
                </div>
            </div>
        </div>
    }
}
