//! The state machine's flows, key by key, without a terminal or a
//! server: what each step shows and which calls it asks for —
//! [`dialogs`] (every confirmation, the typed phrase, force resume, the
//! rolling restart) and [`flows`] (stream vs polling, filter, screens,
//! quitting). The helpers below build a loaded state and drive it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dialogs;
mod flows;
mod queues;

use uuid::Uuid;
use wire::{
    DesiredState, RollingRestart, RolloutStatus, RolloutWorker, RolloutWorkerState,
    WorkerActionKind, WorkerActionResponse, WorkerActionResult,
};

use super::fixtures::{event, snapshot, status, t, worker};
use super::impact::notes;
use super::*;

pub(super) fn state_with(pause: WorkerPauseStatus) -> State {
    let mut s = State::new("http://lull", t(40));
    let mut b = worker("b", 39);
    b.active_jobs = vec![Uuid::new_v4(), Uuid::new_v4()];
    let workers = vec![worker("a", 39), b, worker("c", 39)];
    assert_eq!(s.start()[0], Effect::Refresh);
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(pause, workers)))));
    s
}

pub(super) fn running() -> State {
    state_with(status(None, 0, 1))
}

pub(super) fn keys(s: &mut State, keys: &[Key]) -> Vec<Effect> {
    keys.iter().flat_map(|k| s.update(Msg::Key(*k))).collect()
}

pub(super) fn typ(s: &mut State, text: &str) {
    for c in text.chars() {
        assert!(s.update(Msg::Key(Key::Char(c))).is_empty());
    }
}

/// The request of the single `Send` in `effects`.
pub(super) fn sent(effects: &[Effect]) -> (u64, Request) {
    match effects {
        [Effect::Send { seq, request }] => (*seq, request.clone()),
        other => panic!("expected one Send, got {other:?}"),
    }
}

/// Why the open dialog's last `Enter` did not go through.
pub(super) fn dialog_error(s: &State) -> &str {
    let d = s.dialog.as_ref().expect("a dialog");
    d.error.as_deref().expect("an error")
}

pub(super) fn texts(s: &State) -> Vec<String> {
    notes(s, s.dialog.as_ref().expect("a dialog"))
        .into_iter()
        .map(|n| n.text)
        .collect()
}

pub(super) fn drained_response(ids: &[&str], override_used: bool) -> Outcome {
    Outcome::Workers(WorkerActionResponse {
        action: WorkerActionKind::Drain,
        results: ids
            .iter()
            .map(|id| WorkerActionResult {
                worker_id: id.to_string(),
                ok: true,
                previous_desired_state: DesiredState::Active,
                desired_state: DesiredState::Draining,
                running_jobs: 0,
            })
            .collect(),
        eta_seconds: Some(95.0),
        override_used,
        event: event(9, "worker.drain"),
    })
}

pub(super) fn rollout(status: RolloutStatus, states: &[RolloutWorkerState]) -> RollingRestart {
    RollingRestart {
        id: Uuid::from_u128(7),
        status,
        max_unavailable: 2,
        deadline_seconds: 300,
        reason: "deploy".into(),
        actor: "local".into(),
        created_at: t(0),
        finished_at: None,
        workers: states
            .iter()
            .enumerate()
            .map(|(i, st)| RolloutWorker {
                worker_id: format!("w{i}"),
                state: *st,
                boot_id_before: None,
                boot_id_after: None,
                started_at: None,
                finished_at: None,
                message: None,
            })
            .collect(),
        message: None,
    }
}
