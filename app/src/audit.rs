//! The audit history: every pause, resume and fleet action, newest first,
//! paged with the API's `nextBefore` cursor. The newest page is loaded when
//! a list appears and again when the version changes; new events go on top
//! of what is loaded, older pages below.
//!
//! Used twice: the overview's recent history and the whole log at `/audit`
//! (with its [`Filter`], applied by the server, see [`crate::audit_page`]).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{ControlEvent, EventsPage, EventsSearch};

use crate::api::get_events;
use crate::format;
use crate::state::Dashboard;
use crate::widgets::Time;

/// What a list holds: events newest first, and the cursor to older ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub events: Vec<ControlEvent>,
    pub next_before: Option<i64>,
    /// A page is being fetched.
    pub loading: bool,
    pub error: Option<String>,
}

/// Puts the newest page on top of what is loaded. When the page does not
/// reach what is loaded (more new events than a page), there would be a gap:
/// start over from the page.
pub fn merge_newest(loaded: &Loaded, page: EventsPage) -> Loaded {
    let top = loaded.events.first().map(|e| e.id);
    let reaches = top
        .is_some_and(|top| page.events.iter().any(|e| e.id <= top) || page.next_before.is_none());
    if !reaches {
        return Loaded {
            events: page.events,
            next_before: page.next_before,
            ..Loaded::default()
        };
    }
    let top = top.unwrap_or_default();
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

/// Which events a list shows: an exact action, and an actor the event's
/// actor contains (any case). Empty matches everything. The server
/// filters (`action`, `actor` on the events API) before it pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub action: String,
    pub actor: String,
}

impl Filter {
    /// What the server matches, for an event already loaded (a page that
    /// answers after the filter changed is dropped by this).
    pub fn matches(&self, e: &ControlEvent) -> bool {
        (self.action.is_empty() || e.action == self.action)
            && (self.actor.trim().is_empty()
                || e.actor
                    .to_lowercase()
                    .contains(&self.actor.trim().to_lowercase()))
    }

    pub fn is_empty(&self) -> bool {
        self.action.is_empty() && self.actor.trim().is_empty()
    }

    /// The events API's query for a page of `limit` below `before`.
    pub fn query(&self, limit: u32, before: Option<i64>) -> EventsSearch {
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        EventsSearch {
            limit: Some(limit),
            before,
            action: given(&self.action),
            actor: given(&self.actor),
        }
    }
}

/// One list of the audit log, loaded page by page.
#[derive(Clone, Copy)]
pub struct AuditLog {
    pub loaded: RwSignal<Loaded>,
    page: u32,
    filter: Signal<Filter>,
}

impl AuditLog {
    /// A log that loads `page` events at a time: the newest page now, and
    /// again on every new version (for as long as the component lives).
    pub fn new(page: u32) -> Self {
        AuditLog::filtered(page, Signal::stored(Filter::default()))
    }

    /// [`AuditLog::new`] of the events matching `filter`: a new filter
    /// starts the list over.
    pub fn filtered(page: u32, filter: Signal<Filter>) -> Self {
        let log = AuditLog {
            loaded: RwSignal::new(Loaded::default()),
            page,
            filter,
        };
        let dash = expect_context::<Dashboard>();
        Effect::new(move |previous: Option<Filter>| {
            dash.version();
            let f = filter.get();
            if previous.is_some_and(|p| p != f) {
                log.loaded.set(Loaded::default());
            }
            if dash.signed_in_untracked() {
                log.load_newest();
            }
            f
        });
        log
    }

    /// Loads the newest page and puts it on top.
    pub fn load_newest(self) {
        let (loaded, page, filter) = (self.loaded, self.page, self.filter);
        let asked = filter.get_untracked();
        spawn_local(async move {
            let result = get_events(asked.query(page, None)).await;
            if filter.with_untracked(|f| *f != asked) {
                return; // the filter changed meanwhile: a newer load follows
            }
            loaded.update(|l| match result {
                Ok(p) => *l = merge_newest(l, p),
                Err(e) => l.error = Some(format!("Could not load the history: {e}")),
            });
        });
    }

    /// Loads the next older page of matching events.
    pub fn load_older(self) {
        let (loaded, page, filter) = (self.loaded, self.page, self.filter);
        let Some(before) = loaded.with_untracked(|l| l.next_before) else {
            return;
        };
        let asked = filter.get_untracked();
        loaded.update(|l| l.loading = true);
        spawn_local(async move {
            let result = get_events(asked.query(page, Some(before))).await;
            loaded.update(|l| {
                l.loading = false;
                if filter.with_untracked(|f| *f != asked) {
                    return;
                }
                match result {
                    Ok(p) => *l = append_older(l, p),
                    Err(e) => l.error = Some(format!("Could not load the history: {e}")),
                }
            });
        });
    }
}

/// The events, newest first (keyed by id: events never change).
#[component]
pub fn EventList(
    #[prop(into)] events: Signal<Vec<ControlEvent>>,
    #[prop(into)] empty: Signal<String>,
) -> impl IntoView {
    view! {
        <Show when=move || events.with(|e| !e.is_empty()) fallback=move || view! { <p class="muted">{empty}</p> }>
            <ol class="events" id="audit-list" aria-label="Control events, newest first">
                <For each=move || events.get() key=|e| e.id children=|e| view! { <EventRow event=e /> } />
            </ol>
        </Show>
    }
}

#[component]
fn EventRow(event: ControlEvent) -> impl IntoView {
    let e = event;
    let still_running = (e.action == "resume").then(|| {
        let in_flight = e.metrics.running + e.metrics.stale_running;
        format!(
            " · {} still running",
            format::count(in_flight, "job", "jobs")
        )
    });
    view! {
        <li class="event" data-event-id=e.id data-action=e.action.clone() data-version=e.version>
            <p class="event-head">
                <span class="badge" data-action=e.action.clone()>{e.action.clone()}</span>
                {e.mode.map(|m| view! { " " <span class="event-mode">{m.as_str()}</span> })}
                {(!e.success).then(|| view! {
                    " " <span class="badge badge-bad" title="Refused: nothing was applied">"refused"</span>
                })}
                {e.force_resume.then(|| view! {
                    " " <span class="badge badge-bad" title="Resumed before the fleet had drained">"forceResume"</span>
                })}
                " "
                <span class="event-version">"v" {e.version}</span>
            </p>
            <p class="event-reason">{e.reason}</p>
            {(!e.targets.is_empty()).then(|| view! { <p class="event-meta">"workers: " {e.targets.join(", ")}</p> })}
            <p class="event-meta">
                "by " <strong>{e.actor}</strong> " · " <Time at=e.created_at shown=format::absolute /> {still_running}
            </p>
        </li>
    }
}

/// A failed load, and *Show older events* while the log goes further back.
#[component]
pub fn OlderEvents(loaded: RwSignal<Loaded>, older: Callback<()>) -> impl IntoView {
    view! {
        <p class="field-error" role="alert">{move || loaded.with(|l| l.error.clone())}</p>
        <Show when=move || loaded.with(|l| l.next_before.is_some())>
            <button
                type="button"
                class="btn"
                aria-controls="audit-list"
                disabled=move || loaded.with(|l| l.loading)
                on:click=move |_| older.run(())
            >
                "Show older events"
            </button>
        </Show>
    }
}

/// The overview's audit history: the newest events, *Show older events*,
/// and the way to the whole log.
#[component]
pub fn AuditHistory() -> impl IntoView {
    let log = AuditLog::new(10);
    let loaded = log.loaded;
    view! {
        <section class="card audit" aria-labelledby="audit-h">
            <h2 id="audit-h">"Audit history"</h2>
            <EventList events=Signal::derive(move || loaded.with(|l| l.events.clone())) empty="No pause or resume yet.".to_string() />
            <div class="actions">
                <OlderEvents loaded older=Callback::new(move |_| log.load_older()) />
                <leptos_router::components::A href="/audit" {..} class="btn">"The whole log"</leptos_router::components::A>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::event;

    fn page(ids: &[i64], next_before: Option<i64>) -> EventsPage {
        EventsPage {
            events: ids.iter().map(|&id| event(id, "pause")).collect(),
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
    fn older_pages_skip_what_is_shown() {
        let l = merge_newest(&Loaded::default(), page(&[5, 4], Some(4)));
        let l = append_older(&l, page(&[4, 3], Some(3)));
        assert_eq!(ids(&l), [5, 4, 3]);
        assert_eq!(l.next_before, Some(3));
    }
}
