//! Named queues: queue names as requests give them, a queue's pause and
//! resume parsed, and the queue pause as a state machine — the global
//! pause's rules ([`super::decide`]) applied to one queue's jobs, with the
//! audit event saying which queue.

use chrono::{DateTime, Utc};
use wire::{DrainMetrics, PausedQueue};

use super::input::{parse_identifier, FieldError, Reason};
use super::pause::{decide, DecideError, Decision, PauseState};
use super::pause_command::{PauseAction, PauseCommand};

pub use wire::DEFAULT_QUEUE;

/// The most queues one claim may name.
pub const MAX_CLAIM_QUEUES: usize = 100;

/// A queue name: the characters of a job type (1–128 of
/// `[A-Za-z0-9._:@/-]`), so it is safe in a URL path, a Prometheus label
/// and a log line as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueName(String);

impl QueueName {
    /// Parses a queue named in `field`.
    pub fn parse(field: &'static str, raw: Option<&str>) -> Result<QueueName, FieldError> {
        parse_identifier(field, raw).map(QueueName)
    }

    /// An enqueue's `queue`: [`DEFAULT_QUEUE`] when absent.
    pub fn parse_or_default(raw: Option<&str>) -> Result<QueueName, FieldError> {
        match raw {
            None => Ok(QueueName(DEFAULT_QUEUE.to_string())),
            Some(_) => QueueName::parse("queue", raw),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The queues a claim takes from (`queues`): 1 to [`MAX_CLAIM_QUEUES`]
/// names, without repeats; absent means every queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNames(Vec<String>);

impl QueueNames {
    pub fn parse(raw: Option<&[String]>) -> Result<Option<QueueNames>, FieldError> {
        let Some(names) = raw else { return Ok(None) };
        if names.is_empty() {
            return Err(FieldError::new(
                "queues",
                "queues must not be empty when given (leave it out to claim from every queue)",
            ));
        }
        if names.len() > MAX_CLAIM_QUEUES {
            return Err(FieldError::new(
                "queues",
                format!("at most {MAX_CLAIM_QUEUES} queues"),
            ));
        }
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for n in names {
            let name = QueueName::parse("queues", Some(n))?.into_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        Ok(Some(QueueNames(out)))
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// A queue's pause state as stored: the global pause's shape
/// ([`PauseState`], `workers_paused` meaning "this queue is paused"), per
/// queue. A queue never paused is at [`PauseState::initial`] (version 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePause {
    pub name: String,
    pub state: PauseState,
}

impl QueuePause {
    /// As the `system` block lists it, when paused.
    pub fn paused_queue(&self) -> Option<PausedQueue> {
        paused_queue(&self.name, &self.state)
    }
}

/// A paused queue as the `system` block lists it (`None` while running).
pub fn paused_queue(name: &str, state: &PauseState) -> Option<PausedQueue> {
    match (state.workers_paused, state.mode) {
        (true, Some(mode)) => Some(PausedQueue {
            name: name.to_string(),
            mode,
            reason: state.reason.clone(),
            version: state.version,
        }),
        _ => None,
    }
}

/// A queue pause or resume, parsed: which queue, and the same command the
/// global pause takes (so `mode`, `reason`, `until`, `expectedVersion` and
/// `requestId` are checked by one parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePauseCommand {
    pub queue: QueueName,
    pub cmd: PauseCommand,
}

impl QueuePauseCommand {
    /// `POST /api/queues/{name}/pause`.
    pub fn pause(
        name: &str,
        req: wire::QueuePauseRequest,
    ) -> Result<QueuePauseCommand, FieldError> {
        let queue = QueueName::parse("name", Some(name))?;
        let cmd = PauseCommand::parse(wire::PauseRequest {
            action: Some("pause".into()),
            mode: req.mode,
            reason: req.reason,
            force_resume: None,
            expected_version: req.expected_version,
            request_id: req.request_id,
            until: req.until,
            dry_run: None,
        })?;
        Ok(QueuePauseCommand { queue, cmd })
    }

    /// `POST /api/queues/{name}/resume`.
    pub fn resume(
        name: &str,
        req: wire::QueueResumeRequest,
    ) -> Result<QueuePauseCommand, FieldError> {
        let queue = QueueName::parse("name", Some(name))?;
        let cmd = PauseCommand::parse(wire::PauseRequest {
            action: Some("resume".into()),
            mode: None,
            reason: req.reason,
            force_resume: req.force_resume,
            expected_version: req.expected_version,
            request_id: req.request_id,
            until: None,
            dry_run: None,
        })?;
        Ok(QueuePauseCommand { queue, cmd })
    }
}

/// The transition rules of a queue's pause: exactly the global pause's
/// ([`decide`]: a repeat changes nothing, another mode or reason is a new
/// version, a resume before the queue drained warns and records
/// `forceResume`), over the queue's own state and drain metrics. The audit
/// event is `queue.pause` / `queue.resume` and names the queue.
pub fn decide_queue(
    queue: &str,
    current: &PauseState,
    metrics: DrainMetrics,
    cmd: &PauseCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Decision, DecideError> {
    Ok(match decide(current, metrics, cmd, actor, now)? {
        Decision::Unchanged => Decision::Unchanged,
        Decision::Changed {
            state,
            mut event,
            warning,
        } => {
            event.action = format!("queue.{}", event.action);
            event.queue = Some(queue.to_string());
            Decision::Changed {
                state,
                event,
                warning: warning.map(|w| w.replacen("the fleet", &format!("queue {queue}"), 1)),
            }
        }
    })
}

/// The resume that ends a queue's timed pause, once its time has come.
/// Like [`super::timed_resume`]: every replica may propose it; the
/// expected version and a request id naming the queue and the version make
/// exactly one of them apply it.
pub fn timed_queue_resume(
    queue: &str,
    state: &PauseState,
    now: DateTime<Utc>,
) -> Option<PauseCommand> {
    let until = state.until.filter(|u| state.workers_paused && *u <= now)?;
    let reason = format!(
        "timed pause of queue {queue} ended (until {})",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Some(PauseCommand {
        action: PauseAction::Resume { force: false },
        reason: Reason::parse(Some(&reason)).ok()?,
        expected_version: Some(state.version),
        // Server-made, so not held to a client's identifier length.
        request_id: Some(format!("timed-resume-queue-v{}-{queue}", state.version)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pause::tests::{cmd, t};
    use wire::PauseMode;

    #[test]
    fn queue_names_are_identifiers_and_default_to_default() {
        assert_eq!(
            QueueName::parse_or_default(None).unwrap().as_str(),
            "default"
        );
        assert_eq!(
            QueueName::parse_or_default(Some("emails"))
                .unwrap()
                .as_str(),
            "emails"
        );
        for bad in ["", "a b", "ä", "x?y"] {
            assert_eq!(
                QueueName::parse_or_default(Some(bad)).unwrap_err().field,
                "queue",
                "{bad:?}"
            );
        }
        let names = |v: &[&str]| {
            QueueNames::parse(Some(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
        };
        assert_eq!(
            names(&["a", "b", "a"]).unwrap().map(QueueNames::into_vec),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(names(&[]).unwrap_err().field, "queues");
        assert_eq!(names(&["ok", "not ok"]).unwrap_err().field, "queues");
        assert_eq!(QueueNames::parse(None), Ok(None));
    }

    #[test]
    fn queue_requests_parse_like_the_global_pause() {
        let pause = |v: serde_json::Value| {
            QueuePauseCommand::pause("emails", serde_json::from_value(v).unwrap())
        };
        let ok = pause(serde_json::json!({"mode": "quiesce", "reason": "provider down"})).unwrap();
        assert_eq!(ok.queue.as_str(), "emails");
        assert!(matches!(
            ok.cmd.action,
            PauseAction::Pause {
                mode: PauseMode::Quiesce,
                until: None
            }
        ));
        assert_eq!(
            pause(serde_json::json!({"reason": "x"})).unwrap_err().field,
            "mode"
        );
        assert_eq!(
            pause(serde_json::json!({"mode": "drain"}))
                .unwrap_err()
                .field,
            "reason"
        );
        assert_eq!(
            pause(serde_json::json!({"mode": "drain", "reason": "x", "until": "soon"}))
                .unwrap_err()
                .field,
            "until"
        );
        let bad_name = QueuePauseCommand::pause(
            "a b",
            serde_json::from_value(serde_json::json!({"mode": "drain", "reason": "x"})).unwrap(),
        );
        assert_eq!(bad_name.unwrap_err().field, "name");
        let resume = QueuePauseCommand::resume(
            "emails",
            serde_json::from_value(serde_json::json!({"reason": "back", "forceResume": true}))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(resume.cmd.action, PauseAction::Resume { force: true });
    }

    #[test]
    fn a_queue_decision_is_the_global_rule_with_the_queue_named() {
        let s0 = PauseState::initial(t(0));
        let p = cmd(serde_json::json!({"action":"pause","mode":"drain","reason":"provider"}));
        let Decision::Changed { state, event, .. } =
            decide_queue("emails", &s0, DrainMetrics::new(4, 0, 0), &p, "ops", t(1)).unwrap()
        else {
            panic!("a change")
        };
        assert_eq!((state.workers_paused, state.version), (true, 2));
        assert_eq!(event.action, "queue.pause");
        assert_eq!(event.queue.as_deref(), Some("emails"));
        assert_eq!(event.metrics.queued, 4);
        assert_eq!(
            decide_queue("emails", &state, DrainMetrics::default(), &p, "ops", t(2)).unwrap(),
            Decision::Unchanged
        );
        let r = cmd(serde_json::json!({"action":"resume","reason":"back"}));
        let Decision::Changed { event, warning, .. } = decide_queue(
            "emails",
            &state,
            DrainMetrics::new(0, 2, 0),
            &r,
            "ops",
            t(3),
        )
        .unwrap() else {
            panic!("a change")
        };
        assert_eq!(event.action, "queue.resume");
        assert!(event.force_resume);
        assert!(warning.unwrap().contains("queue emails"));
    }

    #[test]
    fn a_timed_queue_pause_ends_with_a_fenced_resume_naming_the_queue() {
        let mut s = PauseState::initial(t(0));
        s.workers_paused = true;
        s.mode = Some(PauseMode::Drain);
        s.version = 4;
        assert!(timed_queue_resume("q", &s, t(100)).is_none(), "no end");
        s.until = Some(t(60));
        assert!(timed_queue_resume("q", &s, t(59)).is_none(), "not yet");
        let c = timed_queue_resume("q", &s, t(60)).unwrap();
        assert_eq!(c.expected_version, Some(4));
        assert_eq!(c.request_id.as_deref(), Some("timed-resume-queue-v4-q"));
        assert!(c.reason.as_str().contains("queue q"));
        let long = "x".repeat(128);
        assert!(timed_queue_resume(&long, &s, t(60)).is_some());
        assert_eq!(
            paused_queue("q", &s).map(|p| (p.mode, p.version)),
            Some((PauseMode::Drain, 4))
        );
        assert_eq!(paused_queue("q", &PauseState::initial(t(0))), None);
    }
}
