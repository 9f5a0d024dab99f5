//! `/workers`: the fleet table (sortable, filterable by observed state,
//! multi-select), the action bar (pause, resume, drain, rolling restart)
//! with its confirmation that states the impact (and asks for the typed
//! phrase when the server's safety check demands it), and the live progress
//! of a rolling restart. All of it reads the `wire` types.
//!
//! The fleet is polled while the page is open: every 3 s, every second
//! while a rolling restart runs.

mod actions;
mod impact;
mod rollout;
mod table;

use leptos::html;
use leptos::prelude::*;
use wire::{ObservedState, RollingRestart, RolloutStatus, WorkerInfo, WorkerList};

use crate::state::Dashboard;
use crate::widgets::Notice;

/// The table's columns after the checkbox.
pub const COLUMNS: [&str; 7] = [
    "Worker",
    "Hostname",
    "Version",
    "Desired",
    "Observed",
    "Last heartbeat",
    "Active jobs",
];

/// How the table is shown: sort column and direction, and the filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableView {
    pub sort: usize,
    pub desc: bool,
    /// An observed state, or all.
    pub filter: Option<ObservedState>,
}

/// The rows shown: filtered, then sorted (ties by id, so the order is
/// stable across refreshes).
pub fn rows<'a>(workers: &'a [WorkerInfo], v: &TableView) -> Vec<&'a WorkerInfo> {
    let mut rows: Vec<&WorkerInfo> = workers
        .iter()
        .filter(|w| v.filter.is_none_or(|f| w.observed_state == f))
        .collect();
    rows.sort_by(|a, b| {
        let o = match v.sort {
            0 => a.name.cmp(&b.name),
            1 => a.hostname.cmp(&b.hostname),
            2 => a.version.cmp(&b.version),
            3 => a.desired_state.as_str().cmp(b.desired_state.as_str()),
            4 => a.observed_state.as_str().cmp(b.observed_state.as_str()),
            5 => a.last_heartbeat_at.cmp(&b.last_heartbeat_at),
            _ => a.active_jobs.len().cmp(&b.active_jobs.len()),
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
pub fn selected_ids(workers: &[WorkerInfo], selected: &[String]) -> Vec<String> {
    workers
        .iter()
        .filter(|w| selected.contains(&w.id))
        .map(|w| w.id.clone())
        .collect()
}

/// The page's data and view state, shared by its parts.
#[derive(Clone, Copy)]
pub struct Fleet {
    /// The fleet as last loaded (kept while a refresh is in flight).
    pub list: Memo<Option<WorkerList>>,
    /// The newest rolling restart.
    pub rollout: Memo<Option<RollingRestart>>,
    pub view: RwSignal<TableView>,
    pub selected: RwSignal<Vec<String>>,
    /// What the last action came to; takes focus after each.
    pub notice: RwSignal<Option<Notice>>,
    pub notice_box: NodeRef<html::Div>,
    /// Bumped to load the fleet again.
    tick: RwSignal<u64>,
}

impl Fleet {
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.list
            .with(|l| l.as_ref().map(|l| l.workers.clone()).unwrap_or_default())
    }

    /// Loads the fleet again now (after an action).
    pub fn refresh(&self) {
        self.tick.update(|t| *t += 1);
    }
}

#[component]
pub fn WorkersPage() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let tick = RwSignal::new(0u64);
    let workers = LocalResource::new(move || {
        tick.track();
        crate::api::get_workers()
    });
    let rollouts = LocalResource::new(move || {
        tick.track();
        crate::api::get_rolling_restarts()
    });
    let list = crate::auth::last_good(workers);
    let all_rollouts = crate::auth::last_good(rollouts);
    let rollout =
        Memo::new(move |_| all_rollouts.with(|r| r.as_ref().and_then(|r| r.first().cloned())));
    let fleet = Fleet {
        list,
        rollout,
        view: RwSignal::new(TableView::default()),
        selected: RwSignal::new(Vec::new()),
        notice: RwSignal::new(None),
        notice_box: NodeRef::new(),
        tick,
    };
    provide_context(fleet);
    let running = move || {
        rollout.with_untracked(|r| {
            r.as_ref()
                .is_some_and(|r| r.status == RolloutStatus::Running)
        })
    };
    crate::live::poll_while_mounted(
        move || if running() { 1_000 } else { 3_000 },
        move || fleet.refresh(),
    );

    view! {
        <div class="page">
            <section class="card workers" aria-labelledby="workers-h">
                <h2 id="workers-h">"Workers"</h2>
                <table::Tools />
                <table::FleetTable />
                <Show when=move || dash.can_write()>
                    <actions::ActionBar />
                </Show>
                <actions::FleetNotice />
                <rollout::RolloutPanel />
            </section>
        </div>
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::DateTime;
    use wire::DesiredState;

    pub fn w(id: &str, observed: ObservedState, heartbeat_s: i64, jobs: usize) -> WorkerInfo {
        WorkerInfo {
            id: id.into(),
            name: id.into(),
            hostname: format!("h-{id}"),
            version: "1".into(),
            labels: Default::default(),
            boot_id: "b".into(),
            started_at: DateTime::from_timestamp(0, 0).unwrap(),
            last_heartbeat_at: DateTime::from_timestamp(heartbeat_s, 0).unwrap(),
            active_jobs: vec![Default::default(); jobs],
            desired_state: DesiredState::Active,
            observed_state: observed,
            offline_backlog: 0,
            reported_active_jobs: None,
            warning: None,
            applied_version: None,
            applied_at: None,
        }
    }

    fn ids(rows: &[&WorkerInfo]) -> Vec<String> {
        rows.iter().map(|w| w.id.clone()).collect()
    }

    #[test]
    fn rows_are_filtered_then_sorted_either_way() {
        use ObservedState::*;
        let fleet = [
            w("b", Running, 2, 0),
            w("a", Offline, 1, 3),
            w("c", Running, 3, 1),
        ];
        let mut v = TableView::default();
        assert_eq!(ids(&rows(&fleet, &v)), ["a", "b", "c"]);
        v.sort = 6;
        v.desc = true;
        assert_eq!(ids(&rows(&fleet, &v)), ["a", "c", "b"]);
        v.filter = Some(Running);
        assert_eq!(ids(&rows(&fleet, &v)), ["c", "b"]);
        v.sort = 5;
        v.desc = false;
        assert_eq!(ids(&rows(&fleet, &v)), ["b", "c"]);
        assert_eq!(selected_ids(&fleet, &["gone".into(), "c".into()]), ["c"]);
    }
}
