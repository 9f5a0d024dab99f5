//! Refreshes (stream vs polling), the filter, screens, help and quitting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use wire::{
    ControlEvent, DrainMetrics, PauseMode, RolloutStatus, RolloutWorkerState, StreamMessage,
};

use super::super::dialog::DialogKind;
use super::super::fixtures::{event, snapshot, status, t};
use super::super::*;
use super::*;

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
