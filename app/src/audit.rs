//! The audit history: every pause and resume, newest first, paged with the
//! API's `nextBefore` cursor. The first page is reloaded when the version
//! changes; new events are put on top of what is already loaded.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{ControlEvent, EventsPage};

use crate::api::get_events;
use crate::dom;
use crate::format;
use crate::html::Html;
use crate::state::Dashboard;

/// Events per page.
const PAGE: u32 = 10;

/// What the list holds: events newest first, and the cursor to older ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub events: Vec<ControlEvent>,
    pub next_before: Option<i64>,
    /// An older page is being fetched.
    pub loading: bool,
    pub error: Option<String>,
}

/// Puts the newest page on top of what is loaded. When the page does not
/// reach what is loaded (more new events than a page), there would be a gap:
/// start over from the page.
pub fn merge_newest(loaded: &Loaded, page: EventsPage) -> Loaded {
    let Some(top) = loaded.events.first().map(|e| e.id) else {
        return Loaded {
            events: page.events,
            next_before: page.next_before,
            ..Loaded::default()
        };
    };
    let reaches = page.events.iter().any(|e| e.id <= top) || page.next_before.is_none();
    if !reaches {
        return Loaded {
            events: page.events,
            next_before: page.next_before,
            ..Loaded::default()
        };
    }
    let mut events: Vec<ControlEvent> = page.events.into_iter().filter(|e| e.id > top).collect();
    events.extend(loaded.events.iter().cloned());
    Loaded {
        events,
        next_before: loaded.next_before,
        ..Loaded::default()
    }
}

/// Appends an older page, skipping events already shown.
pub fn append_older(loaded: &Loaded, page: EventsPage) -> Loaded {
    let bottom = loaded.events.last().map_or(i64::MAX, |e| e.id);
    let mut events = loaded.events.clone();
    events.extend(page.events.into_iter().filter(|e| e.id < bottom));
    Loaded {
        events,
        next_before: page.next_before,
        ..Loaded::default()
    }
}

/// Loads the newest page (`before` = `None`: the version changed) and puts
/// it on top, or the page older than `before` and appends it.
pub fn load_events(dash: Dashboard, before: Option<i64>) {
    if !dash.signed_in_untracked() {
        return;
    }
    if before.is_some() {
        dash.audit.update(|l| l.loading = true);
    }
    spawn_local(async move {
        let result = get_events(Some(PAGE), before).await;
        dash.audit.update(|l| match result {
            Ok(page) if before.is_some() => *l = append_older(l, page),
            Ok(page) => *l = merge_newest(l, page),
            Err(e) => {
                l.loading = false;
                l.error = Some(format!("Could not load the history: {e}"));
            }
        });
    });
}

/// The section's markup; [`bind`] fills it.
pub const HTML: &str = concat!(
    r#"<section class="card audit" id="audit" aria-labelledby="audit-h"><h2 id="audit-h">Audit history</h2>"#,
    r#"<div id="audit-body"></div><p class="field-error" role="alert" id="audit-error"></p>"#,
    r#"<button type="button" class="btn" aria-controls="audit-list" id="audit-older" hidden>Show older events</button></section>"#,
);

/// The list is only touched when its HTML differs (a clock tick often
/// changes no "3 min ago").
pub fn bind(dash: Dashboard) {
    let audit = dash.audit;
    let now = dash.now_ms;
    dom::html("audit-body", move || {
        audit.with(|l| events_html(&l.events, now.get()))
    });
    dom::text("audit-error", move || {
        audit.with(|l| l.error.clone().unwrap_or_default())
    });
    dom::flag("audit-older", "hidden", move || {
        audit.with(|l| l.next_before.is_none())
    });
    dom::flag("audit-older", "disabled", move || audit.with(|l| l.loading));
    dom::on("audit-older", "click", move |_| {
        load_events(dash, audit.with_untracked(|l| l.next_before))
    });
}

/// The list of events, newest first.
pub fn events_html(events: &[ControlEvent], now_ms: i64) -> String {
    let mut h = Html::new();
    if events.is_empty() {
        h.raw("<p class=\"muted\">No pause or resume yet.</p>");
        return h.finish();
    }
    h.raw("<ol class=\"events\" id=\"audit-list\" aria-label=\"Control events, newest first\">");
    for e in events {
        h.raw("<li class=\"event\" data-action=\"")
            .text(&e.action)
            .raw("\" data-version=\"")
            .raw(&e.version.to_string())
            .raw("\"><p class=\"event-head\"><span class=\"badge\" data-action=\"")
            .text(&e.action)
            .raw("\">")
            .text(&e.action)
            .raw("</span>");
        if let Some(mode) = e.mode {
            h.raw(" <span class=\"event-mode\">")
                .raw(mode.as_str())
                .raw("</span>");
        }
        if !e.success {
            h.raw(" <span class=\"badge badge-bad\" title=\"Refused: nothing was applied\">refused</span>");
        }
        if e.force_resume {
            h.raw(" <span class=\"badge badge-bad\" title=\"Resumed before the fleet had drained\">forceResume</span>");
        }
        h.raw(" <span class=\"event-version\">v")
            .raw(&e.version.to_string())
            .raw("</span></p><p class=\"event-reason\">")
            .text(&e.reason)
            .raw("</p>");
        if !e.targets.is_empty() {
            h.raw("<p class=\"event-meta\">workers: ")
                .text(&e.targets.join(", "))
                .raw("</p>");
        }
        h.raw("<p class=\"event-meta\">by <strong>")
            .text(&e.actor)
            .raw("</strong> · ")
            .time(e.created_at, now_ms, format::absolute);
        if e.action == "resume" {
            let in_flight = e.metrics.running + e.metrics.stale_running;
            h.text(&format!(
                " · {} still running",
                format::count(in_flight, "job", "jobs")
            ));
        }
        h.raw("</p></li>");
    }
    h.raw("</ol>");
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use wire::DrainMetrics;

    fn ev(id: i64) -> ControlEvent {
        ControlEvent {
            id,
            action: "pause".into(),
            mode: None,
            reason: "r".into(),
            actor: "a".into(),
            force_resume: false,
            metrics: DrainMetrics::default(),
            version: id,
            success: true,
            request_id: None,
            created_at: DateTime::from_timestamp(id, 0).unwrap(),
            targets: vec![],
            details: None,
            queue: None,
        }
    }

    fn page(ids: &[i64], next_before: Option<i64>) -> EventsPage {
        EventsPage {
            events: ids.iter().copied().map(ev).collect(),
            next_before,
        }
    }

    fn ids(l: &Loaded) -> Vec<i64> {
        l.events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn new_events_go_on_top_and_older_pages_stay() {
        let mut l = merge_newest(&Loaded::default(), page(&[5, 4, 3], Some(3)));
        l = append_older(&l, page(&[2, 1], None));
        assert_eq!(ids(&l), [5, 4, 3, 2, 1]);
        assert_eq!(l.next_before, None);
        let l = merge_newest(&l, page(&[7, 6, 5], Some(5)));
        assert_eq!(ids(&l), [7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(l.next_before, None, "the loaded cursor is kept");
    }

    #[test]
    fn a_gap_starts_the_list_over() {
        let l = merge_newest(&Loaded::default(), page(&[3, 2], Some(2)));
        let l = merge_newest(&l, page(&[9, 8], Some(8)));
        assert_eq!(ids(&l), [9, 8]);
        assert_eq!(l.next_before, Some(8));
    }

    #[test]
    fn events_render_newest_first_with_their_facts_escaped() {
        let mut resume = ev(2);
        resume.action = "resume".into();
        resume.force_resume = true;
        resume.reason = "<b>now</b>".into();
        resume.metrics = DrainMetrics::new(0, 2, 1);
        let html = events_html(&[resume, ev(1)], 10_000);
        assert!(html.starts_with("<ol class=\"events\""));
        assert!(html.contains("data-version=\"2\""));
        assert!(html.find("data-version=\"2\"") < html.find("data-version=\"1\""));
        assert!(html.contains(">forceResume</span>"));
        assert!(html.contains("&lt;b&gt;now&lt;/b&gt;"));
        assert!(html.contains("3 jobs still running"));
        assert!(!html.contains(">refused</span>"));
        let mut refused = ev(3);
        refused.action = "worker.drain".into();
        refused.success = false;
        assert!(events_html(&[refused], 0).contains(">refused</span>"));
        assert_eq!(
            events_html(&[], 0),
            "<p class=\"muted\">No pause or resume yet.</p>"
        );
    }

    #[test]
    fn older_pages_skip_what_is_shown() {
        let l = merge_newest(&Loaded::default(), page(&[5, 4], Some(4)));
        let l = append_older(&l, page(&[4, 3], Some(3)));
        assert_eq!(ids(&l), [5, 4, 3]);
        assert_eq!(l.next_before, Some(3));
    }
}
