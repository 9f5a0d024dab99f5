//! The global Workers banner (running or paused, why, by whom, since when,
//! at which version) and the live-connection indicator beside it.

use leptos::prelude::*;
use wire::{ControlEvent, PauseMode, WorkerPauseStatus};

use crate::format;
use crate::state::{Dashboard, Link};

/// "Workers: Running" / "Workers: Paused (Drain)" / "Workers: Paused (Quiesce)".
pub fn banner_title(status: &WorkerPauseStatus) -> String {
    match (status.workers_paused, status.mode) {
        (false, _) => "Workers: Running".to_string(),
        (true, Some(PauseMode::Quiesce)) => "Workers: Paused (Quiesce)".to_string(),
        (true, _) => "Workers: Paused (Drain)".to_string(),
    }
}

/// `running`, `drain` or `quiesce`: the banner's `data-state`, for styling.
pub fn state_name(status: &WorkerPauseStatus) -> &'static str {
    match (status.workers_paused, status.mode) {
        (false, _) => "running",
        (true, Some(PauseMode::Quiesce)) => "quiesce",
        (true, _) => "drain",
    }
}

/// The resume that ended the last pause, when it came before the fleet had
/// drained (the audit's `forceResume`) and the fleet is still running.
pub fn forced_resume(status: &WorkerPauseStatus) -> Option<&ControlEvent> {
    if status.workers_paused {
        return None;
    }
    status
        .audit
        .latest
        .iter()
        // Per-worker actions (`worker.pause`, …) are not the global pause.
        .find(|e| e.action == "pause" || e.action == "resume")
        .filter(|e| e.action == "resume" && e.force_resume)
}

#[component]
pub fn WorkersBanner() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let status = dash.status();
    let now = dash.now_ms;
    let link = dash.link;

    // One render per version (the status signal only changes with it); the
    // relative time inside ticks on its own.
    let body = move || {
        status.with(|s| {
            let title = s
                .as_ref()
                .map_or_else(|| "Workers: …".to_string(), banner_title);
            let waiting = s.is_none().then(|| {
                if link.get() == Link::Disconnected {
                    "The server cannot be reached."
                } else {
                    "Loading…"
                }
            });
            let s = s.as_ref();
            let reason = s.and_then(|s| s.reason.clone()).map(|r| {
                view! { <span class="banner-reason">"Reason: " <q>{r}</q></span> }
            });
            let actor = s
                .and_then(|s| s.requested_by.clone())
                .map(|a| view! { <span>"by " <strong>{a}</strong></span> });
            let version = s.map(|s| view! { <span class="banner-version">"version " {s.version}</span> });
            let since = s.and_then(|s| s.requested_at).map(|t| {
                view! {
                    <span class="banner-since">
                        "since " <time datetime=format::iso(t)>{format::absolute(t)}</time>
                        // Ticks every few seconds: hidden from the live
                        // region so screen readers hear state changes, not
                        // the clock.
                        <span class="rel" aria-hidden="true">" (" {move || format::relative(t, now.get())} ")"</span>
                    </span>
                }
            });
            let forced = s.and_then(forced_resume).map(|e| {
                let (running, stale) = (e.metrics.running, e.metrics.stale_running);
                let mut text = format!(" — {} still running", format::count(running, "job was", "jobs were"));
                if stale > 0 {
                    text.push_str(&format!(" and {stale} stale"));
                }
                text.push_str(" when the fleet resumed.");
                view! { <p class="banner-forced"><strong>"Resumed before full drain"</strong> {text}</p> }
            });
            view! {
                <p class="banner-title">{title}</p>
                <p class="banner-detail">{waiting} {reason} {actor} {version} {since}</p>
                {forced}
            }
        })
    };

    view! {
        <section class="banner" role="status" aria-live="polite" aria-label="Workers"
            data-state=move || status.with(|s| s.as_ref().map(state_name).unwrap_or("unknown"))>
            {body}
        </section>
    }
}

/// Says whether the page is live, polling, or cut off (data may be stale).
#[component]
pub fn LinkIndicator() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let poll_s = dash
        .config
        .with_value(|c| format::seconds(c.poll_interval_ms));
    let link = dash.link;
    move || {
        let (name, text) = match link.get() {
            Link::Connecting => ("connecting", "Connecting…".to_string()),
            Link::Live => ("live", "Live".to_string()),
            Link::Polling => (
                "polling",
                format!("Live stream unavailable — refreshing every {poll_s} s"),
            ),
            Link::Disconnected => (
                "disconnected",
                "Live updates disconnected — data may be stale".to_string(),
            ),
        };
        view! {
            <p class="link" role="status" data-link=name>
                <span class="link-dot" aria-hidden="true"></span>
                <span class="link-text">{text}</span>
            </p>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use wire::{AuditBlock, DrainMetrics};

    fn status(paused: bool, mode: Option<PauseMode>) -> WorkerPauseStatus {
        WorkerPauseStatus {
            workers_paused: paused,
            mode,
            reason: None,
            version: 1,
            requested_by: None,
            requested_at: None,
            updated_at: DateTime::from_timestamp(0, 0).unwrap(),
            metrics: DrainMetrics::new(0, 0, 0),
            audit: AuditBlock::default(),
            warning: None,
        }
    }

    fn event(action: &str, force_resume: bool) -> ControlEvent {
        ControlEvent {
            id: 1,
            action: action.into(),
            mode: Some(PauseMode::Drain),
            reason: "r".into(),
            actor: "a".into(),
            force_resume,
            metrics: DrainMetrics::new(0, 2, 1),
            version: 2,
            success: true,
            request_id: None,
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            targets: vec![],
            details: None,
        }
    }

    #[test]
    fn titles_name_the_state_and_mode() {
        assert_eq!(banner_title(&status(false, None)), "Workers: Running");
        assert_eq!(
            banner_title(&status(true, Some(PauseMode::Drain))),
            "Workers: Paused (Drain)"
        );
        assert_eq!(
            banner_title(&status(true, Some(PauseMode::Quiesce))),
            "Workers: Paused (Quiesce)"
        );
        assert_eq!(
            state_name(&status(true, Some(PauseMode::Quiesce))),
            "quiesce"
        );
    }

    #[test]
    fn forced_resume_is_highlighted_only_after_a_forced_resume() {
        let mut s = status(false, None);
        assert!(forced_resume(&s).is_none());
        s.audit.latest = vec![event("resume", false)];
        assert!(forced_resume(&s).is_none());
        s.audit.latest = vec![
            event("worker.pause", false),
            event("resume", true),
            event("pause", false),
        ];
        assert_eq!(forced_resume(&s).map(|e| e.metrics.running), Some(2));
        s.workers_paused = true;
        assert!(forced_resume(&s).is_none(), "paused again: old news");
    }
}
