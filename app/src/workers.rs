//! The Workers tab: the fleet table (sortable, filterable by observed
//! state, multi-select), the action bar (pause, resume, drain, rolling
//! restart), the confirmation dialog that states the impact (and asks for
//! the typed phrase when the server's safety check demands it), and the
//! live progress of a rolling restart.
//!
//! Size matters (the WASM budget): the table and the rolling-restart
//! progress are HTML strings (see [`crate::html`]); their checkboxes and
//! sort buttons are handled by one delegated handler per event kind, like
//! the controls section's; the table's focus is restored after a refresh.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{HtmlInputElement, HtmlSelectElement, KeyboardEvent, SubmitEvent};
use wire::{ActionImpact, BlockingJob};

use crate::api::{fleet_action, Rollout, Worker};
use crate::dom;
use crate::format;
use crate::html::Html;
use crate::state::Dashboard;

/// The table's columns after the checkbox: header and what they sort by.
pub const COLUMNS: [&str; 7] = [
    "Worker",
    "Hostname",
    "Version",
    "Desired",
    "Observed",
    "Last heartbeat",
    "Active jobs",
];

/// The observed states the table can be filtered by (the filter's options
/// in [`HTML`]).
#[cfg(test)]
const STATES: [&str; 5] = ["running", "paused", "draining", "stopped", "offline"];

/// How the table is shown: sort column and direction, filter, selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableView {
    pub sort: usize,
    pub desc: bool,
    /// An observed state, or empty for all.
    pub filter: String,
    pub selected: Vec<String>,
}

/// An action waiting for the person's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// `pause`, `resume`, `drain` or `restart`.
    pub action: String,
    pub ids: Vec<String>,
    pub reason: String,
    pub max_unavailable: u32,
    /// The phrase the server's safety check asks to type.
    pub phrase: Option<String>,
    pub impact: Option<ActionImpact>,
    pub message: Option<String>,
}

/// The tab's transient state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ui {
    busy: bool,
    /// (`done` | `error`, text)
    notice: Option<(&'static str, String)>,
    reason_error: Option<String>,
    dialog: Option<Pending>,
    /// What is typed in the confirmation field.
    typed: String,
}

/// The rows shown: filtered, then sorted.
pub fn rows<'a>(workers: &'a [Worker], v: &TableView) -> Vec<&'a Worker> {
    let mut rows: Vec<&Worker> = workers
        .iter()
        .filter(|w| v.filter.is_empty() || w.observed == v.filter)
        .collect();
    rows.sort_by(|a, b| {
        let o = match v.sort {
            0 => a.name.cmp(&b.name),
            1 => a.hostname.cmp(&b.hostname),
            2 => a.version.cmp(&b.version),
            3 => a.desired.cmp(&b.desired),
            4 => a.observed.cmp(&b.observed),
            5 => a.heartbeat_ms.cmp(&b.heartbeat_ms),
            _ => a.jobs.cmp(&b.jobs),
        }
        .then_with(|| a.id.cmp(&b.id));
        if v.desc {
            o.reverse()
        } else {
            o
        }
    });
    rows
}

/// The selected workers that still exist, in fleet order.
pub fn selected_ids(workers: &[Worker], v: &TableView) -> Vec<String> {
    workers
        .iter()
        .filter(|w| v.selected.contains(&w.id))
        .map(|w| w.id.clone())
        .collect()
}

/// The fleet table. `write`: the person may act (checkboxes shown).
pub fn table_html(workers: Option<&[Worker]>, v: &TableView, now_ms: i64, write: bool) -> String {
    let mut h = Html::new();
    let Some(workers) = workers else {
        h.raw("<p class=\"muted\">Loading the fleet…</p>");
        return h.finish();
    };
    let shown = rows(workers, v);
    let all = !shown.is_empty() && shown.iter().all(|w| v.selected.contains(&w.id));
    h.raw("<table class=\"fleet\" id=\"fleet\"><caption>")
        .text(&format!(
            "{} shown of {}",
            shown.len(),
            format::count(workers.len() as i64, "worker", "workers")
        ))
        .raw("</caption><thead><tr>");
    if write {
        h.raw("<th scope=\"col\"><input type=\"checkbox\" id=\"wsel-all\" data-select=\"*\" aria-label=\"Select all shown workers\"")
            .raw(if all { " checked" } else { "" })
            .raw("></th>");
    }
    for (i, label) in COLUMNS.iter().enumerate() {
        h.raw("<th scope=\"col\"");
        let mut arrow = "";
        if v.sort == i {
            let (sort, a) = if v.desc {
                ("descending", " ▼")
            } else {
                ("ascending", " ▲")
            };
            h.raw(" aria-sort=\"").raw(sort).raw("\"");
            arrow = a;
        }
        let n = i.to_string();
        h.raw("><button type=\"button\" class=\"sort\" id=\"wsort-")
            .raw(&n)
            .raw("\" data-sort=\"")
            .raw(&n)
            .raw("\">")
            .raw(label)
            .raw("<span aria-hidden=\"true\">")
            .raw(arrow)
            .raw("</span></button></th>");
    }
    h.raw("</tr></thead><tbody>");
    for w in &shown {
        let on = v.selected.contains(&w.id);
        h.raw("<tr data-worker-id=\"").text(&w.id).raw(if on {
            "\" class=\"selected\">"
        } else {
            "\">"
        });
        if write {
            h.raw("<td><input type=\"checkbox\" id=\"wsel-")
                .text(&w.id)
                .raw("\" data-select=\"")
                .text(&w.id)
                .raw("\" aria-label=\"Select ")
                .text(&w.id)
                .raw("\"")
                .raw(if on { " checked" } else { "" })
                .raw("></td>");
        }
        h.raw("<th scope=\"row\">");
        if !w.name.is_empty() && w.name != w.id {
            h.text(&w.name).raw("<br>");
        }
        h.raw("<code>")
            .text(&w.id)
            .raw("</code></th><td>")
            .text(&w.hostname)
            .raw("</td><td>")
            .text(&w.version)
            .raw("</td><td data-col=\"desired\"><span class=\"state\" data-state=\"")
            .text(&w.desired)
            .raw("\">")
            .text(&w.desired)
            .raw("</span></td><td data-col=\"observed\"><span class=\"state\" data-state=\"")
            .text(&w.observed)
            .raw("\">")
            .text(&w.observed)
            .raw("</span></td><td>")
            .text(&format::relative_ms(w.heartbeat_ms, now_ms))
            .raw("</td><td data-col=\"jobs\">")
            .raw(&w.jobs.to_string())
            .raw("</td></tr>");
    }
    if shown.is_empty() {
        h.raw("<tr><td colspan=\"8\" class=\"muted\">")
            .raw(if workers.is_empty() {
                "No worker has registered yet."
            } else {
                "No worker is in this state."
            })
            .raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    h.finish()
}

/// When the drained workers should be idle: from the expected end of the
/// jobs they run (the drain view's blocking jobs), or "unknown".
pub fn drain_eta(
    ids: &[String],
    workers: &[Worker],
    blocking: &[BlockingJob],
    now_ms: i64,
) -> String {
    let jobs: u32 = workers
        .iter()
        .filter(|w| ids.contains(&w.id))
        .map(|w| w.jobs)
        .sum();
    let mut latest = None;
    let mut any = false;
    for j in blocking {
        if !j.worker_id.as_ref().is_some_and(|w| ids.contains(w)) {
            continue;
        }
        any = true;
        match j.expected_end_at {
            Some(t) => latest = latest.max(Some(t)),
            None => return "unknown".into(),
        }
    }
    match latest {
        Some(t) => format!(
            "{} (by {})",
            format::eta(((t.timestamp_millis() - now_ms) / 1000) as f64),
            format::clock(t)
        ),
        None if jobs == 0 && !any => "now: they run no jobs".into(),
        None => "unknown".into(),
    }
}

fn verb(action: &str) -> &str {
    match action {
        "restart" => "Rolling restart of",
        "pause" => "Pause",
        "resume" => "Resume",
        _ => "Drain",
    }
}

pub fn dialog_title(p: &Pending) -> String {
    if p.phrase.is_some() {
        return "Confirm: this would leave too few workers available".into();
    }
    format!(
        "{} {}?",
        verb(&p.action),
        format::count(p.ids.len() as i64, "worker", "workers")
    )
}

/// What the dialog says the action will do.
pub fn impact_html(
    p: &Pending,
    workers: &[Worker],
    blocking: &[BlockingJob],
    now_ms: i64,
) -> String {
    let mut h = Html::new();
    if let Some(m) = &p.message {
        h.raw("<p class=\"impact-warning\">").text(m).raw("</p>");
    }
    let jobs: u32 = workers
        .iter()
        .filter(|w| p.ids.contains(&w.id))
        .map(|w| w.jobs)
        .sum();
    h.raw("<ul class=\"impact\"><li>Workers affected: <strong>")
        .raw(&p.ids.len().to_string())
        .raw("</strong> — ")
        .text(&p.ids.join(", "))
        .raw("</li><li>Jobs they are running: <strong>")
        .raw(&jobs.to_string())
        .raw("</strong></li>");
    match p.action.as_str() {
        "drain" => {
            h.raw("<li>They finish their jobs, then exit. Idle: <strong data-eta>")
                .text(&drain_eta(&p.ids, workers, blocking, now_ms))
                .raw("</strong></li>");
        }
        "pause" => {
            h.raw("<li>They stop claiming new jobs and keep running their current ones; resume them later.</li>");
        }
        "resume" => {
            h.raw("<li>They claim jobs again.</li>");
        }
        _ => {
            h.raw("<li>At most <strong>")
                .raw(&p.max_unavailable.to_string())
                .raw("</strong> drained or restarting at a time; each must come back with a new boot id.</li>");
        }
    }
    h.raw("</ul>");
    if let Some(i) = &p.impact {
        h.raw("<ul class=\"impact\"><li>Available workers: <strong>")
            .text(&format!("{} → {}", i.available_before, i.available_after))
            .raw("</strong> (minimum ")
            .raw(&i.minimum.to_string())
            .raw(")</li><li>Running jobs affected: <strong>")
            .raw(&i.running_jobs.to_string())
            .raw("</strong></li></ul>");
    }
    h.finish()
}

/// A rolling restart's progress.
pub fn rollout_html(r: &Rollout) -> String {
    let mut h = Html::new();
    let done = r.workers.iter().filter(|w| w.state == "done").count();
    h.raw("<h3 id=\"rollout-h\">Rolling restart <span class=\"state\" data-state=\"")
        .text(&r.status)
        .raw("\" id=\"rollout-status\">")
        .text(&r.status)
        .raw("</span></h3><p>")
        .text(&format!(
            "{done} of {} restarted · at most {} unavailable · reason: {}",
            r.workers.len(),
            r.max_unavailable,
            r.reason
        ))
        .raw("</p>");
    if let Some(m) = &r.message {
        h.raw("<p class=\"muted\">").text(m).raw("</p>");
    }
    h.raw("<ol class=\"steps\" aria-label=\"Workers of the rolling restart\">");
    for w in &r.workers {
        h.raw("<li data-worker-id=\"")
            .text(&w.id)
            .raw("\"><code>")
            .text(&w.id)
            .raw("</code> <span class=\"state\" data-state=\"")
            .text(&w.state)
            .raw("\">")
            .text(&w.state)
            .raw("</span>");
        if let Some(m) = &w.message {
            h.raw(" <span class=\"muted\">").text(m).raw("</span>");
        }
        h.raw("</li>");
    }
    h.raw("</ol>");
    h.finish()
}

const REASON_ID: &str = "fleet-reason";
const NOTICE_ID: &str = "fleet-notice";
const CONFIRM_ID: &str = "fleet-confirm";
const CANCEL_ID: &str = "fleet-cancel";
const CONTINUE_ID: &str = "fleet-continue";

/// Sends the confirmed action; a safety refusal keeps the dialog open and
/// asks for the phrase.
fn send(dash: Dashboard, ui: RwSignal<Ui>, p: Pending) {
    let confirm = p.phrase.clone();
    ui.update(|u| u.busy = true);
    spawn_local(async move {
        let ids = p.ids.join("\n");
        let answer = fleet_action(
            p.action.clone(),
            ids,
            p.reason.clone(),
            p.max_unavailable,
            confirm,
        )
        .await;
        let mut next = NOTICE_ID;
        ui.update(|u| {
            u.busy = false;
            u.dialog = None;
            match answer {
                Ok(r) => match (r.applied, r.rejected) {
                    (Some(done), _) => {
                        u.notice = Some(("done", done));
                        if let Some(i) = dom::input(REASON_ID) {
                            i.set_value("");
                        }
                    }
                    (_, Some(e)) if e.confirm_phrase.is_some() => {
                        u.typed.clear();
                        u.dialog = Some(Pending {
                            phrase: e.confirm_phrase,
                            impact: e.impact,
                            message: Some(e.message),
                            ..p
                        });
                        next = CONFIRM_ID;
                    }
                    (_, Some(e)) if e.field.as_deref() == Some("reason") => {
                        u.reason_error = Some(e.message);
                        next = REASON_ID;
                    }
                    (_, Some(e)) => u.notice = Some(("error", e.message)),
                    _ => u.notice = Some(("error", "The server gave an empty answer.".into())),
                },
                Err(e) => {
                    u.notice = Some((
                        "error",
                        format!("Could not reach the server; the action may not have been applied. ({e})"),
                    ));
                    crate::auth::check(dash);
                }
            }
        });
        request_animation_frame(move || dom::focus(next));
        crate::live::load_fleet(dash);
        // Applied or refused, the action is in the audit history now (it
        // does not change the pause version the history follows).
        crate::audit::load_events(dash, None);
    });
}

/// The tab's markup; [`bind`] brings it to life.
pub const HTML: &str = concat!(
    r#"<section class="card workers" id="workers" aria-labelledby="workers-h">"#,
    r#"<h2 id="workers-h">Workers</h2>"#,
    r#"<div class="fleet-tools"><div class="field"><label for="fleet-filter">Observed state</label>"#,
    r#"<select id="fleet-filter"><option value="">All</option><option value="running">running</option>"#,
    r#"<option value="paused">paused</option><option value="draining">draining</option>"#,
    r#"<option value="stopped">stopped</option><option value="offline">offline</option></select></div>"#,
    r#"<p class="muted" role="status" id="fleet-count">0 selected</p></div>"#,
    r#"<div class="table-wrap" id="fleet-table"></div>"#,
    r#"<form id="fleet-form" class="fleet-actions" aria-labelledby="fleet-actions-h" hidden>"#,
    r#"<h3 id="fleet-actions-h">Act on the selected workers</h3>"#,
    r#"<div class="field"><label for="fleet-reason">Reason <span class="req">(required)</span></label>"#,
    r#"<input type="text" id="fleet-reason" name="reason" required maxlength="500" autocomplete="off" placeholder="e.g. Kernel upgrade on host-3">"#,
    r#"<p class="field-error" id="fleet-reason-error"></p></div>"#,
    r#"<div class="actions">"#,
    r#"<button type="submit" class="btn" id="fleet-pause" data-intent="pause" disabled>Pause</button>"#,
    r#"<button type="submit" class="btn" id="fleet-resume" data-intent="resume" disabled>Resume</button>"#,
    r#"<button type="submit" class="btn btn-primary" id="fleet-drain" data-intent="drain" disabled>Drain</button></div>"#,
    r#"<div class="actions restart"><div class="field"><label for="fleet-max">Max unavailable</label>"#,
    r#"<input type="number" id="fleet-max" min="1" value="1" required></div>"#,
    r#"<button type="submit" class="btn" id="fleet-restart" data-intent="restart" disabled>Rolling restart</button></div>"#,
    r#"</form>"#,
    r#"<div class="notice" role="status" tabindex="-1" id="fleet-notice"></div>"#,
    r#"<section class="rollout" id="rollout" aria-labelledby="rollout-h" hidden><div id="rollout-body"></div>"#,
    r#"<button type="button" class="btn btn-danger" id="rollout-cancel" data-action="rollout-cancel" hidden>Cancel rolling restart</button></section>"#,
    r#"<div class="overlay" id="fleet-overlay" hidden data-action="fleet-backdrop">"#,
    r#"<div class="dialog" role="dialog" aria-modal="true" id="fleet-dialog" aria-labelledby="fleet-dialog-title" aria-describedby="fleet-dialog-desc" data-action="none">"#,
    r#"<h2 id="fleet-dialog-title"></h2><div id="fleet-dialog-desc"></div>"#,
    r#"<div class="field" id="fleet-confirm-field" hidden><label for="fleet-confirm">Type <strong class="phrase" id="fleet-phrase"></strong> to confirm</label>"#,
    r#"<input type="text" id="fleet-confirm" autocomplete="off"></div>"#,
    r#"<div class="dialog-actions"><button type="button" class="btn" id="fleet-cancel" data-action="fleet-cancel">Cancel</button>"#,
    r#"<button type="button" class="btn btn-danger" id="fleet-continue" data-action="fleet-continue">Continue</button></div>"#,
    r#"</div></div></section>"#,
);

/// Brings [`HTML`] to life (it must be in the page).
pub fn bind(dash: Dashboard) {
    let fleet = dash.fleet;
    let now = dash.now_ms;
    let view = RwSignal::new(TableView::default());
    let ui = RwSignal::new(Ui::default());

    // The table is set by hand so that focus (a checkbox, a sort button)
    // survives a refresh; only a different HTML touches the page.
    let table = Memo::new(move |_| {
        let write = dash.can_write();
        let now = now.get();
        fleet.with(|f| {
            view.with(|v| table_html(f.as_ref().map(|f| f.workers.as_slice()), v, now, write))
        })
    });
    Effect::new(move |_| {
        let html = table.get();
        if let Some(el) = dom::by_id("fleet-table") {
            let active = Some(dom::focused_id()).filter(|id| id.starts_with('w'));
            el.set_inner_html(&html);
            if let Some(id) = active {
                dom::focus(&id);
            }
        }
    });
    let rollout = move || {
        fleet.with(|f| {
            f.as_ref()
                .and_then(|f| f.rollout.as_ref())
                .map(rollout_html)
        })
    };
    let running = move || {
        fleet.with(|f| {
            f.as_ref()
                .and_then(|f| f.rollout.as_ref())
                .is_some_and(|r| r.status == "running")
        })
    };
    let count = move || {
        fleet.with(|f| {
            view.with(|v| selected_ids(f.as_ref().map_or(&[][..], |f| &f.workers), v).len())
        })
    };
    let busy = move || ui.with(|u| u.busy);
    let write = move || dash.can_write();

    let close = move || {
        let action = ui.with_untracked(|u| u.dialog.as_ref().map(|p| p.action.clone()));
        ui.update(|u| u.dialog = None);
        if let Some(a) = action {
            dom::focus(&format!("fleet-{a}"));
        }
    };

    dom::on("workers", "submit", move |ev| {
        ev.prevent_default();
        let action = ev
            .dyn_ref::<SubmitEvent>()
            .and_then(|e| e.submitter())
            .and_then(|b| b.get_attribute("data-intent"))
            .unwrap_or_default();
        let ids = fleet.with_untracked(|f| {
            view.with_untracked(|v| selected_ids(f.as_ref().map_or(&[][..], |f| &f.workers), v))
        });
        if ids.is_empty() || action.is_empty() {
            return;
        }
        let max = dom::input("fleet-max")
            .and_then(|i| i.value().parse().ok())
            .unwrap_or(1);
        let reason = dom::input(REASON_ID).map(|i| i.value()).unwrap_or_default();
        ui.update(|u| {
            u.notice = None;
            u.reason_error = None;
            u.typed.clear();
            u.dialog = Some(Pending {
                action,
                ids,
                reason,
                max_unavailable: max,
                phrase: None,
                impact: None,
                message: None,
            });
        });
        crate::live::load_drain(dash);
        request_animation_frame(|| dom::focus(CANCEL_ID));
    });

    dom::on("workers", "change", move |ev| {
        let Some(el) = dom::target(&ev) else { return };
        if el.id() == "fleet-filter" {
            let filter = el
                .dyn_ref::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            view.update(|v| v.filter = filter);
            return;
        }
        let Some(id) = el.get_attribute("data-select") else {
            return;
        };
        let on = el
            .dyn_ref::<HtmlInputElement>()
            .is_some_and(|i| i.checked());
        let shown: Vec<String> = if id == "*" {
            fleet.with_untracked(|f| {
                view.with_untracked(|v| {
                    rows(f.as_ref().map_or(&[][..], |f| &f.workers), v)
                        .iter()
                        .map(|w| w.id.clone())
                        .collect()
                })
            })
        } else {
            vec![id]
        };
        view.update(|v| {
            v.selected.retain(|s| !shown.contains(s));
            if on {
                v.selected.extend(shown);
            }
        });
    });

    dom::on("workers", "input", move |ev| {
        let Some(el) = dom::target(&ev) else { return };
        match el.id().as_str() {
            CONFIRM_ID => {
                let typed = el
                    .dyn_ref::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default();
                ui.update(|u| u.typed = typed);
            }
            REASON_ID if ui.with_untracked(|u| u.reason_error.is_some()) => {
                ui.update(|u| u.reason_error = None)
            }
            _ => {}
        }
    });

    dom::on("workers", "click", move |ev| {
        if let Some((_, col)) = dom::closest(&ev, "data-sort") {
            if let Ok(col) = col.parse() {
                view.update(|v| {
                    v.desc = v.sort == col && !v.desc;
                    v.sort = col;
                });
            }
            return;
        }
        match dom::closest(&ev, "data-action").map(|(_, a)| a).as_deref() {
            Some("fleet-cancel") => close(),
            Some("fleet-continue") => {
                let p = ui.with_untracked(|u| {
                    u.dialog
                        .clone()
                        .filter(|p| p.phrase.as_ref().is_none_or(|ph| *ph == u.typed))
                });
                if let Some(p) = p {
                    send(dash, ui, p);
                }
            }
            Some("fleet-backdrop") => dom::focus(CANCEL_ID),
            Some("rollout-cancel") => {
                let Some(id) = fleet.with_untracked(|f| {
                    f.as_ref()
                        .and_then(|f| f.rollout.as_ref())
                        .map(|r| r.id.clone())
                }) else {
                    return;
                };
                ui.update(|u| u.busy = true);
                spawn_local(async move {
                    let answer =
                        fleet_action("cancel-restart".into(), id, String::new(), 0, None).await;
                    ui.update(|u| {
                        u.busy = false;
                        u.notice = Some(match answer {
                            Ok(r) => match (r.applied, r.rejected) {
                                (Some(d), _) => ("done", d),
                                (_, Some(e)) => ("error", e.message),
                                _ => ("error", "The server gave an empty answer.".into()),
                            },
                            Err(e) => ("error", format!("Could not reach the server. ({e})")),
                        });
                    });
                    crate::live::load_fleet(dash);
                    crate::audit::load_events(dash, None);
                });
            }
            _ => {}
        }
    });

    // The dialog keeps focus: Tab and Shift+Tab cycle through its controls;
    // Escape cancels.
    dom::on("workers", "keydown", move |ev| {
        let Some(ev) = ev.dyn_ref::<KeyboardEvent>() else {
            return;
        };
        let Some((typing, ok)) = ui.with_untracked(|u| {
            u.dialog.as_ref().map(|p| {
                (
                    p.phrase.is_some(),
                    p.phrase.as_ref().is_none_or(|ph| *ph == u.typed),
                )
            })
        }) else {
            return;
        };
        match ev.key().as_str() {
            "Escape" => {
                ev.prevent_default();
                close();
            }
            "Tab" => {
                let mut order = Vec::with_capacity(3);
                if typing {
                    order.push(CONFIRM_ID);
                }
                order.push(CANCEL_ID);
                if ok {
                    order.push(CONTINUE_ID);
                }
                ev.prevent_default();
                dom::cycle_focus(&order, ev.shift_key());
            }
            _ => {}
        }
    });

    let reason_error = move || ui.with(|u| u.reason_error.clone());
    let none = move || count() == 0 || busy();
    dom::text("fleet-count", move || format!("{} selected", count()));
    dom::flag("fleet-form", "hidden", move || !write());
    dom::attr("fleet-reason", "aria-invalid", move || {
        reason_error().map(|_| "true".into())
    });
    dom::attr("fleet-reason", "aria-describedby", move || {
        reason_error().map(|_| "fleet-reason-error".into())
    });
    dom::text("fleet-reason-error", move || {
        reason_error().unwrap_or_default()
    });
    for id in [
        "fleet-pause",
        "fleet-resume",
        "fleet-drain",
        "fleet-restart",
    ] {
        dom::flag(id, "disabled", none);
    }
    dom::attr(NOTICE_ID, "data-kind", move || {
        ui.with(|u| u.notice.as_ref().map(|n| n.0.to_string()))
    });
    dom::text(NOTICE_ID, move || {
        ui.with(|u| u.notice.as_ref().map(|n| n.1.clone()).unwrap_or_default())
    });
    dom::flag("rollout", "hidden", move || rollout().is_none());
    dom::html("rollout-body", move || rollout().unwrap_or_default());
    dom::flag("rollout-cancel", "hidden", move || !(running() && write()));
    dom::flag("rollout-cancel", "disabled", busy);

    // The confirmation dialog.
    let dialog = move || ui.with(|u| u.dialog.clone());
    dom::flag("fleet-overlay", "hidden", move || {
        ui.with(|u| u.dialog.is_none())
    });
    dom::text("fleet-dialog-title", move || {
        ui.with(|u| u.dialog.as_ref().map(dialog_title).unwrap_or_default())
    });
    dom::html("fleet-dialog-desc", move || {
        let Some(p) = dialog() else {
            return String::new();
        };
        fleet.with(|f| {
            dash.drain.with(|d| {
                impact_html(
                    &p,
                    f.as_ref().map_or(&[][..], |f| &f.workers),
                    d.as_ref().map_or(&[][..], |d| &d.blocking),
                    now.get_untracked(),
                )
            })
        })
    });
    let phrase = move || ui.with(|u| u.dialog.as_ref().and_then(|p| p.phrase.clone()));
    dom::flag("fleet-confirm-field", "hidden", move || phrase().is_none());
    dom::text("fleet-phrase", move || phrase().unwrap_or_default());
    dom::value(CONFIRM_ID, move || ui.with(|u| u.typed.clone()));
    dom::flag(CONTINUE_ID, "disabled", move || {
        busy()
            || ui.with(|u| {
                u.dialog
                    .as_ref()
                    .is_some_and(|p| p.phrase.as_ref().is_some_and(|ph| *ph != u.typed))
            })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn w(id: &str, observed: &str, heartbeat_ms: i64, jobs: u32) -> Worker {
        Worker {
            id: id.into(),
            name: id.into(),
            hostname: format!("h-{id}"),
            version: "1".into(),
            desired: "active".into(),
            observed: observed.into(),
            heartbeat_ms,
            jobs,
        }
    }

    fn ids(rows: &[&Worker]) -> Vec<String> {
        rows.iter().map(|w| w.id.clone()).collect()
    }

    #[test]
    fn the_filter_offers_every_observed_state() {
        for s in STATES {
            assert!(
                HTML.contains(&format!("<option value=\"{s}\">{s}</option>")),
                "{s}"
            );
        }
    }

    #[test]
    fn rows_are_filtered_then_sorted_either_way() {
        let fleet = [
            w("b", "running", 2, 0),
            w("a", "offline", 1, 3),
            w("c", "running", 3, 1),
        ];
        let mut v = TableView::default();
        assert_eq!(ids(&rows(&fleet, &v)), ["a", "b", "c"]);
        v.sort = 6;
        v.desc = true;
        assert_eq!(ids(&rows(&fleet, &v)), ["a", "c", "b"]);
        v.filter = "running".into();
        assert_eq!(ids(&rows(&fleet, &v)), ["c", "b"]);
        v.selected = vec!["gone".into(), "c".into()];
        assert_eq!(selected_ids(&fleet, &v), ["c"]);
    }

    #[test]
    fn the_table_marks_sort_selection_and_escapes() {
        let fleet = [w("<x>", "running", 0, 2)];
        let v = TableView {
            selected: vec!["<x>".into()],
            ..Default::default()
        };
        let html = table_html(Some(&fleet), &v, 60_000, true);
        assert!(html.contains("aria-sort=\"ascending\""));
        assert!(html.contains(
            "id=\"wsel-all\" data-select=\"*\" aria-label=\"Select all shown workers\" checked"
        ));
        assert!(html.contains("data-select=\"&lt;x&gt;\""));
        assert!(html.contains("<td>1 min ago</td>"));
        assert!(!table_html(Some(&fleet), &v, 0, false).contains("checkbox"));
        assert!(table_html(Some(&[]), &v, 0, true).contains("No worker has registered yet."));
    }

    #[test]
    fn the_drain_eta_comes_from_the_expected_end_of_their_jobs() {
        let fleet = [w("a", "running", 0, 1), w("b", "running", 0, 0)];
        let job = |worker: &str, end: Option<i64>| BlockingJob {
            id: Default::default(),
            job_type: "t".into(),
            worker_id: Some(worker.into()),
            started_at: None,
            lease_expires_at: None,
            stale: false,
            paused_at_checkpoint: false,
            expected_end_at: end.map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        };
        let a = ["a".to_string()];
        let b = ["b".to_string()];
        assert_eq!(drain_eta(&b, &fleet, &[], 0), "now: they run no jobs");
        assert_eq!(drain_eta(&a, &fleet, &[], 0), "unknown");
        assert_eq!(drain_eta(&a, &fleet, &[job("a", None)], 0), "unknown");
        assert_eq!(
            drain_eta(&a, &fleet, &[job("a", Some(120)), job("b", None)], 0),
            "about 2 min (by 00:02:00)"
        );
    }

    #[test]
    fn the_dialog_names_the_workers_jobs_and_safety_impact() {
        let fleet = [w("a", "running", 0, 2)];
        let mut p = Pending {
            action: "drain".into(),
            ids: vec!["a".into()],
            reason: "r".into(),
            max_unavailable: 1,
            phrase: None,
            impact: None,
            message: None,
        };
        assert_eq!(dialog_title(&p), "Drain 1 worker?");
        let html = impact_html(&p, &fleet, &[], 0);
        assert!(html.contains("Workers affected: <strong>1</strong> — a"));
        assert!(html.contains("Jobs they are running: <strong>2</strong>"));
        p.phrase = Some("drain 1 worker".into());
        p.impact = Some(ActionImpact {
            available_before: 1,
            available_after: 0,
            minimum: 1,
            affected_workers: vec!["a".into()],
            running_jobs: 2,
        });
        assert!(impact_html(&p, &fleet, &[], 0)
            .contains("Available workers: <strong>1 → 0</strong> (minimum 1)"));
        assert!(dialog_title(&p).starts_with("Confirm"));
    }
}
