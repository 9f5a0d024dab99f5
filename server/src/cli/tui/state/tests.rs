//! The state machine's flows, key by key, without a terminal or a
//! server: what each step shows and which calls it asks for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use uuid::Uuid;
use wire::{
    ActionImpact, ApiError, ControlEvent, DesiredState, DrainMetrics, PauseMode, RollingRestart,
    RolloutStatus, RolloutWorker, RolloutWorkerState, StreamMessage, WorkerActionKind,
    WorkerActionResponse, WorkerActionResult,
};

use super::dialog::{DialogKind, Field, Step};
use super::fixtures::{event, snapshot, status, t, worker};
use super::impact::notes;
use super::*;

fn state_with(pause: WorkerPauseStatus) -> State {
    let mut s = State::new("http://lull", t(40));
    let mut b = worker("b", 39);
    b.active_jobs = vec![Uuid::new_v4(), Uuid::new_v4()];
    let workers = vec![worker("a", 39), b, worker("c", 39)];
    assert_eq!(s.start()[0], Effect::Refresh);
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(pause, workers)))));
    s
}

fn running() -> State {
    state_with(status(None, 0, 1))
}

fn keys(s: &mut State, keys: &[Key]) -> Vec<Effect> {
    keys.iter().flat_map(|k| s.update(Msg::Key(*k))).collect()
}

fn typ(s: &mut State, text: &str) {
    for c in text.chars() {
        assert!(s.update(Msg::Key(Key::Char(c))).is_empty());
    }
}

/// The request of the single `Send` in `effects`.
fn sent(effects: &[Effect]) -> (u64, Request) {
    match effects {
        [Effect::Send { seq, request }] => (*seq, request.clone()),
        other => panic!("expected one Send, got {other:?}"),
    }
}

fn texts(s: &State) -> Vec<String> {
    notes(s, s.dialog.as_ref().expect("a dialog"))
        .into_iter()
        .map(|n| n.text)
        .collect()
}

fn drained_response(ids: &[&str], override_used: bool) -> Outcome {
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

#[test]
fn a_drain_states_its_impact_requires_a_reason_and_sends_the_selected_worker() {
    let mut s = running();
    keys(&mut s, &[Key::Char('j'), Key::Char(' '), Key::Char('d')]);
    let d = s.dialog.as_ref().expect("d opens a dialog");
    assert_eq!(
        d.kind,
        DialogKind::Workers {
            action: WorkerActionKind::Drain,
            ids: vec!["b".into()]
        }
    );
    assert_eq!(d.title(), "Drain 1 worker?");
    let impact = texts(&s);
    assert_eq!(impact[0], "Workers affected: 1 — b");
    assert_eq!(impact[1], "Running jobs on them: 2");
    assert_eq!(impact[2], "Idle: unknown", "a job without an estimate");

    assert!(
        keys(&mut s, &[Key::Enter]).is_empty(),
        "no reason: nothing sent"
    );
    assert!(s
        .dialog
        .as_ref()
        .unwrap()
        .error
        .as_deref()
        .unwrap()
        .contains("reason is required"));
    typ(&mut s, "kernel update");
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    let Request::Workers(r) = request else {
        panic!()
    };
    assert_eq!(r.action.as_deref(), Some("drain"));
    assert_eq!(r.worker_ids, Some(vec!["b".to_string()]));
    assert_eq!(r.reason.as_deref(), Some("kernel update"));
    assert_eq!(r.confirm, None);
    assert!(
        keys(&mut s, &[Key::Enter, Key::Char('x')]).is_empty(),
        "waits for the answer"
    );

    let effects = s.update(Msg::Done {
        seq,
        result: Ok(drained_response(&["b"], false)),
    });
    assert!(s.dialog.is_none());
    assert_eq!(
        effects,
        vec![Effect::Refresh],
        "the fleet is read again at once"
    );
    assert_eq!(
        s.flash.as_ref().unwrap().text,
        "drain: 1 worker (b) · idle in about 2 min"
    );
    // …and every second while the workers act on it.
    s.update(Msg::StreamUp);
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(
        status(None, 0, 1),
        vec![],
    )))));
    assert_eq!(s.update(Msg::Tick(t(42))), vec![Effect::Refresh]);
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(
        status(None, 0, 1),
        vec![],
    )))));
    assert!(
        s.update(Msg::Tick(t(42) + FOLLOW_FOR)).is_empty(),
        "then the stream drives it again"
    );
}

#[test]
fn the_drain_eta_is_the_servers_expected_end_of_their_jobs() {
    let mut s = running();
    let drain = s.drain.as_mut().unwrap();
    for (worker, end) in [("b", 100), ("b", 160), ("c", 900)] {
        drain.blocking.push(wire::BlockingJob {
            id: Uuid::new_v4(),
            job_type: "t".into(),
            worker_id: Some(worker.into()),
            started_at: Some(t(0)),
            lease_expires_at: None,
            stale: false,
            paused_at_checkpoint: false,
            expected_end_at: Some(t(end)),
        });
    }
    assert_eq!(
        impact::idle_eta(&s, &["b".into()]),
        "about 2 min (by 08:02:40)"
    );
    assert_eq!(
        impact::idle_eta(&s, &["a".into()]),
        "now (they run no jobs)"
    );
}

#[test]
fn a_safety_refusal_asks_for_the_typed_phrase_and_sends_it_as_confirm() {
    let mut s = running();
    keys(&mut s, &[Key::Char('a'), Key::Char('d')]);
    typ(&mut s, "all of them");
    let (seq, _) = sent(&keys(&mut s, &[Key::Enter]));
    s.update(Msg::Done {
        seq,
        result: Err(ApiError::SafetyRefused {
            message: "this would leave 0 available".into(),
            impact: Some(ActionImpact {
                available_before: 3,
                available_after: 0,
                minimum: 1,
                affected_workers: vec!["a".into(), "b".into(), "c".into()],
                running_jobs: 2,
            }),
            confirm_phrase: Some("drain 3 workers".into()),
        }),
    });
    let d = s.dialog.as_ref().expect("still open");
    assert!(matches!(&d.step, Step::Phrase { phrase, .. } if phrase == "drain 3 workers"));
    assert_eq!(d.focus, Field::Phrase);
    assert_eq!(
        d.title(),
        "Confirm: this would leave too few workers available"
    );
    let impact = texts(&s);
    assert!(impact.contains(&"Available workers: 3 → 0 (minimum 1)".to_string()));
    assert!(impact.contains(&"Type the phrase to do it anyway: drain 3 workers".to_string()));

    typ(&mut s, "drain 2 workers");
    assert!(
        keys(&mut s, &[Key::Enter]).is_empty(),
        "a wrong phrase sends nothing"
    );
    assert!(s
        .dialog
        .as_ref()
        .unwrap()
        .error
        .as_deref()
        .unwrap()
        .contains("exactly"));
    for _ in 0.."drain 2 workers".len() {
        keys(&mut s, &[Key::Backspace]);
    }
    typ(&mut s, "drain 3 workers");
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    let Request::Workers(r) = request else {
        panic!()
    };
    assert_eq!(r.confirm.as_deref(), Some("drain 3 workers"));
    assert_eq!(
        r.reason.as_deref(),
        Some("all of them"),
        "the reason is kept"
    );
    assert_eq!(r.worker_ids.unwrap(), ["a", "b", "c"]);
    s.update(Msg::Done {
        seq,
        result: Ok(drained_response(&["a", "b", "c"], true)),
    });
    assert!(s.dialog.is_none());
    assert!(s
        .flash
        .as_ref()
        .unwrap()
        .text
        .ends_with("safety rule overridden"));
}

#[test]
fn other_refusals_stay_in_the_dialog_and_a_late_answer_after_esc_is_a_note() {
    let mut s = running();
    keys(&mut s, &[Key::Char('p')]);
    typ(&mut s, "x");
    let (seq, _) = sent(&keys(&mut s, &[Key::Enter]));
    s.update(Msg::Done {
        seq,
        result: Err(ApiError::Forbidden {
            code: "forbidden".into(),
            message: "viewers may not".into(),
        }),
    });
    let d = s.dialog.as_ref().expect("kept open to read");
    assert_eq!(d.sending, None);
    assert_eq!(d.error.as_deref(), Some("403 forbidden: viewers may not"));

    let (seq, _) = sent(&keys(&mut s, &[Key::Enter]));
    assert!(keys(&mut s, &[Key::Esc]).is_empty());
    assert!(s.dialog.is_none(), "Esc closes even while sending");
    s.update(Msg::Done {
        seq,
        result: Err(ApiError::Unreachable {
            message: "refused".into(),
        }),
    });
    let f = s.flash.as_ref().unwrap();
    assert_eq!(
        (f.level, f.text.as_str()),
        (Level::Error, "server unreachable: refused")
    );
}

#[test]
fn a_global_resume_before_drained_warns_and_needs_a_second_enter_to_force() {
    let mut s = state_with(status(Some(PauseMode::Drain), 2, 4));
    keys(&mut s, &[Key::Char('U')]);
    assert_eq!(s.dialog.as_ref().unwrap().title(), "Resume the fleet?");
    assert!(texts(&s)[0].ends_with("NOT drained"));
    typ(&mut s, "done");
    assert!(
        keys(&mut s, &[Key::Enter]).is_empty(),
        "first Enter: the warning"
    );
    let d = s.dialog.as_ref().unwrap();
    assert_eq!(d.step, Step::ForceResume);
    assert!(texts(&s)[0].contains("has not drained: 2 running"));
    let (_, request) = sent(&keys(&mut s, &[Key::Enter]));
    let Request::Pause(r) = request else { panic!() };
    assert_eq!(r.action.as_deref(), Some("resume"));
    assert_eq!(r.force_resume, Some(true));
    assert_eq!(r.reason.as_deref(), Some("done"));

    // Esc at the warning keeps the fleet paused.
    let mut s = state_with(status(Some(PauseMode::Drain), 2, 4));
    keys(&mut s, &[Key::Char('U')]);
    typ(&mut s, "done");
    assert!(keys(&mut s, &[Key::Enter, Key::Esc]).is_empty());
    assert!(s.dialog.is_none());

    // Drained: one Enter, no force.
    let mut s = state_with(status(Some(PauseMode::Drain), 0, 4));
    keys(&mut s, &[Key::Char('U')]);
    typ(&mut s, "done");
    let (_, request) = sent(&keys(&mut s, &[Key::Enter]));
    assert!(matches!(request, Request::Pause(r) if r.force_resume == Some(false)));

    // Running: nothing to resume.
    let mut s = running();
    keys(&mut s, &[Key::Char('U')]);
    assert!(s.dialog.is_none());
    assert!(s.flash.unwrap().text.contains("nothing to resume"));
}

#[test]
fn a_global_pause_takes_a_mode_and_a_reason_and_shows_at_once() {
    let mut s = running();
    keys(&mut s, &[Key::Char('P')]);
    let d = s.dialog.as_ref().unwrap();
    assert_eq!((d.focus, d.mode), (Field::Reason, PauseMode::Drain));
    assert!(texts(&s).contains(&"Fleet: 3 online of 3 workers".to_string()));
    keys(&mut s, &[Key::BackTab, Key::Right]);
    assert_eq!(s.dialog.as_ref().unwrap().mode, PauseMode::Quiesce);
    assert!(texts(&s).last().unwrap().starts_with("Quiesce:"));
    keys(&mut s, &[Key::Tab]);
    typ(&mut s, "db failover");
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    assert_eq!(
        request,
        Request::Pause(wire::PauseRequest::pause(PauseMode::Quiesce, "db failover"))
    );
    s.update(Msg::Done {
        seq,
        result: Ok(Outcome::Pause(status(Some(PauseMode::Quiesce), 0, 2))),
    });
    assert_eq!(s.pause.as_ref().unwrap().mode, Some(PauseMode::Quiesce));
    assert_eq!(
        s.flash.as_ref().unwrap().text,
        "paused (quiesce) · version 2"
    );
}

fn rollout(status: RolloutStatus, states: &[RolloutWorkerState]) -> RollingRestart {
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

#[test]
fn a_rolling_restart_asks_max_unavailable_and_is_followed_until_it_ends() {
    use RolloutWorkerState::*;
    let mut s = running();
    keys(&mut s, &[Key::Char('R')]);
    assert_eq!(
        s.dialog.as_ref().unwrap().title(),
        "Rolling restart of all workers?"
    );
    keys(
        &mut s,
        &[
            Key::BackTab,
            Key::Backspace,
            Key::Char('x'),
            Key::Char('2'),
            Key::Tab,
        ],
    );
    assert_eq!(s.dialog.as_ref().unwrap().max_unavailable, "2");
    assert!(texts(&s).contains(&"at most 2 unavailable at a time.".to_string()));
    typ(&mut s, "deploy");
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    let Request::StartRollout(r) = request else {
        panic!()
    };
    assert_eq!(
        (r.all, r.worker_ids, r.max_unavailable),
        (Some(true), None, Some(2))
    );

    let started = rollout(RolloutStatus::Running, &[Draining, Pending]);
    let effects = s.update(Msg::Done {
        seq,
        result: Ok(Outcome::Rollout(started.clone())),
    });
    assert_eq!(effects, vec![Effect::Refresh]);
    assert!(s
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("started: 2 workers, at most 2"));
    assert_eq!(
        s.update(Msg::Tick(t(41))),
        vec![Effect::LoadRollout(started.id)]
    );
    assert!(
        !s.update(Msg::Tick(t(42)))
            .contains(&Effect::LoadRollout(started.id)),
        "one at a time"
    );
    s.update(Msg::Rollout(Ok(rollout(
        RolloutStatus::Running,
        &[Done, Draining],
    ))));
    assert!(s
        .update(Msg::Tick(t(43)))
        .contains(&Effect::LoadRollout(started.id)));

    // `c` cancels, the reason optional; `R` refuses a second one meanwhile.
    keys(&mut s, &[Key::Char('R')]);
    assert!(s.dialog.is_none() && s.flash.as_ref().unwrap().text.contains("c cancels"));
    keys(&mut s, &[Key::Char('c')]);
    assert!(texts(&s)[0].contains("1 of 2 restarted"));
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    assert!(
        matches!(request, Request::CancelRollout(id, r) if id == started.id && r.reason.is_none())
    );
    let mut cancelled = rollout(RolloutStatus::Cancelled, &[Done, Draining]);
    cancelled.finished_at = Some(t(44));
    s.update(Msg::Done {
        seq,
        result: Ok(Outcome::Rollout(cancelled)),
    });
    assert!(s.flash.as_ref().unwrap().text.contains("cancelled"));
    assert!(!s
        .update(Msg::Tick(t(45)))
        .contains(&Effect::LoadRollout(started.id)));
    keys(&mut s, &[Key::Char('x')]);
    assert!(s.rollout.is_none(), "x hides an ended one");
}

#[test]
fn a_running_rolling_restart_found_at_start_is_followed() {
    let mut s = running();
    let r = rollout(RolloutStatus::Running, &[RolloutWorkerState::Pending]);
    s.update(Msg::Rollouts(Ok(vec![
        rollout(RolloutStatus::Done, &[]),
        r.clone(),
    ])));
    assert_eq!(
        s.rollout.as_ref().map(|r| r.status),
        Some(RolloutStatus::Running)
    );
    s.update(Msg::Rollout(Ok(rollout(
        RolloutStatus::Done,
        &[RolloutWorkerState::Done],
    ))));
    assert_eq!(s.flash.as_ref().unwrap().text, "rolling restart done");
}

#[test]
fn the_stream_drives_refreshes_and_polling_takes_over_when_it_is_down() {
    let mut s = State::new("http://lull", t(0));
    assert_eq!(
        s.start(),
        vec![
            Effect::Refresh,
            Effect::LoadEvents { before: None },
            Effect::LoadRollouts
        ]
    );
    assert_eq!(s.link.label(), "◌ connecting");
    assert!(
        s.update(Msg::Tick(t(5))).is_empty(),
        "one refresh at a time"
    );
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(
        status(None, 0, 1),
        vec![],
    )))));
    assert_eq!(s.update(Msg::StreamUp), vec![Effect::Refresh]);
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(
        status(None, 0, 1),
        vec![],
    )))));
    assert_eq!(s.link.label(), "● live");
    assert!(
        s.update(Msg::Tick(t(30))).is_empty(),
        "live: the stream paces it"
    );
    let tick = StreamMessage::Metrics {
        version: 1,
        metrics: DrainMetrics::new(5, 1, 0),
        at: t(30),
    };
    assert_eq!(s.update(Msg::Stream(tick)), vec![Effect::Refresh]);
    assert_eq!(s.pause.as_ref().unwrap().metrics.queued, 5);
    s.update(Msg::Snapshot(Err("server unreachable (refused)".into())));
    assert_eq!(
        s.link.label(),
        "✕ disconnected: server unreachable (refused)"
    );
    assert_eq!(
        s.update(Msg::StreamDown("refused".into())),
        vec![Effect::Refresh],
        "polling now"
    );
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(
        status(None, 0, 1),
        vec![],
    )))));
    assert_eq!(s.link.label(), "◌ polling (live stream down)");
    assert!(s.update(Msg::Tick(t(31))).is_empty());
    assert_eq!(
        s.update(Msg::Tick(t(32))),
        vec![Effect::Refresh],
        "every 2 s"
    );
    let new_state = StreamMessage::State {
        status: Box::new(status(Some(PauseMode::Drain), 1, 2)),
    };
    s.update(Msg::Snapshot(Ok(Box::new(snapshot(
        status(None, 0, 1),
        vec![],
    )))));
    s.update(Msg::Stream(new_state));
    assert!(
        s.pause.as_ref().unwrap().workers_paused,
        "the banner follows the stream"
    );
}

#[test]
fn the_filter_takes_the_keys_while_it_is_typed() {
    let mut s = running();
    keys(&mut s, &[Key::Char('/'), Key::Char('d'), Key::Char('q')]);
    assert!(s.dialog.is_none() && !s.quit, "typed into the filter");
    assert_eq!(s.fleet.filter, "dq");
    keys(
        &mut s,
        &[Key::Backspace, Key::Backspace, Key::Char('b'), Key::Enter],
    );
    assert_eq!(s.fleet.shown().len(), 1);
    keys(&mut s, &[Key::Char('d')]);
    assert!(
        matches!(&s.dialog.as_ref().unwrap().kind, DialogKind::Workers { ids, .. } if ids == &["b"]),
        "the action applies to what the filter shows"
    );
    keys(&mut s, &[Key::Esc, Key::Char('/'), Key::Esc]);
    assert!(s.fleet.filter.is_empty() && !s.fleet.filtering);
    assert_eq!(s.fleet.shown().len(), 3);
}

#[test]
fn tab_switches_screens_help_swallows_a_key_and_q_or_ctrl_c_quits() {
    let mut s = running();
    assert!(keys(&mut s, &[Key::Tab]).is_empty());
    assert_eq!(s.screen, Screen::Queues);
    assert_eq!(
        keys(&mut s, &[Key::Tab]),
        vec![Effect::LoadEvents { before: None }]
    );
    assert_eq!(s.screen, Screen::Audit);
    s.update(Msg::Events {
        before: None,
        result: Ok(wire::EventsPage {
            events: vec![event(5, "pause"), event(4, "resume")],
            next_before: Some(4),
        }),
    });
    assert_eq!(
        keys(&mut s, &[Key::Char('n')]),
        vec![Effect::LoadEvents { before: Some(4) }]
    );
    // A new event while the newest page is on screen reloads it.
    let mut p = status(None, 0, 1);
    p.audit.latest = vec![event(6, "pause")];
    s.audit.before = None;
    let fleet = s.fleet.workers.clone();
    assert_eq!(
        s.update(Msg::Snapshot(Ok(Box::new(snapshot(p, fleet))))),
        vec![Effect::LoadEvents { before: None }]
    );
    keys(&mut s, &[Key::BackTab, Key::BackTab]);
    assert_eq!(s.screen, Screen::Workers);

    keys(&mut s, &[Key::Char('?')]);
    assert!(s.help);
    keys(&mut s, &[Key::Char('d')]);
    assert!(
        !s.help && s.dialog.is_none(),
        "the key only closes the help"
    );
    keys(&mut s, &[Key::Char('d'), Key::Char('q')]);
    assert!(!s.quit, "q is typed into the reason");
    keys(&mut s, &[Key::Interrupt]);
    assert!(s.quit, "Ctrl-C quits from anywhere");
    let mut s = running();
    keys(&mut s, &[Key::Char('q')]);
    assert!(s.quit);
}

#[test]
fn the_banner_knows_a_force_resume() {
    let mut s = running();
    let mut resumed: ControlEvent = event(3, "resume");
    resumed.force_resume = true;
    let p = s.pause.as_mut().unwrap();
    p.audit.latest = vec![event(4, "worker.drain"), resumed];
    assert!(crate::cli::tui::view::resumed_before_drain(
        s.pause.as_ref().unwrap()
    ));
}
