//! `/audit`: the whole control log, paged, filterable by action and actor.
//! The filters live in the address (`/audit?action=pause&actor=ops`), so a
//! filtered view is a link and survives a reload.
//!
//! The server filters (the events API's `action` and `actor`) before it
//! pages, so every page is a page of matches and *Show older events*
//! continues among them.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use wire::ControlEvent;

pub use crate::audit::Filter;
use crate::audit::{AuditLog, EventList, OlderEvents};

/// Events per page read from the server.
const PAGE: u32 = 50;

/// The actions the log records (the filter's options; any other action
/// seen in the loaded events is offered too).
const ACTIONS: [&str; 12] = [
    "pause",
    "resume",
    "worker.pause",
    "worker.resume",
    "worker.drain",
    "rolling_restart.start",
    "rolling_restart.cancel",
    "rolling_restart.done",
    "rolling_restart.failed",
    "queue.pause",
    "queue.resume",
    "jobs.retry",
];

impl Filter {
    /// The address of the page with this filter.
    pub fn href(&self) -> String {
        let mut query = Vec::new();
        if !self.action.is_empty() {
            query.push(format!("action={}", encode(&self.action)));
        }
        // Untrimmed: the field shows what the address says while typing.
        if !self.actor.is_empty() {
            query.push(format!("actor={}", encode(&self.actor)));
        }
        if query.is_empty() {
            "/audit".into()
        } else {
            format!("/audit?{}", query.join("&"))
        }
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The action options: the known ones, then any other seen.
pub fn action_options(events: &[ControlEvent]) -> Vec<String> {
    let mut options: Vec<String> = ACTIONS.iter().map(|a| a.to_string()).collect();
    for e in events {
        if !options.contains(&e.action) {
            options.push(e.action.clone());
        }
    }
    options
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| Filter {
            action: q.get("action").unwrap_or_default(),
            actor: q.get("actor").unwrap_or_default(),
        })
    });
    let navigate = use_navigate();
    let set_filter = move |f: Filter| {
        navigate(
            &f.href(),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let set_action = set_filter.clone();

    let log = AuditLog::filtered(PAGE, filter.into());
    let loaded = log.loaded;
    // Matching again here drops what a page loaded for an older filter.
    let shown = Signal::derive(move || {
        filter.with(|f| {
            loaded.with(|l| {
                l.events
                    .iter()
                    .filter(|e| f.matches(e))
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    });
    let options = move || loaded.with(|l| action_options(&l.events));
    let count = move || {
        let (n, more) = loaded.with(|l| (shown.with(Vec::len), l.next_before.is_some()));
        let tail = if more {
            "; older events not loaded yet"
        } else {
            ""
        };
        if filter.with(Filter::is_empty) {
            format!("{n} events loaded{tail}.")
        } else {
            format!("{n} matching events loaded{tail}.")
        }
    };
    let empty = Signal::derive(move || {
        if filter.with(Filter::is_empty) {
            "No event yet.".to_string()
        } else {
            "No loaded event matches the filter.".to_string()
        }
    });
    let older = Callback::new(move |_| log.load_older());

    view! {
        <div class="page">
            <section class="card audit" aria-labelledby="audit-log-h">
                <h2 id="audit-log-h">"Audit log"</h2>
                <form class="filters" role="search" aria-label="Filter the audit log" on:submit=|ev| ev.prevent_default()>
                    <div class="field">
                        <label for="audit-action">"Action"</label>
                        <select
                            id="audit-action"
                            prop:value=move || filter.with(|f| f.action.clone())
                            on:change=move |ev| set_action(Filter { action: event_target_value(&ev), ..filter.get_untracked() })
                        >
                            <option value="">"All"</option>
                            <For each=options key=|a| a.clone() let:action>
                                <option value=action.clone()>{action.clone()}</option>
                            </For>
                        </select>
                    </div>
                    <div class="field">
                        <label for="audit-actor">"Actor"</label>
                        <input
                            type="search"
                            id="audit-actor"
                            autocomplete="off"
                            prop:value=move || filter.with(|f| f.actor.clone())
                            on:input=move |ev| set_filter(Filter { actor: event_target_value(&ev), ..filter.get_untracked() })
                        />
                    </div>
                </form>
                <p class="muted" role="status">{count}</p>
                <EventList events=shown empty />
                <OlderEvents loaded older />
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::event;

    fn ev(action: &str, actor: &str) -> ControlEvent {
        ControlEvent {
            actor: actor.into(),
            ..event(1, action)
        }
    }

    #[test]
    fn the_filter_matches_an_exact_action_and_part_of_the_actor() {
        let f = Filter {
            action: "pause".into(),
            actor: "OPS".into(),
        };
        assert!(f.matches(&ev("pause", "e2e-ops-1")));
        assert!(!f.matches(&ev("worker.pause", "e2e-ops-1")));
        assert!(!f.matches(&ev("pause", "local")));
        assert!(Filter::default().matches(&ev("anything", "anyone")));
    }

    #[test]
    fn the_filter_is_an_address() {
        assert_eq!(Filter::default().href(), "/audit");
        let f = Filter {
            action: "worker.drain".into(),
            actor: "ops team".into(),
        };
        assert_eq!(f.href(), "/audit?action=worker.drain&actor=ops%20team");
    }

    #[test]
    fn unknown_actions_seen_in_the_log_are_offered() {
        let options = action_options(&[ev("pause", "a"), ev("batch.someday", "a")]);
        assert_eq!(options.len(), ACTIONS.len() + 1);
        assert_eq!(options.last().map(String::as_str), Some("batch.someday"));
    }
}
