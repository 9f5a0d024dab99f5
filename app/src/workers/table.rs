//! The fleet table: one row per worker, keyed by id, so a refresh updates
//! the cells in place and the focused checkbox or header button keeps its
//! focus; sorting moves rows without rebuilding them.

use leptos::prelude::*;
use wire::{ObservedState, WorkerInfo};

use super::{rows, selected_ids, Fleet, COLUMNS};
use crate::format;
use crate::state::Dashboard;

/// The observed-state filter and the selection count.
#[component]
pub fn Tools() -> impl IntoView {
    let fleet = expect_context::<Fleet>();
    let count = move || {
        fleet.list.with(|l| {
            let workers = l.as_ref().map_or(&[][..], |l| l.workers.as_slice());
            fleet.selected.with(|s| selected_ids(workers, s).len())
        })
    };
    view! {
        <div class="fleet-tools">
            <div class="field">
                <label for="fleet-filter">"Observed state"</label>
                <select
                    id="fleet-filter"
                    on:change=move |ev| {
                        let state = ObservedState::parse(&event_target_value(&ev));
                        fleet.view.update(|v| v.filter = state);
                    }
                >
                    <option value="">"All"</option>
                    {ObservedState::ALL
                        .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                        .collect_view()}
                </select>
            </div>
            <p class="muted" role="status" id="fleet-count">{move || format!("{} selected", count())}</p>
        </div>
    }
}

#[component]
pub fn FleetTable() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let fleet = expect_context::<Fleet>();
    let write = move || dash.can_write();
    // The ids shown, in order: the rows follow them.
    let shown = Memo::new(move |_| {
        fleet.list.with(|l| {
            let workers = l.as_ref().map_or(&[][..], |l| l.workers.as_slice());
            fleet.view.with(|v| {
                rows(workers, v)
                    .into_iter()
                    .map(|w| w.id.clone())
                    .collect::<Vec<_>>()
            })
        })
    });
    let total = move || fleet.list.with(|l| l.as_ref().map(|l| l.workers.len()));
    let all_selected = move || {
        shown.with(|ids| {
            !ids.is_empty() && fleet.selected.with(|s| ids.iter().all(|id| s.contains(id)))
        })
    };
    let select_all = move |on: bool| {
        let ids = shown.get_untracked();
        fleet.selected.update(|s| {
            s.retain(|id| !ids.contains(id));
            if on {
                s.extend(ids);
            }
        });
    };
    let header = move |i: usize, label: &'static str| {
        let sorted = move || fleet.view.with(|v| (v.sort == i).then_some(v.desc));
        view! {
            <th scope="col" aria-sort=move || sorted().map(|desc| if desc { "descending" } else { "ascending" })>
                <button
                    type="button"
                    class="sort"
                    on:click=move |_| fleet.view.update(|v| {
                        v.desc = v.sort == i && !v.desc;
                        v.sort = i;
                    })
                >
                    {label}
                    <span aria-hidden="true">
                        {move || match sorted() {
                            Some(true) => " ▼",
                            Some(false) => " ▲",
                            None => "",
                        }}
                    </span>
                </button>
            </th>
        }
    };
    let empty = move || {
        let text = match total() {
            Some(0) => "No worker has registered yet.",
            _ => "No worker is in this state.",
        };
        view! { <tr><td colspan=if write() { "8" } else { "7" } class="muted">{text}</td></tr> }
    };

    view! {
        <Show when=move || total().is_some() fallback=|| view! { <p class="muted">"Loading the fleet…"</p> }>
            <div class="table-wrap">
                <table class="fleet" id="fleet">
                    <caption>
                        {move || format!(
                            "{} shown of {}",
                            shown.with(Vec::len),
                            format::count(total().unwrap_or(0) as i64, "worker", "workers"),
                        )}
                    </caption>
                    <thead>
                        <tr>
                            <Show when=write>
                                <th scope="col">
                                    <input
                                        type="checkbox"
                                        aria-label="Select all shown workers"
                                        prop:checked=all_selected
                                        on:change=move |ev| select_all(event_target_checked(&ev))
                                    />
                                </th>
                            </Show>
                            {COLUMNS.iter().enumerate().map(|(i, label)| header(i, label)).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || shown.get() key=|id| id.clone() children=move |id| view! { <Row id /> } />
                        <Show when=move || shown.with(Vec::is_empty)>{empty}</Show>
                    </tbody>
                </table>
            </div>
        </Show>
    }
}

/// One worker's row; its cells follow the worker as it changes.
/// The Jobs cell: the running jobs leased to the worker, and what the
/// worker itself reports beside them only when the two disagree
/// ("1 · reports 0"); its warning is the cell's title.
pub fn jobs_cell(w: &WorkerInfo) -> String {
    match &w.reported_active_jobs {
        Some(reported) => format!("{} · reports {}", w.active_jobs.len(), reported.len()),
        None => w.active_jobs.len().to_string(),
    }
}

#[component]
fn Row(id: String) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let fleet = expect_context::<Fleet>();
    let worker = {
        let id = id.clone();
        Memo::new(move |_| {
            fleet.list.with(|l| {
                l.as_ref()
                    .and_then(|l| l.workers.iter().find(|w| w.id == id).cloned())
            })
        })
    };
    let field = move |f: fn(&WorkerInfo) -> String| {
        move || worker.with(|w| w.as_ref().map(f).unwrap_or_default())
    };
    let on = {
        let id = id.clone();
        move || fleet.selected.with(|s| s.contains(&id))
    };
    let toggle = {
        let id = id.clone();
        move |checked: bool| {
            fleet.selected.update(|s| {
                s.retain(|x| *x != id);
                if checked {
                    s.push(id.clone());
                }
            })
        }
    };
    let desired = field(|w| w.desired_state.as_str().to_string());
    let observed = field(|w| w.observed_state.as_str().to_string());
    let heartbeat = move || {
        let now = dash.now_ms.get();
        worker.with(|w| {
            w.as_ref()
                .map(|w| format::relative(w.last_heartbeat_at, now))
                .unwrap_or_default()
        })
    };
    let name = move || {
        worker.with(|w| {
            w.as_ref()
                .filter(|w| !w.name.is_empty() && w.name != w.id)
                .map(|w| w.name.clone())
        })
    };
    let label = format!("Select {id}");
    let (row_id, selected) = (id.clone(), on.clone());
    view! {
        <tr data-worker-id=row_id class:selected=selected>
            <Show when=move || dash.can_write()>
                <td>
                    <input
                        type="checkbox"
                        aria-label=label.clone()
                        prop:checked=on.clone()
                        on:change={
                            let toggle = toggle.clone();
                            move |ev| toggle(event_target_checked(&ev))
                        }
                    />
                </td>
            </Show>
            <th scope="row">
                {move || name().map(|n| view! { {n} <br /> })}
                <code>{id.clone()}</code>
            </th>
            <td>{field(|w| w.hostname.clone())}</td>
            <td>{field(|w| w.version.clone())}</td>
            <td data-col="desired"><span class="state" data-state=desired>{desired}</span></td>
            <td data-col="observed"><span class="state" data-state=observed>{observed}</span></td>
            <td>{heartbeat}</td>
            <td data-col="jobs" title=move || worker.with(|w| w.as_ref().and_then(|w| w.warning.clone()))>
                {field(jobs_cell)}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::tests::w;
    use wire::ObservedState;

    #[test]
    fn the_jobs_cell_shows_the_leases_and_a_disagreeing_report() {
        let mut worker = w("w1", ObservedState::Running, 0, 1);
        assert_eq!(jobs_cell(&worker), "1");
        worker.reported_active_jobs = Some(Vec::new());
        assert_eq!(jobs_cell(&worker), "1 · reports 0");
    }
}
