//! The workers table: the fleet as last read, and how the operator looks
//! at it — sort, filter, the cursor and the multi-selection. Both the
//! cursor and the selection are worker ids, so a refresh that reorders or
//! adds workers never moves them to another worker.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use wire::{ObservedState, WorkerInfo};

/// What the table is sorted by (`s` cycles, `S` reverses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Id,
    Name,
    Observed,
    Desired,
    /// Oldest heartbeat first.
    Heartbeat,
    /// Most active jobs first.
    Jobs,
}

impl SortKey {
    const ORDER: [SortKey; 6] = [
        SortKey::Id,
        SortKey::Name,
        SortKey::Observed,
        SortKey::Desired,
        SortKey::Heartbeat,
        SortKey::Jobs,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::Observed => "observed",
            SortKey::Desired => "desired",
            SortKey::Heartbeat => "heartbeat",
            SortKey::Jobs => "jobs",
        }
    }

    fn next(self) -> SortKey {
        let i = Self::ORDER.iter().position(|k| *k == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }
}

/// The fleet and the table's view of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    pub workers: Vec<WorkerInfo>,
    /// A heartbeat older than this marks a worker stale (from the server's
    /// `GET /api/workers/health`); 0 until the first read.
    pub stale_after_seconds: u64,
    /// Whether the first read has arrived (an empty fleet vs not loaded).
    pub loaded: bool,
    pub sort: SortKey,
    pub descending: bool,
    /// Case-insensitive; matches id, name, hostname and both states.
    pub filter: String,
    /// `/` is typing into the filter.
    pub filtering: bool,
    /// The worker under the cursor.
    pub cursor: Option<String>,
    pub selected: BTreeSet<String>,
}

impl Fleet {
    /// A new read of the fleet. The selection keeps only workers that
    /// still exist.
    pub fn replace(&mut self, workers: Vec<WorkerInfo>, stale_after_seconds: u64) {
        self.selected
            .retain(|id| workers.iter().any(|w| &w.id == id));
        self.workers = workers;
        self.stale_after_seconds = stale_after_seconds;
        self.loaded = true;
    }

    /// The rows on screen, filtered and sorted.
    pub fn shown(&self) -> Vec<&WorkerInfo> {
        let needle = self.filter.trim().to_lowercase();
        let mut rows: Vec<&WorkerInfo> = self
            .workers
            .iter()
            .filter(|w| needle.is_empty() || matches(w, &needle))
            .collect();
        rows.sort_by(|a, b| {
            let o = match self.sort {
                SortKey::Id => a.id.cmp(&b.id),
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Observed => a.observed_state.as_str().cmp(b.observed_state.as_str()),
                SortKey::Desired => a.desired_state.as_str().cmp(b.desired_state.as_str()),
                SortKey::Heartbeat => a.last_heartbeat_at.cmp(&b.last_heartbeat_at),
                SortKey::Jobs => b.active_jobs.len().cmp(&a.active_jobs.len()),
            };
            o.then_with(|| a.id.cmp(&b.id))
        });
        if self.descending {
            rows.reverse();
        }
        rows
    }

    /// The cursor's row index in [`Fleet::shown`] (the first row when the
    /// cursor's worker is not shown).
    pub fn cursor_index(&self, shown: &[&WorkerInfo]) -> Option<usize> {
        if shown.is_empty() {
            return None;
        }
        Some(
            self.cursor
                .as_ref()
                .and_then(|c| shown.iter().position(|w| &w.id == c))
                .unwrap_or(0),
        )
    }

    /// Moves the cursor `by` rows (clamped to the table).
    pub fn move_cursor(&mut self, by: isize) {
        let shown = self.shown();
        let Some(i) = self.cursor_index(&shown) else {
            return;
        };
        let j = (i as isize + by).clamp(0, shown.len() as isize - 1) as usize;
        self.cursor = Some(shown[j].id.clone());
    }

    /// The worker under the cursor.
    pub fn current(&self) -> Option<String> {
        let shown = self.shown();
        self.cursor_index(&shown).map(|i| shown[i].id.clone())
    }

    /// `space`: selects or unselects the worker under the cursor.
    pub fn toggle_current(&mut self) {
        if let Some(id) = self.current() {
            if !self.selected.remove(&id) {
                self.selected.insert(id);
            }
        }
    }

    /// `a`: selects every shown worker, or unselects them when all were.
    pub fn toggle_all_shown(&mut self) {
        let ids: Vec<String> = self.shown().iter().map(|w| w.id.clone()).collect();
        if ids.iter().all(|id| self.selected.contains(id)) {
            for id in &ids {
                self.selected.remove(id);
            }
        } else {
            self.selected.extend(ids);
        }
    }

    /// What an action applies to: the selection, or else the worker under
    /// the cursor. Sorted by id; empty when the table is.
    pub fn targets(&self) -> Vec<String> {
        if self.selected.is_empty() {
            self.current().into_iter().collect()
        } else {
            self.selected.iter().cloned().collect()
        }
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.descending = false;
    }

    pub fn reverse_sort(&mut self) {
        self.descending = !self.descending;
    }

    /// Seconds since the worker's last heartbeat.
    pub fn age(w: &WorkerInfo, now: DateTime<Utc>) -> i64 {
        (now - w.last_heartbeat_at).num_seconds().max(0)
    }

    /// Offline, or silent for longer than the server's stale threshold.
    pub fn is_stale(&self, w: &WorkerInfo, now: DateTime<Utc>) -> bool {
        w.observed_state == ObservedState::Offline
            || (self.stale_after_seconds > 0 && Self::age(w, now) as u64 > self.stale_after_seconds)
    }

    /// The targeted workers that are known, and their running jobs.
    pub fn jobs_of(&self, ids: &[String]) -> usize {
        self.workers
            .iter()
            .filter(|w| ids.contains(&w.id))
            .map(|w| w.active_jobs.len())
            .sum()
    }
}

fn matches(w: &WorkerInfo, needle: &str) -> bool {
    [
        w.id.as_str(),
        w.name.as_str(),
        w.hostname.as_str(),
        w.observed_state.as_str(),
        w.desired_state.as_str(),
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{t, worker};
    use super::*;
    use wire::DesiredState;

    fn fleet() -> Fleet {
        let mut f = Fleet::default();
        let mut b = worker("b", 5);
        b.name = "0-alpha".into();
        b.active_jobs = vec![uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
        let mut c = worker("c", 1);
        c.desired_state = DesiredState::Draining;
        c.observed_state = ObservedState::Draining;
        f.replace(vec![c, worker("a", 30), b], 15);
        f
    }

    fn ids(f: &Fleet) -> Vec<String> {
        f.shown().iter().map(|w| w.id.clone()).collect()
    }

    #[test]
    fn sort_cycles_through_the_columns_and_reverses() {
        let mut f = fleet();
        assert_eq!(ids(&f), ["a", "b", "c"]);
        f.cycle_sort(); // name: a's and c's name is their id
        assert_eq!(f.sort, SortKey::Name);
        assert_eq!(ids(&f), ["b", "a", "c"]);
        f.reverse_sort();
        assert_eq!(ids(&f), ["c", "a", "b"]);
        f.sort = SortKey::Heartbeat;
        f.descending = false;
        assert_eq!(ids(&f), ["c", "b", "a"], "oldest heartbeat first");
        f.sort = SortKey::Jobs;
        assert_eq!(ids(&f)[0], "b", "busiest first");
        for _ in 0..6 {
            f.cycle_sort();
        }
        assert_eq!(f.sort, SortKey::Jobs, "six keys, back to where it was");
    }

    #[test]
    fn the_filter_matches_ids_names_and_states_ignoring_case() {
        let mut f = fleet();
        f.filter = "ALPHA".into();
        assert_eq!(ids(&f), ["b"]);
        f.filter = "drain".into();
        assert_eq!(ids(&f), ["c"]);
        f.filter = "nothing".into();
        assert!(ids(&f).is_empty());
        assert_eq!(f.targets(), Vec::<String>::new());
    }

    #[test]
    fn the_cursor_stays_on_its_worker_when_the_order_changes() {
        let mut f = fleet();
        f.move_cursor(1);
        assert_eq!(f.current().as_deref(), Some("b"));
        f.reverse_sort();
        assert_eq!(f.current().as_deref(), Some("b"));
        f.move_cursor(10);
        assert_eq!(f.current().as_deref(), Some("a"), "clamped at the end");
        f.move_cursor(-10);
        assert_eq!(f.current().as_deref(), Some("c"));
    }

    #[test]
    fn selection_space_toggles_a_selects_all_shown_and_targets_fall_back_to_the_cursor() {
        let mut f = fleet();
        assert_eq!(f.targets(), ["a"], "nothing selected: the cursor");
        f.toggle_current();
        f.move_cursor(2);
        f.toggle_current();
        assert_eq!(f.targets(), ["a", "c"]);
        f.toggle_current();
        assert_eq!(f.targets(), ["a"]);
        f.filter = "b".into();
        f.toggle_all_shown();
        assert_eq!(f.targets(), ["a", "b"], "a selects only what is shown");
        f.filter.clear();
        f.toggle_all_shown();
        assert_eq!(f.targets(), ["a", "b", "c"]);
        f.toggle_all_shown();
        assert!(f.selected.is_empty(), "all were selected: a unselects");
    }

    #[test]
    fn a_refresh_drops_gone_workers_from_the_selection_and_marks_stale_ones() {
        let mut f = fleet();
        f.selected.extend(["a".to_string(), "c".to_string()]);
        f.replace(vec![worker("a", 30), worker("b", 39)], 15);
        assert_eq!(f.targets(), ["a"]);
        assert!(
            f.is_stale(&f.workers[0], t(50)),
            "20 s silent, threshold 15"
        );
        assert!(!f.is_stale(&f.workers[1], t(50)));
        assert_eq!(Fleet::age(&f.workers[0], t(50)), 20);
    }
}
