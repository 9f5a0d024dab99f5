//! The Queues screen: the list follows the snapshots, `p` pauses and `r`
//! resumes the queue under the cursor (mode, reason, impact), a resume of
//! a queue that still runs jobs asks again before it forces, and the
//! answer shows at once.

use wire::{PauseMode, QueueInfo};

use super::super::dialog::{DialogKind, Step};
use super::super::fixtures::{queue, snapshot, status, worker};
use super::*;

/// Running fleet, on the Queues screen, with `queues` loaded.
fn on_queues(queues: Vec<QueueInfo>) -> State {
    let mut s = running();
    let mut snap = snapshot(status(None, 0, 1), vec![worker("a", 39)]);
    snap.queues = queues;
    s.update(Msg::Snapshot(Ok(Box::new(snap))));
    keys(&mut s, &[Key::Tab]);
    assert_eq!(s.screen, Screen::Queues);
    s
}

#[test]
fn the_list_is_by_name_and_the_cursor_stays_on_its_queue_across_refreshes() {
    let mut s = on_queues(vec![
        queue("reports", None, 1, 0),
        queue("emails", None, 5, 1),
    ]);
    let names: Vec<&str> = s.queues.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["emails", "reports"]);
    keys(&mut s, &[Key::Char('j')]);
    assert_eq!(s.queues.current().unwrap().name, "reports");
    // A new queue sorts in before it: the cursor follows "reports".
    let mut snap = snapshot(status(None, 0, 1), Vec::new());
    snap.queues = vec![
        queue("reports", None, 1, 0),
        queue("alerts", None, 0, 0),
        queue("emails", None, 5, 1),
    ];
    s.update(Msg::Snapshot(Ok(Box::new(snap))));
    assert_eq!(s.queues.current().unwrap().name, "reports");
    assert_eq!(s.queues.cursor, 2);
    keys(&mut s, &[Key::Char('j'), Key::Char('j')]);
    assert_eq!(s.queues.cursor, 2, "the cursor stops at the last row");
    keys(&mut s, &[Key::Char('g')]);
    assert_eq!(s.queues.current().unwrap().name, "alerts");
}

#[test]
fn p_pauses_the_queue_under_the_cursor_with_mode_and_reason() {
    let mut s = on_queues(vec![
        queue("emails", None, 5, 2),
        queue("reports", None, 1, 0),
    ]);
    keys(&mut s, &[Key::Char('p')]);
    let d = s.dialog.as_ref().unwrap();
    assert_eq!(
        d.kind,
        DialogKind::PauseQueue {
            name: "emails".into()
        }
    );
    assert_eq!(d.title(), "Pause queue emails?");
    let t = texts(&s);
    assert!(
        t.contains(
            &"Queue emails: 5 queued · 0 scheduled · 2 running · 0 stale · NOT drained".into()
        ),
        "{t:?}"
    );
    assert!(t
        .iter()
        .any(|l| l.starts_with("Drain: no worker claims a job of emails")));
    // A reason is required.
    assert!(keys(&mut s, &[Key::Enter]).is_empty());
    assert!(dialog_error(&s).contains("reason is required"));
    // Mode toggles from the mode field (shift-tab goes back to it).
    keys(&mut s, &[Key::BackTab, Key::Right]);
    assert!(texts(&s)
        .iter()
        .any(|l| l.starts_with("Quiesce: no claims of emails")));
    keys(&mut s, &[Key::Tab]);
    typ(&mut s, "mail provider down");
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    let Request::PauseQueue(name, r) = request else {
        panic!("a queue pause: {request:?}")
    };
    assert_eq!(name, "emails");
    assert_eq!(r.mode.as_deref(), Some("quiesce"));
    assert_eq!(r.reason.as_deref(), Some("mail provider down"));
    assert_eq!(r.until, None);

    // The answer shows at once, before the next refresh.
    let mut answer = queue("emails", Some(PauseMode::Quiesce), 5, 2);
    answer.version = 7;
    let effects = s.update(Msg::Done {
        seq,
        result: Ok(Outcome::Queue(answer)),
    });
    assert!(s.dialog.is_none());
    assert_eq!(effects, vec![Effect::Refresh], "and the lists are re-read");
    assert!(s.queues.get("emails").unwrap().paused);
    assert_eq!(
        s.flash.as_ref().unwrap().text,
        "queue emails paused (quiesce) · version 7"
    );
}

#[test]
fn a_paused_queue_opens_its_pause_dialog_at_its_mode_and_says_it_changes_it() {
    let mut s = on_queues(vec![queue("emails", Some(PauseMode::Quiesce), 0, 0)]);
    keys(&mut s, &[Key::Char('p')]);
    assert_eq!(s.dialog.as_ref().unwrap().mode, PauseMode::Quiesce);
    assert!(texts(&s)
        .contains(&"Already paused (quiesce): this changes its mode or reason.".to_string()));
}

#[test]
fn r_on_a_running_queue_says_there_is_nothing_to_resume() {
    let mut s = on_queues(vec![queue("emails", None, 5, 0)]);
    assert!(keys(&mut s, &[Key::Char('r')]).is_empty());
    assert!(s.dialog.is_none());
    assert_eq!(
        s.flash.as_ref().unwrap().text,
        "queue emails is running: nothing to resume"
    );
}

#[test]
fn resuming_a_queue_that_still_runs_jobs_needs_a_second_enter_to_force() {
    let mut s = on_queues(vec![queue("emails", Some(PauseMode::Drain), 3, 2)]);
    keys(&mut s, &[Key::Char('r')]);
    assert_eq!(s.dialog.as_ref().unwrap().title(), "Resume queue emails?");
    typ(&mut s, "provider back");
    assert!(keys(&mut s, &[Key::Enter]).is_empty(), "not sent yet");
    let d = s.dialog.as_ref().unwrap();
    assert_eq!(d.step, Step::ForceResume);
    assert_eq!(d.title(), "Resume queue emails before it has drained?");
    assert_eq!(
        texts(&s)[0],
        "Queue emails has not drained: 2 running, 0 stale."
    );
    let (seq, request) = sent(&keys(&mut s, &[Key::Enter]));
    let Request::ResumeQueue(name, r) = request else {
        panic!("a queue resume: {request:?}")
    };
    assert_eq!(name, "emails");
    assert_eq!(r.force_resume, Some(true));
    assert_eq!(r.reason.as_deref(), Some("provider back"));

    let mut answer = queue("emails", None, 3, 2);
    answer.warning = Some("resumed before the queue drained".into());
    s.update(Msg::Done {
        seq,
        result: Ok(Outcome::Queue(answer)),
    });
    let flash = s.flash.as_ref().unwrap();
    assert_eq!(flash.level, Level::Warn);
    assert_eq!(
        flash.text,
        "queue emails resumed: resumed before the queue drained"
    );
}

#[test]
fn resuming_a_drained_queue_is_one_enter_without_force_and_the_fleet_stays_apart() {
    // The fleet is paused with jobs running; the queue has drained: the
    // queue's own jobs decide, not the fleet's.
    let mut s = state_with(status(Some(PauseMode::Drain), 4, 3));
    let mut snap = snapshot(status(Some(PauseMode::Drain), 4, 3), vec![worker("a", 39)]);
    snap.queues = vec![queue("emails", Some(PauseMode::Drain), 3, 0)];
    s.update(Msg::Snapshot(Ok(Box::new(snap))));
    keys(&mut s, &[Key::Tab, Key::Char('r')]);
    typ(&mut s, "provider back");
    let (_, request) = sent(&keys(&mut s, &[Key::Enter]));
    assert!(
        matches!(&request, Request::ResumeQueue(n, r) if n == "emails" && r.force_resume.is_none()),
        "{request:?}"
    );
}

#[test]
fn with_no_queue_p_and_r_say_so() {
    let mut s = on_queues(Vec::new());
    keys(&mut s, &[Key::Char('p')]);
    assert!(s.dialog.is_none());
    assert_eq!(s.flash.as_ref().unwrap().text, "no queue to pause");
    keys(&mut s, &[Key::Char('r')]);
    assert_eq!(s.flash.as_ref().unwrap().text, "no queue to resume");
}
