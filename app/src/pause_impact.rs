//! What a pause or resume would do, asked of the server before it is made
//! (`dryRun`: validated like the real request, nothing written): shown
//! under the Pause button for the chosen mode, and in the force-resume
//! confirmation.

use leptos::prelude::*;
use wire::{PauseImpact, PauseMode, PauseRequest};

use crate::api::change_pause;
use crate::state::Dashboard;

/// The reason a dry run carries: required by validation, never recorded.
const PREVIEW_REASON: &str = "impact preview";

/// The dry run of a pause in `mode`.
pub fn pause_preview(mode: PauseMode) -> PauseRequest {
    PauseRequest {
        dry_run: Some(true),
        ..PauseRequest::pause(mode, PREVIEW_REASON)
    }
}

/// The dry run of a resume.
pub fn resume_preview() -> PauseRequest {
    PauseRequest {
        dry_run: Some(true),
        ..PauseRequest::resume(PREVIEW_REASON, true)
    }
}

/// The impact of `request`, asked again whenever what it reads moves (the
/// version, the drain metrics, the fleet's acknowledgement, `key`).
fn impact_of(
    key: impl Fn() -> Option<PauseRequest> + Send + Sync + 'static,
) -> LocalResource<Option<PauseImpact>> {
    let dash = expect_context::<Dashboard>();
    let (metrics, ack) = (dash.metrics(), dash.ack());
    LocalResource::new(move || {
        metrics.track();
        ack.track();
        dash.version();
        let request = key();
        async move {
            let request = request?;
            change_pause(request).await.ok().and_then(|s| s.impact)
        }
    })
}

/// "If you pause now: Pausing in drain mode stops 6 workers from claiming;
/// 14 running jobs will finish; 230 queued jobs will wait." — while the
/// fleet runs, for the mode chosen in the form.
#[component]
pub fn PauseImpactPreview(#[prop(into)] mode: Signal<PauseMode>) -> impl IntoView {
    let status = expect_context::<Dashboard>().status();
    let running = move || status.with(|s| s.as_ref().is_some_and(|s| !s.workers_paused));
    let impact = impact_of(move || running().then(|| pause_preview(mode.get())));
    view! {
        <p class="help impact" id="pause-impact" aria-live="polite">
            {move || {
                impact
                    .get()
                    .flatten()
                    .filter(|_| running())
                    .map(|i| format!("If you pause now: {}", i.summary))
            }}
        </p>
    }
}

/// The resume's impact in the force-resume confirmation.
#[component]
pub fn ResumeImpact() -> impl IntoView {
    let status = expect_context::<Dashboard>().status();
    let paused = move || status.with(|s| s.as_ref().is_some_and(|s| s.workers_paused));
    let impact = impact_of(move || paused().then(resume_preview));
    view! {
        <p class="impact" id="resume-impact">
            {move || impact.get().flatten().map(|i| i.summary)}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_dry_runs_of_valid_requests() {
        let p = pause_preview(PauseMode::Quiesce);
        assert_eq!(p.dry_run, Some(true));
        assert_eq!(p.mode.as_deref(), Some("quiesce"));
        assert!(p.reason.is_some_and(|r| !r.is_empty()));
        let r = resume_preview();
        assert_eq!(
            (r.dry_run, r.action.as_deref()),
            (Some(true), Some("resume"))
        );
    }
}
