//! The global Workers banner (running or paused, why, by whom, since when,
//! at which version) and the live-connection indicator beside it.

use leptos::prelude::*;
use wire::{ControlEvent, PauseMode, WorkerPauseStatus};

use crate::dom;
use crate::format;
use crate::html::Html;
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

/// The banner's content for a status (`None`: not loaded yet, or the
/// server cannot be reached). The relative time is filled in by a binding
/// of its own (`#banner-rel`), so the clock does not re-render the live
/// region.
pub fn banner_html(status: Option<&WorkerPauseStatus>, unreachable: bool, now_ms: i64) -> String {
    let mut h = Html::new();
    h.raw("<p class=\"banner-title\">")
        .text(&status.map_or_else(|| "Workers: …".to_string(), banner_title))
        .raw("</p><p class=\"banner-detail\">");
    let Some(s) = status else {
        h.raw(if unreachable {
            "The server cannot be reached."
        } else {
            "Loading…"
        });
        return h.raw("</p>").finish();
    };
    if let Some(r) = &s.reason {
        h.raw("<span class=\"banner-reason\">Reason: <q>")
            .text(r)
            .raw("</q></span>");
    }
    if let Some(a) = &s.requested_by {
        h.raw("<span>by <strong>").text(a).raw("</strong></span>");
    }
    h.raw("<span class=\"banner-version\">version ")
        .raw(&s.version.to_string())
        .raw("</span>");
    if let Some(t) = s.requested_at {
        // The relative time ticks every few seconds: hidden from the live
        // region so screen readers hear state changes, not the clock.
        h.raw("<span class=\"banner-since\">since <time datetime=\"")
            .text(&format::iso(t))
            .raw("\">")
            .text(&format::absolute(t))
            .raw("</time><span class=\"rel\" aria-hidden=\"true\" id=\"banner-rel\">")
            .text(&rel_text(s, now_ms))
            .raw("</span></span>");
    }
    if let Some(t) = s.until.filter(|_| s.workers_paused) {
        h.raw("<span class=\"banner-until\">resumes by itself at <time datetime=\"")
            .text(&format::iso(t))
            .raw("\">")
            .text(&format::absolute(t))
            .raw("</time></span>");
    }
    h.raw("</p>");
    if let Some(e) = forced_resume(s) {
        let (running, stale) = (e.metrics.running, e.metrics.stale_running);
        let mut text = format!(
            " — {} still running",
            format::count(running, "job was", "jobs were")
        );
        if stale > 0 {
            text.push_str(&format!(" and {stale} stale"));
        }
        text.push_str(" when the fleet resumed.");
        h.raw("<p class=\"banner-forced\"><strong>Resumed before full drain</strong>")
            .text(&text)
            .raw("</p>");
    }
    h.finish()
}

/// ` (3 min ago)`: how long ago the pause or resume was requested.
fn rel_text(s: &WorkerPauseStatus, now_ms: i64) -> String {
    s.requested_at
        .map(|t| format!(" ({})", format::relative(t, now_ms)))
        .unwrap_or_default()
}

/// The banner's and the link indicator's markup (in the header).
pub const LINK_HTML: &str = r#"<p class="link" role="status" id="link" data-link="connecting"><span class="link-dot" aria-hidden="true"></span><span class="link-text" id="link-text">Connecting…</span></p>"#;
pub const BANNER_HTML: &str = r#"<section class="banner" role="status" aria-live="polite" aria-label="Workers" id="banner" data-state="unknown"></section>"#;

/// The global Workers banner: re-rendered once per version (the status
/// signal only changes with it) or when reachability matters.
pub fn bind_banner(dash: Dashboard) {
    let status = dash.status();
    let now = dash.now_ms;
    let link = dash.link;
    dom::attr("banner", "data-state", move || {
        Some(
            status
                .with(|s| s.as_ref().map(state_name).unwrap_or("unknown"))
                .to_string(),
        )
    });
    dom::html("banner", move || {
        let unreachable = link.with(|l| *l == Link::Disconnected);
        status.with(|s| banner_html(s.as_ref(), unreachable, now.get_untracked()))
    });
    dom::text("banner-rel", move || {
        status.with(|s| {
            s.as_ref()
                .map(|s| rel_text(s, now.get()))
                .unwrap_or_default()
        })
    });
}

/// Says whether the page is live, polling, or cut off (data may be stale).
pub fn bind_link(dash: Dashboard) {
    let poll_s = dash
        .config
        .with_value(|c| format::seconds(c.poll_interval_ms));
    let link = dash.link;
    dom::attr("link", "data-link", move || {
        Some(
            match link.get() {
                Link::Connecting => "connecting",
                Link::Live => "live",
                Link::Polling => "polling",
                Link::Disconnected => "disconnected",
            }
            .to_string(),
        )
    });
    dom::text("link-text", move || match link.get() {
        Link::Connecting => "Connecting…".to_string(),
        Link::Live => "Live".to_string(),
        Link::Polling => format!("Live stream unavailable — refreshing every {poll_s} s"),
        Link::Disconnected => "Live updates disconnected — data may be stale".to_string(),
    });
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
            until: None,
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
            queue: None,
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
    fn a_timed_pause_says_when_it_ends() {
        let mut s = status(true, Some(PauseMode::Drain));
        assert!(!banner_html(Some(&s), false, 0).contains("resumes by itself"));
        s.until = DateTime::from_timestamp(1_795_376_848, 0);
        assert!(banner_html(Some(&s), false, 0).contains(
            "resumes by itself at <time datetime=\"2026-11-22T19:47:28Z\">2026-11-22 19:47:28 UTC</time>"
        ));
        s.workers_paused = false;
        assert!(!banner_html(Some(&s), false, 0).contains("resumes by itself"));
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
