//! Pause and resume requests, parsed ([`PauseCommand::parse`]): the REST
//! body, the dashboard's, and what the runbook's calls and the end of a
//! timed pause make into a [`wire::PauseRequest`] — one parser for all.

use chrono::{DateTime, Utc};
use wire::PauseMode;

use super::input::{parse_identifier, FieldError, Reason};

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseAction {
    /// `until`: a timed pause, which ends by itself at that time.
    Pause {
        mode: PauseMode,
        until: Option<DateTime<Utc>>,
    },
    /// `force`: the operator acknowledged resuming before the drain finished.
    Resume { force: bool },
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

/// Request id prefixes the server uses for its own transitions (the end of
/// a timed pause): a client that could claim one could stop a timed pause
/// from ever ending.
pub const RESERVED_REQUEST_ID_PREFIXES: &[&str] = &["timed-resume-"];

impl PauseCommand {
    /// What the request asks for, on which target (`None`: the fleet), as
    /// a digest: a request id replays only a request with the same one.
    /// The id itself is not part of it.
    pub fn fingerprint(&self, queue: Option<&str>) -> String {
        use sha2::{Digest, Sha256};
        let (mode, until, force) = match self.action {
            PauseAction::Pause { mode, until } => (
                Some(mode.as_str()),
                until.map(|u| u.timestamp_millis()),
                None,
            ),
            PauseAction::Resume { force } => (None, None, Some(force)),
        };
        let canonical = serde_json::json!({
            "queue": queue,
            "action": self.action.name(),
            "mode": mode,
            "until": until,
            "force": force,
            "reason": self.reason.as_str(),
            "expectedVersion": self.expected_version,
        });
        format!("{:x}", Sha256::digest(canonical.to_string().as_bytes()))
    }

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
                let until = match req.until.as_deref() {
                    None => None,
                    Some(t) => Some(
                        DateTime::parse_from_rfc3339(t.trim())
                            .map_err(|_| {
                                FieldError::new(
                                    "until",
                                    format!(
                                        "until must be an RFC 3339 time such as 2026-11-22T18:00:00Z, not {t:?}"
                                    ),
                                )
                            })?
                            .with_timezone(&Utc),
                    ),
                };
                PauseAction::Pause { mode, until }
            }
            Some("resume") => {
                if req.mode.is_some() {
                    return Err(FieldError::new("mode", "mode applies only to pause"));
                }
                if req.until.is_some() {
                    return Err(FieldError::new("until", "until applies only to pause"));
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
            Some(raw) => {
                let id = parse_identifier("requestId", Some(raw))?;
                if let Some(prefix) = RESERVED_REQUEST_ID_PREFIXES
                    .iter()
                    .find(|p| id.starts_with(*p))
                {
                    return Err(FieldError::new(
                        "requestId",
                        format!("request ids starting with {prefix:?} are reserved for the server"),
                    ));
                }
                Some(id)
            }
        };
        Ok(PauseCommand {
            action,
            reason,
            expected_version: req.expected_version,
            request_id,
        })
    }
}

/// A timed pause must end in the future (checked against the server's
/// clock when the request arrives).
pub fn check_until(cmd: &PauseCommand, now: DateTime<Utc>) -> Result<(), FieldError> {
    match cmd.action {
        PauseAction::Pause {
            until: Some(until), ..
        } if until <= now => Err(FieldError::new(
            "until",
            format!(
                "until must be in the future (the server's time is {})",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pause::tests::{cmd, t};

    #[test]
    fn until_must_be_a_future_rfc3339_time_on_a_pause() {
        let parse = |v: serde_json::Value| {
            PauseCommand::parse(serde_json::from_value(v).unwrap()).map_err(|e| e.field)
        };
        for bad in ["tomorrow", "2027-01-15", "2027-01-15T08:00:00", ""] {
            assert_eq!(
                parse(
                    serde_json::json!({"action":"pause","mode":"drain","reason":"r","until":bad})
                ),
                Err("until"),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(
                serde_json::json!({"action":"resume","reason":"r","until":"2027-01-15T08:00:00Z"})
            ),
            Err("until")
        );
        let at = |secs: i64| {
            cmd(
                serde_json::json!({"action":"pause","mode":"drain","reason":"r",
                "until": t(secs).to_rfc3339()}),
            )
        };
        assert!(check_until(&at(10), t(9)).is_ok());
        assert_eq!(
            check_until(&at(10), t(10)).map_err(|e| e.field),
            Err("until")
        );
        assert_eq!(
            check_until(&at(10), t(11)).map_err(|e| e.field),
            Err("until")
        );
        let plain = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"r"}));
        assert!(check_until(&plain, t(11)).is_ok());
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
