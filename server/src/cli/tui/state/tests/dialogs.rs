//! Every confirmation dialog, step by step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use uuid::Uuid;
use wire::{
    ActionImpact, ApiError, PauseMode, RolloutStatus, RolloutWorkerState, WorkerActionKind,
};

use super::super::dialog::{DialogKind, Field, Step};
use super::super::fixtures::{snapshot, status, t};
use super::super::impact;
use super::super::*;
use super::*;

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
    assert!(dialog_error(&s).contains("reason is required"));
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
    assert!(dialog_error(&s).contains("exactly"));
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
