//! The global Workers banner (running or paused, why, by whom, since when,
//! at which version, until when) and the live-connection indicator beside
//! it. Both are in the layout, on every route.

use leptos::prelude::*;
use wire::{AcknowledgingWorker, ControlEvent, PauseAcknowledgement, PauseMode, WorkerPauseStatus};

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

/// " — 2 jobs were still running and 1 stale when the fleet resumed."
pub fn forced_text(e: &ControlEvent) -> String {
    let (running, stale) = (e.metrics.running, e.metrics.stale_running);
    let mut text = format!(
        " — {} still running",
        format::count(running, "job was", "jobs were")
    );
    if stale > 0 {
        text.push_str(&format!(" and {stale} stale"));
    }
    text.push_str(" when the fleet resumed.");
    text
}

/// "Applied by 2 of 3 workers" (the online ones).
pub fn ack_title(a: &PauseAcknowledgement) -> String {
    format!(
        "Applied by {} of {}",
        a.applied,
        format::count(a.total.into(), "worker", "workers")
    )
}

/// "w2, w3 (worker-three)": ids, with the name when it differs.
pub fn ack_names(list: &[AcknowledgingWorker]) -> String {
    list.iter()
        .map(|w| {
            if w.name == w.worker_id {
                w.worker_id.clone()
            } else {
                format!("{} ({})", w.worker_id, w.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The banner's acknowledgement line: how many online workers have
/// applied the version shown, who is pending, who is offline. Live: it
/// follows [`Dashboard::ack`], which moves without a new version.
#[component]
fn BannerAck() -> impl IntoView {
    let ack = expect_context::<Dashboard>().ack();
    move || {
        ack.get().filter(|a| a.total > 0 || !a.offline.is_empty()).map(|a| {
            let pending = (!a.pending.is_empty()).then(|| {
                view! { <span class="banner-pending">"Pending: " {ack_names(&a.pending)}</span> }
            });
            let offline = (!a.offline.is_empty()).then(|| {
                view! { <span class="banner-offline">"Offline (not counted): " {ack_names(&a.offline)}</span> }
            });
            view! {
                <p class="banner-ack" data-complete=a.complete.to_string()>
                    <strong>{ack_title(&a)}</strong>
                    {pending}
                    {offline}
                </p>
            }
        })
    }
}

/// The banner: re-rendered once per version (the status signal only
/// changes with it). The relative "3 min ago" ticks on its own, hidden from
/// the live region so screen readers hear state changes, not the clock.
#[component]
pub fn Banner() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let status = dash.status();
    let unreachable = move || dash.link.get() == Link::Disconnected;
    let state = move || status.with(|s| s.as_ref().map(state_name).unwrap_or("unknown"));
    let body = move || match status.get() {
        None => view! {
            <p class="banner-title">"Workers: …"</p>
            <p class="banner-detail">
                {move || if unreachable() { "The server cannot be reached." } else { "Loading…" }}
            </p>
        }
        .into_any(),
        Some(s) => view! { <BannerDetail status=s /> }.into_any(),
    };
    view! {
        <section class="banner" role="status" aria-live="polite" aria-label="Workers" data-state=state>
            {body}
        </section>
    }
}

#[component]
fn BannerDetail(status: WorkerPauseStatus) -> impl IntoView {
    let now = expect_context::<Dashboard>().now_ms;
    let forced = forced_resume(&status).map(forced_text);
    let since = status.requested_at.map(|t| {
        let rel = move || format!(" ({})", format::relative(t, now.get()));
        view! {
            <span class="banner-since">
                "since " <time datetime=format::iso(t)>{format::absolute(t)}</time>
                <span class="rel" aria-hidden="true">{rel}</span>
            </span>
        }
    });
    let until = status.until.filter(|_| status.workers_paused).map(|t| {
        view! {
            <span class="banner-until">
                "resumes by itself at " <time datetime=format::iso(t)>{format::absolute(t)}</time>
            </span>
        }
    });
    view! {
        <p class="banner-title">{banner_title(&status)}</p>
        <p class="banner-detail">
            {status.reason.map(|r| view! { <span class="banner-reason">"Reason: " <q>{r}</q></span> })}
            {status.requested_by.map(|a| view! { <span>"by " <strong>{a}</strong></span> })}
            <span class="banner-version">"version " {status.version}</span>
            {since}
            {until}
        </p>
        <BannerAck />
        {forced.map(|text| view! {
            <p class="banner-forced"><strong>"Resumed before full drain"</strong>{text}</p>
        })}
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
    let name = move || match link.get() {
        Link::Connecting => "connecting",
        Link::Live => "live",
        Link::Polling => "polling",
        Link::Disconnected => "disconnected",
    };
    let text = move || match link.get() {
        Link::Connecting => "Connecting…".to_string(),
        Link::Live => "Live".to_string(),
        Link::Polling => format!("Live stream unavailable — refreshing every {poll_s} s"),
        Link::Disconnected => "Live updates disconnected — data may be stale".to_string(),
    };
    view! {
        <p class="link" role="status" data-link=name>
            <span class="link-dot" aria-hidden="true"></span>
            <span class="link-text">{text}</span>
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::status;
    use wire::DrainMetrics;

    fn event(action: &str, force_resume: bool) -> ControlEvent {
        ControlEvent {
            mode: Some(PauseMode::Drain),
            force_resume,
            metrics: DrainMetrics::new(0, 2, 1),
            ..crate::fixtures::event(1, action)
        }
    }

    #[test]
    fn the_acknowledgement_counts_and_names_the_pending_workers() {
        let w = |id: &str, name: &str| AcknowledgingWorker {
            worker_id: id.into(),
            name: name.into(),
            last_heartbeat_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            applied_version: None,
        };
        let mut a = PauseAcknowledgement {
            version: 4,
            total: 6,
            applied: 5,
            pending: vec![w("w6", "w6")],
            offline: vec![],
            complete: false,
        };
        assert_eq!(ack_title(&a), "Applied by 5 of 6 workers");
        assert_eq!(ack_names(&a.pending), "w6");
        assert_eq!(ack_names(&[w("w2", "two"), w("w3", "w3")]), "w2 (two), w3");
        a.applied = 6;
        assert_eq!(ack_title(&a), "Applied by 6 of 6 workers");
        a.total = 1;
        a.applied = 1;
        assert_eq!(ack_title(&a), "Applied by 1 of 1 worker");
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
        let e = forced_resume(&s).expect("the forced resume");
        assert_eq!(
            forced_text(e),
            " — 2 jobs were still running and 1 stale when the fleet resumed."
        );
        s.workers_paused = true;
        assert!(forced_resume(&s).is_none(), "paused again: old news");
    }
}
