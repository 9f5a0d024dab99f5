//! The global pause as a state machine: given the current state, the drain
//! metrics and a parsed command, decide what changes. Storage applies the
//! decision atomically; this module never touches I/O.

use chrono::{DateTime, Utc};
use wire::{DrainMetrics, PauseMode, SystemBlock};

use super::input::{parse_identifier, FieldError, Reason};

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
        }
    }

    pub fn system_block(&self, pause_poll_interval_ms: u64) -> SystemBlock {
        SystemBlock {
            workers_paused: self.workers_paused,
            mode: self.mode,
            reason: self.reason.clone(),
            version: self.version,
            pause_poll_interval_ms,
        }
    }
}

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseAction {
    Pause {
        mode: PauseMode,
    },
    /// `force`: the operator acknowledged resuming before the drain finished.
    Resume {
        force: bool,
    },
}

impl PauseAction {
    pub fn name(self) -> &'static str {
        match self {
            PauseAction::Pause { .. } => "pause",
            PauseAction::Resume { .. } => "resume",
        }
    }
}

/// A validated pause/resume request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseCommand {
    pub action: PauseAction,
    pub reason: Reason,
    pub expected_version: Option<i64>,
    pub request_id: Option<String>,
}

impl PauseCommand {
    pub fn parse(req: wire::PauseRequest) -> Result<PauseCommand, FieldError> {
        let action = match req.action.as_deref() {
            None => return Err(FieldError::new("action", "action is required")),
            Some("pause") => {
                let mode = match req.mode.as_deref() {
                    None => {
                        return Err(FieldError::new(
                            "mode",
                            "mode is required for pause: \"drain\" or \"quiesce\"",
                        ))
                    }
                    Some(m) => PauseMode::parse(m).ok_or_else(|| {
                        FieldError::new(
                            "mode",
                            format!("unknown mode {m:?}: use \"drain\" or \"quiesce\""),
                        )
                    })?,
                };
                if req.force_resume.is_some() {
                    return Err(FieldError::new(
                        "forceResume",
                        "forceResume applies only to resume",
                    ));
                }
                PauseAction::Pause { mode }
            }
            Some("resume") => {
                if req.mode.is_some() {
                    return Err(FieldError::new("mode", "mode applies only to pause"));
                }
                PauseAction::Resume {
                    force: req.force_resume.unwrap_or(false),
                }
            }
            Some(other) => {
                return Err(FieldError::new(
                    "action",
                    format!("unknown action {other:?}: use \"pause\" or \"resume\""),
                ))
            }
        };
        let reason = Reason::parse(req.reason.as_deref())?;
        if let Some(v) = req.expected_version {
            if v < 1 {
                return Err(FieldError::new(
                    "expectedVersion",
                    "expectedVersion must be 1 or more",
                ));
            }
        }
        let request_id = match req.request_id.as_deref() {
            None => None,
            Some(raw) => Some(parse_identifier("requestId", Some(raw))?),
        };
        Ok(PauseCommand {
            action,
            reason,
            expected_version: req.expected_version,
            request_id,
        })
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
        PauseAction::Pause { mode } => {
            if current.workers_paused
                && current.mode == Some(mode)
                && current.reason.as_deref() == Some(reason.as_str())
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
        details: None,
    };
    Ok(Decision::Changed {
        state,
        event,
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn cmd(json: serde_json::Value) -> PauseCommand {
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

    #[test]
    fn parse_names_the_bad_field() {
        let cases = [
            (serde_json::json!({"mode":"drain","reason":"x"}), "action"),
            (serde_json::json!({"action":"stop","reason":"x"}), "action"),
            (serde_json::json!({"action":"pause","reason":"x"}), "mode"),
            (
                serde_json::json!({"action":"pause","mode":"nap","reason":"x"}),
                "mode",
            ),
            (
                serde_json::json!({"action":"pause","mode":"drain"}),
                "reason",
            ),
            (
                serde_json::json!({"action":"pause","mode":"drain","reason":"  "}),
                "reason",
            ),
            (
                serde_json::json!({"action":"resume","mode":"drain","reason":"x"}),
                "mode",
            ),
            (
                serde_json::json!({"action":"pause","mode":"drain","reason":"x","forceResume":true}),
                "forceResume",
            ),
            (
                serde_json::json!({"action":"pause","mode":"drain","reason":"x","expectedVersion":0}),
                "expectedVersion",
            ),
            (
                serde_json::json!({"action":"pause","mode":"drain","reason":"x","requestId":"a b"}),
                "requestId",
            ),
        ];
        for (json, field) in cases {
            let req: wire::PauseRequest = serde_json::from_value(json.clone()).unwrap();
            let err = PauseCommand::parse(req).unwrap_err();
            assert_eq!(err.field, field, "{json}");
        }
    }
}
