//! Each screen and flow of the issue, on both stores: the fleet and the
//! banner, a drain with its reason, the typed-phrase override, the global
//! pause and the forced resume, a rolling restart followed and
//! cancelled, the audit log paged, the live connection, and 80×24 with
//! and without colour.

use std::time::Duration;

use client::Client;
use ratatui::style::Color;
use testkit::TestDb;
use tokio::time::timeout;
use wire::{
    ClaimRequest, DesiredState, EnqueueRequest, EventsQuery, PauseMode, PauseRequest,
    ReportedState, RolloutStatus, WorkerHeartbeatRequest,
};

use super::{register, Server, Tui};
use crate::cli::tui::io;
use crate::cli::tui::state::{Key, Msg};
use crate::cli::tui::view::Theme;

async fn a_drain_from_the_workers_screen_reaches_the_api_with_its_reason(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    register(&api, &["w-a", "w-b", "w-c"]).await;
    let mut tui = Tui::open(&server).await;
    tui.expect(&[
        "Workers: Running",
        "Workers 3 · selected 0",
        "w-a",
        "w-b",
        "w-c",
    ]);
    assert!(
        tui.row("w-b").contains("running   active"),
        "{}",
        tui.row("w-b")
    );

    tui.key(Key::Char('j')).await;
    tui.key(Key::Char(' ')).await;
    assert!(tui.row("w-b").contains('●'), "selected: {}", tui.row("w-b"));
    tui.key(Key::Char('d')).await;
    tui.expect(&[
        "Drain 1 worker?",
        "Workers affected: 1 — w-b",
        "Running jobs on them: 0",
        "Idle: now (they run no jobs)",
        "› Reason: ▏",
    ]);
    tui.typ("kernel upgrade on b").await;
    tui.key(Key::Enter).await;
    tui.expect(&["drain: 1 worker (w-b)"]);
    assert!(tui.row("w-b").contains("draining"), "{}", tui.row("w-b"));
    assert!(tui.row("w-a").contains("active"), "only the selected one");

    let w = api.list_workers().await.unwrap().workers;
    let b = w.iter().find(|w| w.id == "w-b").unwrap();
    assert_eq!(b.desired_state, DesiredState::Draining);
    let events = api.events(&EventsQuery::default()).await.unwrap().events;
    assert_eq!(events[0].action, "worker.drain");
    assert_eq!(events[0].reason, "kernel upgrade on b");
    assert_eq!(events[0].targets, ["w-b"]);
}

async fn draining_every_worker_asks_for_the_typed_phrase_and_overrides_with_it(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    register(&api, &["w-a", "w-b", "w-c"]).await;
    let mut tui = Tui::open(&server).await;
    tui.key(Key::Char('a')).await;
    tui.key(Key::Char('d')).await;
    tui.expect(&["Drain 3 workers?", "Workers affected: 3 — w-a, w-b, w-c"]);
    tui.typ("decommission").await;
    tui.key(Key::Enter).await;
    tui.expect(&[
        "Confirm: this would leave too few workers available",
        "Available workers: 3 → 0 (minimum 1)",
        "Type the phrase to do it anyway: drain 3 workers",
        "› Phrase: ▏",
    ]);
    let w = api.list_workers().await.unwrap().workers;
    assert!(
        w.iter().all(|w| w.desired_state == DesiredState::Active),
        "the refusal changed nothing"
    );
    tui.typ("drain 3").await;
    tui.key(Key::Enter).await;
    tui.expect(&["type the phrase exactly: drain 3 workers"]);
    tui.typ(" workers").await;
    tui.key(Key::Enter).await;
    tui.expect(&["drain: 3 workers (w-a, w-b, w-c)", "safety rule overridden"]);
    let w = api.list_workers().await.unwrap().workers;
    assert!(w.iter().all(|w| w.desired_state == DesiredState::Draining));
}

async fn a_global_pause_shows_in_the_banner_and_an_early_resume_needs_force(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    register(&api, &["w-a"]).await;
    let mut tui = Tui::open(&server).await;
    tui.key(Key::Char('P')).await;
    tui.expect(&[
        "Pause the fleet?",
        "Fleet: 1 online of 1 worker",
        "(•) drain",
    ]);
    tui.typ("db failover").await;
    tui.key(Key::Enter).await;
    tui.expect(&[
        "Workers: Paused (Drain)",
        "reason: db failover",
        "paused (drain)",
    ]);
    assert!(api.pause_status().await.unwrap().workers_paused);

    // A job still runs: the fleet has not drained.
    api.change_pause(&PauseRequest::resume("let one in", false))
        .await
        .unwrap();
    api.enqueue(&EnqueueRequest {
        job_type: Some("t".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let claimed = api
        .claim(&ClaimRequest {
            worker_id: Some("w-a".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(claimed.job.is_some());
    api.change_pause(&PauseRequest::pause(PauseMode::Quiesce, "again"))
        .await
        .unwrap();
    tui.refresh().await;
    tui.expect(&["Workers: Paused (Quiesce)", "running 1", "not drained"]);

    tui.key(Key::Char('U')).await;
    tui.expect(&["Resume the fleet?", "NOT drained"]);
    tui.typ("cannot wait").await;
    tui.key(Key::Enter).await;
    tui.expect(&[
        "Resume before the fleet has drained?",
        "The fleet has not drained: 1 running, 0 stale.",
        "Enter force resume · Esc keep the fleet paused",
    ]);
    assert!(api.pause_status().await.unwrap().workers_paused, "not yet");
    tui.key(Key::Enter).await;
    tui.expect(&["Workers: Running", "resumed before full drain"]);
    let events = api.events(&EventsQuery::default()).await.unwrap().events;
    assert_eq!(events[0].action, "resume");
    assert!(events[0].force_resume);
    assert_eq!(events[0].reason, "cannot wait");
}

async fn the_banner_counts_the_workers_that_applied_the_pause(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    register(&api, &["w-a", "w-b"]).await;
    let v = api
        .change_pause(&PauseRequest::pause(PauseMode::Drain, "deploy"))
        .await
        .unwrap()
        .version;
    let mut tui = Tui::open(&server).await;
    tui.expect(&["Workers: Paused (Drain)", "· applied 0/2"]);
    for (id, expected) in [("w-a", "· applied 1/2"), ("w-b", "· applied 2/2")] {
        api.worker_heartbeat(
            id,
            &WorkerHeartbeatRequest {
                boot_id: Some(format!("{id}-boot-1")),
                state: Some(ReportedState::Paused),
                applied_version: Some(v),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        tui.refresh().await;
        tui.expect(&[expected]);
    }
}

async fn a_rolling_restart_shows_its_progress_and_c_cancels_it(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    register(&api, &["w-a", "w-b", "w-c"]).await;
    let mut tui = Tui::open(&server).await;
    tui.key(Key::Char('R')).await;
    tui.expect(&["Rolling restart of all workers?", "Max unavailable: 1"]);
    tui.typ("release 2.1").await;
    tui.key(Key::Enter).await;
    tui.tick().await;
    tui.expect(&[
        "running · max unavailable 1 · c cancel",
        "done 0 · in progress 1 · waiting 2 · failed 0",
    ]);
    let screen = tui.screen();
    let draining: Vec<&str> = screen.lines().filter(|l| l.contains("draining")).collect();
    assert!(!draining.is_empty(), "one worker drains:\n{screen}");

    tui.key(Key::Char('c')).await;
    tui.expect(&["Cancel rolling restart", "No further drains"]);
    tui.key(Key::Enter).await;
    tui.expect(&[
        "rolling restart cancelled",
        "cancelled · max unavailable 1 · x hide",
    ]);
    let all = api.rolling_restarts().await.unwrap();
    assert_eq!(all[0].status, RolloutStatus::Cancelled);
    assert_eq!(all[0].reason, "release 2.1");
}

async fn the_audit_screen_pages_the_control_log_newest_first(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    for i in 0..8 {
        api.change_pause(&PauseRequest::pause(PauseMode::Drain, format!("pause {i}")))
            .await
            .unwrap();
        api.change_pause(&PauseRequest::resume(format!("resume {i}"), false))
            .await
            .unwrap();
    }
    let mut tui = Tui::open(&server).await;
    tui.key(Key::Tab).await;
    tui.expect(&["No queue yet: a queue appears with its first job or its first pause."]);
    tui.key(Key::Tab).await;
    tui.expect(&["Audit log · newest first · page 1 · n older", "resume 7"]);
    let screen = tui.screen();
    let first = screen.find("resume 7").unwrap();
    assert!(first < screen.find("pause 7").unwrap(), "newest first");
    assert!(!screen.contains("pause 1"), "12 a page");
    tui.key(Key::Char('n')).await;
    tui.expect(&["page 2 (last)", "pause 1", "pause 0"]);
    tui.key(Key::Char('b')).await;
    tui.expect(&["page 1", "resume 7"]);
}

async fn the_queues_screen_pauses_and_resumes_one_queue_with_its_reason(db: TestDb) {
    let server = Server::start(&db).await;
    let api = server.client();
    register(&api, &["w-a"]).await;
    for (queue, n) in [("emails", 3), ("reports", 2)] {
        for _ in 0..n {
            api.enqueue(&EnqueueRequest {
                job_type: Some("t".into()),
                queue: Some(queue.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    }
    // One job of emails runs: the queue will not have drained.
    let claimed = api
        .claim(&ClaimRequest {
            worker_id: Some("w-a".into()),
            queues: Some(vec!["emails".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(claimed.job.is_some());
    let mut tui = Tui::open(&server).await;
    tui.key(Key::Tab).await;
    tui.expect(&["Queues 2 · paused 0", "QUEUE", "emails", "reports"]);
    assert!(
        tui.row("emails")
            .contains("running          2       0      1       0"),
        "{}",
        tui.row("emails")
    );

    tui.key(Key::Char('p')).await;
    tui.expect(&[
        "Pause queue emails?",
        "Queue emails: 2 queued · 0 scheduled · 1 running · 0 stale · NOT drained",
        "Other queues keep running.",
    ]);
    tui.typ("mail provider down").await;
    tui.key(Key::Enter).await;
    tui.expect(&["queue emails paused (drain)", "Queues 2 · paused 1"]);
    assert!(
        tui.row("emails").contains("paused (drain)"),
        "{}",
        tui.row("emails")
    );
    assert!(tui.row("reports").contains("running"), "only emails");
    tui.expect(&["reason: mail provider down · NOT drained"]);

    let emails = api.queue("emails").await.unwrap();
    assert!(emails.paused);
    assert_eq!(emails.mode, Some(PauseMode::Drain));
    assert_eq!(emails.reason.as_deref(), Some("mail provider down"));
    assert!(!api.queue("reports").await.unwrap().paused);
    let events = api.events(&EventsQuery::default()).await.unwrap().events;
    assert_eq!(events[0].queue.as_deref(), Some("emails"));
    assert_eq!(events[0].reason, "mail provider down");

    // Its job still runs: resuming asks again, then forces.
    tui.key(Key::Char('r')).await;
    tui.typ("provider back").await;
    tui.key(Key::Enter).await;
    tui.expect(&[
        "Resume queue emails before it has drained?",
        "Queue emails has not drained: 1 running, 0 stale.",
    ]);
    assert!(api.queue("emails").await.unwrap().paused, "not yet");
    tui.key(Key::Enter).await;
    tui.expect(&["queue emails resumed", "Queues 2 · paused 0"]);
    assert!(!api.queue("emails").await.unwrap().paused);
    let events = api.events(&EventsQuery::default()).await.unwrap().events;
    assert_eq!(events[0].reason, "provider back");
    assert!(events[0].force_resume, "recorded as a force resume");
}

/// The next message, or a failure after 10 s.
async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>) -> Msg {
    timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message within 10 s")
        .expect("the sender is alive")
}

async fn the_header_says_live_on_the_stream_and_disconnected_without_a_server(db: TestDb) {
    let server = Server::start(&db).await;
    let mut tui = Tui::open(&server).await;
    tui.expect(&["◌ connecting", "Workers: Running"]);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let live = tokio::spawn(io::live(server.client(), tx));
    let up = next(&mut rx).await;
    assert_eq!(up, Msg::StreamUp);
    tui.msg(up).await;
    let first = next(&mut rx).await;
    assert!(
        matches!(first, Msg::Stream(wire::StreamMessage::State { .. })),
        "{first:?}"
    );
    tui.msg(first).await;
    tui.expect(&["● live", "Workers: Running"]);
    live.abort();

    // Nobody listens there: the stream is down and the poll fails.
    let gone = Client::new("http://127.0.0.1:9").unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let live = tokio::spawn(io::live(gone.clone(), tx));
    let down = next(&mut rx).await;
    assert!(matches!(down, Msg::StreamDown(_)), "{down:?}");
    tui.io.api = gone;
    tui.msg(down).await;
    tui.expect(&["✕ disconnected: server unreachable", "showing data as of"]);
    live.abort();
}

async fn it_fits_80x24_in_colour_and_without(db: TestDb) {
    let server = Server::start(&db).await;
    register(&server.client(), &["w-a", "w-b"]).await;
    let mut tui = Tui::open(&server).await;
    tui.key(Key::Char('d')).await;
    let screen = tui.screen();
    assert_eq!(screen.lines().count(), 24);
    assert!(screen.lines().all(|l| l.chars().count() == 80));
    assert!(
        screen.lines().last().unwrap().contains("q quit"),
        "{screen}"
    );
    let coloured = |b: &ratatui::buffer::Buffer| {
        b.content
            .iter()
            .any(|c| c.fg != Color::Reset || c.bg != Color::Reset)
    };
    assert!(coloured(tui.buffer()));
    tui.theme = Theme { color: false };
    let plain = tui.screen();
    assert!(!coloured(tui.buffer()), "NO_COLOR: no colour at all");
    assert_eq!(plain, screen, "the same text either way");
    tui.key(Key::Esc).await;
    tui.key(Key::Char('?')).await;
    tui.expect(&[
        "Keys (any key closes)",
        "rolling restart of the selected (or all)",
    ]);
}

async fn with_a_viewer_token_it_watches_and_an_action_says_why_it_was_refused(db: TestDb) {
    let server = Server::start_token_mode(&db).await;
    register(&server.client_as(&db, "w-a", "worker").await, &["w-a"]).await;
    let operator = server.client_as(&db, "ops", "operator").await;
    let viewer = server.client_as(&db, "watcher", "viewer").await;
    let mut tui = Tui::open_with(&server, viewer).await;
    tui.expect(&["Workers: Running", "w-a"]);
    tui.key(Key::Char('p')).await;
    tui.typ("not allowed").await;
    tui.key(Key::Enter).await;
    tui.expect(&["Pause 1 worker?", "403 forbidden"]);
    let w = operator.list_workers().await.unwrap().workers;
    assert_eq!(w[0].desired_state, DesiredState::Active, "nothing changed");
}

testkit::on_both_stores!(
    the_banner_counts_the_workers_that_applied_the_pause,
    with_a_viewer_token_it_watches_and_an_action_says_why_it_was_refused,
    a_drain_from_the_workers_screen_reaches_the_api_with_its_reason,
    draining_every_worker_asks_for_the_typed_phrase_and_overrides_with_it,
    a_global_pause_shows_in_the_banner_and_an_early_resume_needs_force,
    a_rolling_restart_shows_its_progress_and_c_cancels_it,
    the_audit_screen_pages_the_control_log_newest_first,
    the_queues_screen_pauses_and_resumes_one_queue_with_its_reason,
    the_header_says_live_on_the_stream_and_disconnected_without_a_server,
    it_fits_80x24_in_colour_and_without,
);
