//! The maintenance runbook's pause and resume (`/scheduler/pause`,
//! `/scheduler/resume`): a bare call means a drain with a default reason,
//! made into a [`wire::PauseRequest`] and parsed like any other
//! ([`PauseCommand::parse`](super::PauseCommand::parse)).

use wire::PauseMode;

use super::input::{FieldError, Reason};
use super::pause::PauseState;

/// A `/scheduler/pause` or `/scheduler/resume` call. The runbook sends no
/// body: a pause then means drain with a default reason, and repeating it
/// while paused changes nothing (whatever pause is in force stays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerCommand {
    pub pause: bool,
    pub mode: Option<PauseMode>,
    pub reason: Option<Reason>,
}

impl SchedulerCommand {
    pub fn parse(
        pause: bool,
        body: wire::runbook::SchedulerActionRequest,
    ) -> Result<SchedulerCommand, FieldError> {
        let mode = match body.mode.as_deref() {
            None => None,
            Some(_) if !pause => return Err(FieldError::new("mode", "mode applies only to pause")),
            Some(m) => Some(PauseMode::parse(m).ok_or_else(|| {
                FieldError::new(
                    "mode",
                    format!("unknown mode {m:?}: use \"drain\" or \"quiesce\""),
                )
            })?),
        };
        let reason = body
            .reason
            .as_deref()
            .map(|r| Reason::parse(Some(r)))
            .transpose()?;
        Ok(SchedulerCommand {
            pause,
            mode,
            reason,
        })
    }

    /// The pause/resume request this call makes of the `current` state,
    /// or `None` when it asks for nothing (a bare pause while paused).
    pub fn request(&self, current: &PauseState) -> Option<wire::PauseRequest> {
        let reason = |default: &str| {
            let r = self.reason.as_ref().map_or(default, Reason::as_str);
            Some(r.to_string())
        };
        if !self.pause {
            return Some(wire::PauseRequest {
                action: Some("resume".into()),
                reason: reason("resumed via /scheduler/resume"),
                ..Default::default()
            });
        }
        if current.workers_paused && self.mode.is_none() && self.reason.is_none() {
            return None;
        }
        // A pause from the runbook is open-ended, in the mode asked for, else
        // the one in force, else drain.
        let mode = self.mode.or(current.mode).unwrap_or(PauseMode::Drain);
        Some(wire::PauseRequest {
            action: Some("pause".into()),
            mode: Some(mode.as_str().into()),
            reason: reason("paused via /scheduler/pause"),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pause::tests::t;
    use crate::domain::{PauseAction, PauseCommand};

    #[test]
    fn the_runbooks_calls_become_pause_requests_with_defaults() {
        let body =
            |mode: Option<&str>, reason: Option<&str>| wire::runbook::SchedulerActionRequest {
                mode: mode.map(str::to_string),
                reason: reason.map(str::to_string),
            };
        let mut state = PauseState::initial(t(0));
        let bare = SchedulerCommand::parse(true, body(None, None)).unwrap();
        let req = bare.request(&state).unwrap();
        let parsed = PauseCommand::parse(req).unwrap();
        assert_eq!(
            parsed.action,
            PauseAction::Pause {
                mode: PauseMode::Drain,
                until: None
            }
        );
        assert_eq!(parsed.reason.as_str(), "paused via /scheduler/pause");
        state.workers_paused = true;
        state.mode = Some(PauseMode::Quiesce);
        assert_eq!(bare.request(&state), None, "a bare pause while paused");
        let reasoned = SchedulerCommand::parse(true, body(None, Some("db"))).unwrap();
        let req = PauseCommand::parse(reasoned.request(&state).unwrap()).unwrap();
        assert_eq!(
            req.action,
            PauseAction::Pause {
                mode: PauseMode::Quiesce,
                until: None
            },
            "keeps the mode in force"
        );
        let resume = SchedulerCommand::parse(false, body(None, None)).unwrap();
        let req = PauseCommand::parse(resume.request(&state).unwrap()).unwrap();
        assert_eq!(req.action, PauseAction::Resume { force: false });
        assert_eq!(req.reason.as_str(), "resumed via /scheduler/resume");
        let err = |pause, b| SchedulerCommand::parse(pause, b).unwrap_err().field;
        assert_eq!(err(false, body(Some("drain"), None)), "mode");
        assert_eq!(err(true, body(Some("nap"), None)), "mode");
        assert_eq!(err(true, body(None, Some("  "))), "reason");
    }
}
