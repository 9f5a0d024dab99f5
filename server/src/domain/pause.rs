//! The global pause as a state machine: given the current state, the drain
//! metrics and a parsed command, decide what changes. Storage applies the
//! decision atomically; this module never touches I/O.

use chrono::{DateTime, Utc};
use wire::{DrainMetrics, PauseMode, SystemBlock};

use super::pause_command::{PauseAction, PauseCommand};

/// The persisted singleton. River-style `paused_at` gives "since when".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseState {
    pub workers_paused: bool,
    pub mode: Option<PauseMode>,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
    /// When the current pause began (kept across a mode change while paused).
    pub paused_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1; exactly +1 per change.
    pub version: i64,
    /// A timed pause: when the fleet resumes by itself (see
    /// [`timed_resume`]). Always `None` while running: every resume clears
    /// it.
    pub until: Option<DateTime<Utc>>,
}

impl PauseState {
    /// The state of a brand-new installation: running, version 1.
    pub fn initial(now: DateTime<Utc>) -> Self {
        PauseState {
            workers_paused: false,
            mode: None,
            reason: None,
            requested_by: None,
            requested_at: None,
            paused_at: None,
            resumed_at: None,
            updated_at: now,
            version: 1,
            until: None,
        }
    }

    pub fn system_block(&self, pause_poll_interval_ms: u64) -> SystemBlock {
        SystemBlock {
            workers_paused: self.workers_paused,
            mode: self.mode,
            reason: self.reason.clone(),
            version: self.version,
            pause_poll_interval_ms,
            paused_queues: Vec::new(),
        }
    }
}

/// A control event about to be appended (the store assigns `id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewControlEvent {
    pub action: String,
    pub mode: Option<PauseMode>,
    pub reason: String,
    pub actor: String,
    pub force_resume: bool,
    pub metrics: DrainMetrics,
    pub version: i64,
    pub success: bool,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub targets: Vec<String>,
    pub details: Option<serde_json::Value>,
    /// A queue's pause or resume: the queue.
    pub queue: Option<String>,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
// Short-lived return values; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Decision {
    /// The request asks for what already is: 200, no new version, no event.
    Unchanged,
    Changed {
        state: PauseState,
        event: NewControlEvent,
        warning: Option<String>,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideError {
    /// `expectedVersion` did not match: someone else changed the state.
    VersionConflict { expected: i64, current: i64 },
}

/// The transition rules of the global pause.
///
/// - Pausing while paused with the same mode and reason changes nothing;
///   another mode or reason is a change (version +1) that keeps `paused_at`.
/// - Resuming while running changes nothing.
/// - Resuming before the fleet drained still resumes, with a warning, and
///   the event records `force_resume` and the metrics of that moment.
pub fn decide(
    current: &PauseState,
    metrics: DrainMetrics,
    cmd: &PauseCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Decision, DecideError> {
    if let Some(expected) = cmd.expected_version {
        if expected != current.version {
            return Err(DecideError::VersionConflict {
                expected,
                current: current.version,
            });
        }
    }
    let reason = cmd.reason.as_str().to_string();
    let version = current.version + 1;
    let (state, force_resume, warning, mode) = match cmd.action {
        PauseAction::Pause { mode, until } => {
            if current.workers_paused
                && current.mode == Some(mode)
                && current.reason.as_deref() == Some(reason.as_str())
                && current.until == until
            {
                return Ok(Decision::Unchanged);
            }
            let state = PauseState {
                workers_paused: true,
                mode: Some(mode),
                reason: Some(reason.clone()),
                requested_by: Some(actor.to_string()),
                requested_at: Some(now),
                paused_at: if current.workers_paused {
                    current.paused_at.or(Some(now))
                } else {
                    Some(now)
                },
                resumed_at: current.resumed_at,
                updated_at: now,
                version,
                until,
            };
            (state, false, None, Some(mode))
        }
        PauseAction::Resume { force } => {
            if !current.workers_paused {
                return Ok(Decision::Unchanged);
            }
            let warning = (!metrics.is_drained).then(|| {
                format!(
                    "Resumed before the fleet drained: {} running and {} stale-running job(s) were still in flight.",
                    metrics.running, metrics.stale_running
                )
            });
            let state = PauseState {
                workers_paused: false,
                mode: None,
                reason: Some(reason.clone()),
                requested_by: Some(actor.to_string()),
                requested_at: Some(now),
                paused_at: current.paused_at,
                resumed_at: Some(now),
                updated_at: now,
                version,
                until: None,
            };
            let force_resume = force || !metrics.is_drained;
            (state, force_resume, warning, current.mode)
        }
    };
    let event = NewControlEvent {
        action: cmd.action.name().to_string(),
        mode,
        reason,
        actor: actor.to_string(),
        force_resume,
        metrics,
        version,
        success: true,
        request_id: cmd.request_id.clone(),
        created_at: now,
        targets: Vec::new(),
        details: state
            .until
            .map(|t| serde_json::json!({ "until": t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true) })),
        queue: None,
    };
    Ok(Decision::Changed {
        state,
        event,
        warning,
    })
}

/// The resume that ends a timed pause, once its time has come, parsed
/// like any other request.
///
/// Every server replica may propose it; `expectedVersion` and a request id
/// derived from the version make exactly one of them apply it, and an
/// operator's own change in the meantime (a new version) cancels it.
pub fn timed_resume(state: &PauseState, now: DateTime<Utc>) -> Option<PauseCommand> {
    let until = state.until.filter(|u| state.workers_paused && *u <= now)?;
    let reason = format!(
        "timed pause ended (until {})",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let req = wire::PauseRequest {
        action: Some("resume".into()),
        reason: Some(reason),
        expected_version: Some(state.version),
        ..Default::default()
    };
    // The id is set after parsing: its prefix is reserved to the server.
    let mut cmd = PauseCommand::parse(req).ok()?;
    cmd.request_id = Some(format!("timed-resume-v{}", state.version));
    Some(cmd)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed moment, `secs` after it.
    pub(crate) fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// A request body, parsed.
    pub(crate) fn cmd(json: serde_json::Value) -> PauseCommand {
        PauseCommand::parse(serde_json::from_value(json).unwrap()).unwrap()
    }

    fn drained() -> DrainMetrics {
        DrainMetrics::new(3, 0, 0)
    }

    fn changed(d: Decision) -> (PauseState, NewControlEvent, Option<String>) {
        match d {
            Decision::Changed {
                state,
                event,
                warning,
            } => (state, event, warning),
            Decision::Unchanged => panic!("expected a change"),
        }
    }

    #[test]
    fn pause_bumps_version_and_records_actor() {
        let s0 = PauseState::initial(t(0));
        let c = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}));
        let (s1, ev, warn) = changed(decide(&s0, drained(), &c, "alice", t(5)).unwrap());
        assert!(s1.workers_paused);
        assert_eq!(s1.mode, Some(PauseMode::Drain));
        assert_eq!(s1.version, 2);
        assert_eq!(s1.requested_by.as_deref(), Some("alice"));
        assert_eq!(s1.paused_at, Some(t(5)));
        assert_eq!(ev.version, 2);
        assert_eq!(ev.action, "pause");
        assert!(!ev.force_resume);
        assert!(warn.is_none());
    }

    #[test]
    fn a_timed_pause_keeps_its_end_and_a_resume_clears_it() {
        let s0 = PauseState::initial(t(0));
        let c = cmd(
            serde_json::json!({"action":"pause","mode":"drain","reason":"deploy",
            "until": "2027-01-15T08:00:00+01:00"}),
        );
        let end = DateTime::parse_from_rfc3339("2027-01-15T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            c.action,
            PauseAction::Pause {
                mode: PauseMode::Drain,
                until: Some(end)
            }
        );
        let (s1, ev, _) = changed(decide(&s0, drained(), &c, "alice", t(5)).unwrap());
        assert_eq!(s1.until, Some(end));
        assert_eq!(
            ev.details,
            Some(serde_json::json!({"until": "2027-01-15T07:00:00Z"}))
        );
        // The same pause again changes nothing; without `until` it becomes
        // an open-ended pause (a change).
        assert_eq!(
            decide(&s1, drained(), &c, "bob", t(6)).unwrap(),
            Decision::Unchanged
        );
        let open = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}));
        let (s2, ev2, _) = changed(decide(&s1, drained(), &open, "bob", t(7)).unwrap());
        assert_eq!((s2.until, s2.version, ev2.details), (None, 3, None));
        let (s3, _, _) = changed(
            decide(
                &s1,
                drained(),
                &cmd(serde_json::json!(
                    {"action":"resume","reason":"done early"}
                )),
                "bob",
                t(8),
            )
            .unwrap(),
        );
        assert_eq!(s3.until, None);
    }

    #[test]
    fn a_timed_pause_ends_with_a_fenced_idempotent_resume_once_due() {
        let mut s = PauseState::initial(t(0));
        assert!(timed_resume(&s, t(100)).is_none(), "running");
        s.workers_paused = true;
        s.mode = Some(PauseMode::Drain);
        s.version = 7;
        assert!(timed_resume(&s, t(100)).is_none(), "no end set");
        s.until = Some(t(60));
        assert!(timed_resume(&s, t(59)).is_none(), "not yet");
        let c = timed_resume(&s, t(60)).expect("due");
        assert_eq!(c.action, PauseAction::Resume { force: false });
        assert_eq!(c.expected_version, Some(7));
        assert_eq!(c.request_id.as_deref(), Some("timed-resume-v7"));
        assert!(c.reason.as_str().starts_with("timed pause ended (until "));
        let (after, ev, _) = changed(decide(&s, drained(), &c, "system", t(61)).unwrap());
        assert!(!after.workers_paused && after.until.is_none());
        assert_eq!(
            (ev.action.as_str(), ev.actor.as_str()),
            ("resume", "system")
        );
        // Another replica proposing the same resume after it applied: refused.
        assert!(matches!(
            decide(&after, drained(), &c, "system", t(62)),
            Err(DecideError::VersionConflict { .. })
        ));
    }

    #[test]
    fn repeated_identical_pause_is_a_no_op() {
        let s0 = PauseState::initial(t(0));
        let c = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}));
        let (s1, _, _) = changed(decide(&s0, drained(), &c, "alice", t(5)).unwrap());
        assert_eq!(
            decide(&s1, drained(), &c, "bob", t(9)).unwrap(),
            Decision::Unchanged
        );
    }

    #[test]
    fn changing_mode_or_reason_while_paused_is_a_change_that_keeps_paused_at() {
        let s0 = PauseState::initial(t(0));
        let c = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}));
        let (s1, _, _) = changed(decide(&s0, drained(), &c, "alice", t(5)).unwrap());
        let q = cmd(serde_json::json!({"action":"pause","mode":"quiesce","reason":"deploy"}));
        let (s2, ev, _) = changed(decide(&s1, drained(), &q, "alice", t(9)).unwrap());
        assert_eq!(s2.version, 3);
        assert_eq!(s2.mode, Some(PauseMode::Quiesce));
        assert_eq!(s2.paused_at, Some(t(5)));
        assert_eq!(ev.mode, Some(PauseMode::Quiesce));
        let r = cmd(serde_json::json!({"action":"pause","mode":"quiesce","reason":"other"}));
        let (s3, _, _) = changed(decide(&s2, drained(), &r, "alice", t(10)).unwrap());
        assert_eq!(s3.version, 4);
    }

    #[test]
    fn resume_while_running_is_a_no_op() {
        let s0 = PauseState::initial(t(0));
        let c = cmd(serde_json::json!({"action":"resume","reason":"done"}));
        assert_eq!(
            decide(&s0, drained(), &c, "alice", t(1)).unwrap(),
            Decision::Unchanged
        );
    }

    #[test]
    fn resume_before_drained_warns_and_records_force_resume() {
        let s0 = PauseState::initial(t(0));
        let p = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"deploy"}));
        let (s1, _, _) = changed(decide(&s0, drained(), &p, "alice", t(1)).unwrap());
        let busy = DrainMetrics::new(0, 2, 1);
        let r = cmd(serde_json::json!({"action":"resume","reason":"done"}));
        let (s2, ev, warn) = changed(decide(&s1, busy, &r, "bob", t(2)).unwrap());
        assert!(!s2.workers_paused);
        assert_eq!(s2.mode, None);
        assert_eq!(s2.resumed_at, Some(t(2)));
        assert!(ev.force_resume);
        assert_eq!(ev.metrics, busy);
        assert_eq!(ev.mode, Some(PauseMode::Drain));
        assert!(warn.unwrap().contains("2 running"));
    }

    #[test]
    fn resume_when_drained_has_no_warning() {
        let s0 = PauseState::initial(t(0));
        let p = cmd(serde_json::json!({"action":"pause","mode":"quiesce","reason":"x"}));
        let (s1, _, _) = changed(decide(&s0, drained(), &p, "a", t(1)).unwrap());
        let r = cmd(serde_json::json!({"action":"resume","reason":"done"}));
        let (_, ev, warn) = changed(decide(&s1, drained(), &r, "a", t(2)).unwrap());
        assert!(warn.is_none());
        assert!(!ev.force_resume);
        let rf = cmd(serde_json::json!({"action":"resume","reason":"done","forceResume":true}));
        let (_, ev, _) = changed(decide(&s1, drained(), &rf, "a", t(2)).unwrap());
        assert!(
            ev.force_resume,
            "an explicit forceResume is recorded as sent"
        );
    }

    #[test]
    fn expected_version_mismatch_is_a_conflict() {
        let s0 = PauseState::initial(t(0));
        let c = cmd(
            serde_json::json!({"action":"pause","mode":"drain","reason":"x","expectedVersion":7}),
        );
        assert_eq!(
            decide(&s0, drained(), &c, "a", t(1)),
            Err(DecideError::VersionConflict {
                expected: 7,
                current: 1
            })
        );
        let ok = cmd(
            serde_json::json!({"action":"pause","mode":"drain","reason":"x","expectedVersion":1}),
        );
        assert!(decide(&s0, drained(), &ok, "a", t(1)).is_ok());
    }
}
