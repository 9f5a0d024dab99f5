//! What the force-resume confirmation says: how much is still in flight,
//! and the first few jobs that keep the fleet from draining.

use leptos::prelude::*;
use wire::{BlockingJob, DrainMetrics};

use crate::format;
use crate::state::Dashboard;

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
pub fn job_line(j: &BlockingJob) -> String {
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

/// How many blocking jobs the force-resume dialog names.
const LISTED: usize = 5;

/// The body of the force-resume confirmation.
#[component]
pub fn ForceResumeDetails() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let metrics = dash.metrics();
    let blocking = move || {
        dash.drain
            .with(|d| d.as_ref().map(|d| d.blocking.clone()).unwrap_or_default())
    };
    view! {
                <p>{move || summary(metrics.get())}</p>
                <ul class="dialog-jobs">
                    <For each=move || blocking().into_iter().take(LISTED) key=|j| j.id let:job>
                        <li>{job_line(&job)}</li>
                    </For>
                    <Show when=move || { blocking().len() > LISTED }>
                        <li>{move || format!("… and {} more.", blocking().len() - LISTED)}</li>
                    </Show>
                </ul>
                <p class="muted">
                    "Cancel keeps the workers paused. Continue resumes them now; the audit log records that you resumed before full drain (forceResume)."
                </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialog_says_what_is_still_running() {
        assert!(summary(Some(DrainMetrics::new(0, 2, 1)))
            .starts_with("The fleet has not drained: 2 jobs are still running and 1 job is stale"));
        assert_eq!(summary(Some(DrainMetrics::new(0, 1, 0))), "The fleet has not drained: 1 job is still running. Resuming now lets workers claim new jobs while these are still in flight.");
    }
}
