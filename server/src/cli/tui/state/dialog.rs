//! The confirmation dialogs: every action opens one that states its
//! impact ([`super::impact`]) and asks for a reason; `Enter` confirms,
//! `Esc` cancels. Two second steps come from the server's answers and the
//! fleet's state:
//! - a 409 `safety_check` (the action would leave too few workers) turns
//!   the dialog into "type the phrase", and the request is sent again
//!   with `confirm` set to it;
//! - a global resume (or a queue's) while jobs still run asks again, and
//!   only that second `Enter` sends `forceResume: true`.

use uuid::Uuid;
use wire::{
    ActionImpact, ApiError, PauseMode, PauseRequest, QueuePauseRequest, QueueResumeRequest,
    RollingRestartCancelRequest, RollingRestartRequest, RolloutStatus, WorkerActionKind,
    WorkerActionRequest,
};

use super::format::{count, eta, short};
use super::{Effect, Key, Level, Outcome, Request, State};

/// What the dialog will do.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogKind {
    /// `p`, `r`, `d` on the selected workers (or the one under the cursor).
    Workers {
        action: WorkerActionKind,
        ids: Vec<String>,
    },
    /// `R`: the selected workers, or all (`None`).
    Rollout { ids: Option<Vec<String>> },
    /// `P`: pause the whole fleet (or change the pause's mode/reason).
    Pause,
    /// `U`: resume the whole fleet.
    Resume,
    /// `c`: stop a running rolling restart.
    CancelRollout { id: Uuid },
    /// `p` on the Queues screen: pause one queue (or change its pause).
    PauseQueue { name: String },
    /// `r` on the Queues screen: resume one queue.
    ResumeQueue { name: String },
}

impl DialogKind {
    /// A resume, which asks again before it forces (jobs still running).
    fn is_resume(&self) -> bool {
        matches!(self, DialogKind::Resume | DialogKind::ResumeQueue { .. })
    }
}

/// Where the dialog is.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The impact, the reason (and mode / max unavailable).
    Form,
    /// The server refused with its safety rule: type `phrase` to override.
    Phrase {
        phrase: String,
        message: String,
        impact: Option<ActionImpact>,
    },
    /// The fleet (or the queue) has not drained: confirm resuming anyway.
    ForceResume,
}

/// An input of the dialog (`tab` moves between them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Mode,
    MaxUnavailable,
    Reason,
    Phrase,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dialog {
    pub kind: DialogKind,
    pub step: Step,
    pub focus: Field,
    pub reason: String,
    pub mode: PauseMode,
    /// Digits only; at least 1.
    pub max_unavailable: String,
    /// What the operator typed at the phrase step.
    pub typed: String,
    /// Why the last `Enter` did not go through.
    pub error: Option<String>,
    /// The request on its way (its `seq`); keys wait for the answer.
    pub sending: Option<u64>,
}

impl Dialog {
    pub fn new(kind: DialogKind) -> Dialog {
        Dialog {
            kind,
            step: Step::Form,
            focus: Field::Reason,
            reason: String::new(),
            mode: PauseMode::Drain,
            max_unavailable: "1".into(),
            typed: String::new(),
            error: None,
            sending: None,
        }
    }

    /// The inputs of the current step, in `tab` order.
    pub fn fields(&self) -> Vec<Field> {
        match (&self.step, &self.kind) {
            (Step::Phrase { .. }, _) => vec![Field::Phrase],
            (Step::ForceResume, _) => Vec::new(),
            (Step::Form, DialogKind::Pause | DialogKind::PauseQueue { .. }) => {
                vec![Field::Mode, Field::Reason]
            }
            (Step::Form, DialogKind::Rollout { .. }) => {
                vec![Field::MaxUnavailable, Field::Reason]
            }
            (Step::Form, _) => vec![Field::Reason],
        }
    }

    pub fn title(&self) -> String {
        if matches!(self.step, Step::Phrase { .. }) {
            return "Confirm: this would leave too few workers available".into();
        }
        match (&self.step, &self.kind) {
            (Step::ForceResume, DialogKind::ResumeQueue { name }) => {
                return format!("Resume queue {name} before it has drained?");
            }
            (Step::ForceResume, _) => return "Resume before the fleet has drained?".into(),
            _ => {}
        }
        match &self.kind {
            DialogKind::Workers { action, ids } => format!(
                "{} {}?",
                capitalised(action.as_str()),
                count(ids.len(), "worker", "workers")
            ),
            DialogKind::Rollout { ids: Some(ids) } => format!(
                "Rolling restart of {}?",
                count(ids.len(), "worker", "workers")
            ),
            DialogKind::Rollout { ids: None } => "Rolling restart of all workers?".into(),
            DialogKind::Pause => "Pause the fleet?".into(),
            DialogKind::Resume => "Resume the fleet?".into(),
            DialogKind::CancelRollout { id } => {
                format!("Cancel rolling restart {}?", short(&id.to_string()))
            }
            DialogKind::PauseQueue { name } => format!("Pause queue {name}?"),
            DialogKind::ResumeQueue { name } => format!("Resume queue {name}?"),
        }
    }

    /// Types into the focused input.
    fn type_char(&mut self, c: char) {
        match self.focus {
            Field::Reason => self.reason.push(c),
            Field::Phrase => self.typed.push(c),
            Field::MaxUnavailable if c.is_ascii_digit() && self.max_unavailable.len() < 4 => {
                self.max_unavailable.push(c)
            }
            Field::MaxUnavailable => {}
            Field::Mode => self.toggle_mode(),
        }
    }

    fn backspace(&mut self) {
        match self.focus {
            Field::Reason => drop(self.reason.pop()),
            Field::Phrase => drop(self.typed.pop()),
            Field::MaxUnavailable => drop(self.max_unavailable.pop()),
            Field::Mode => {}
        }
    }

    fn toggle_mode(&mut self) {
        self.mode = match self.mode {
            PauseMode::Drain => PauseMode::Quiesce,
            PauseMode::Quiesce => PauseMode::Drain,
        };
    }

    fn move_focus(&mut self, by: isize) {
        let fields = self.fields();
        if let Some(i) = fields.iter().position(|f| *f == self.focus) {
            let n = fields.len() as isize;
            self.focus = fields[((i as isize + by).rem_euclid(n)) as usize];
        }
    }

    /// The request of the form as typed, or why it cannot be sent.
    fn request(&self, confirm: Option<String>, force: bool) -> Result<Request, String> {
        let reason = self.reason.trim().to_string();
        let optional = matches!(self.kind, DialogKind::CancelRollout { .. });
        if reason.is_empty() && !optional {
            return Err("a reason is required (it goes to the audit log)".into());
        }
        Ok(match &self.kind {
            DialogKind::Workers { action, ids } => Request::Workers(WorkerActionRequest {
                action: Some(action.as_str().into()),
                worker_ids: Some(ids.clone()),
                reason: Some(reason),
                confirm,
                dry_run: None,
            }),
            DialogKind::Rollout { ids } => {
                let max = self
                    .max_unavailable
                    .parse::<u32>()
                    .ok()
                    .filter(|m| *m >= 1)
                    .ok_or("max unavailable must be a number of at least 1")?;
                Request::StartRollout(RollingRestartRequest {
                    worker_ids: ids.clone(),
                    all: ids.is_none().then_some(true),
                    max_unavailable: Some(max),
                    reason: Some(reason),
                    deadline_seconds: None,
                    confirm,
                })
            }
            DialogKind::Pause => Request::Pause(PauseRequest::pause(self.mode, reason)),
            DialogKind::Resume => Request::Pause(PauseRequest::resume(reason, force)),
            DialogKind::CancelRollout { id } => Request::CancelRollout(
                *id,
                RollingRestartCancelRequest {
                    reason: (!reason.is_empty()).then_some(reason),
                },
            ),
            DialogKind::PauseQueue { name } => Request::PauseQueue(
                name.clone(),
                QueuePauseRequest {
                    mode: Some(self.mode.as_str().into()),
                    reason: Some(reason),
                    ..Default::default()
                },
            ),
            DialogKind::ResumeQueue { name } => Request::ResumeQueue(
                name.clone(),
                QueueResumeRequest {
                    reason: Some(reason),
                    force_resume: force.then_some(true),
                    ..Default::default()
                },
            ),
        })
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl State {
    /// Opens a dialog (replacing none: only one is open at a time).
    pub(super) fn open(&mut self, kind: DialogKind) {
        let mut d = Dialog::new(kind);
        // A pause dialog starts at the mode in force (changing a pause's
        // mode is a pause too).
        let mode = match &d.kind {
            DialogKind::Pause => self.pause.as_ref().and_then(|p| p.mode),
            DialogKind::PauseQueue { name } => self.queues.get(name).and_then(|q| q.mode),
            _ => None,
        };
        d.mode = mode.unwrap_or(PauseMode::Drain);
        d.focus = d.fields().last().copied().unwrap_or(Field::Reason);
        self.dialog = Some(d);
    }

    pub(super) fn dialog_key(&mut self, key: Key) -> Vec<Effect> {
        let Some(d) = self.dialog.as_ref() else {
            return Vec::new();
        };
        // What a resume would leave running: the fleet's jobs, or the
        // queue's.
        let drained = match &d.kind {
            DialogKind::ResumeQueue { name } => self.queues.get(name).is_none_or(|q| q.is_drained),
            _ => self.pause.as_ref().is_none_or(|p| p.metrics.is_drained),
        };
        let Some(d) = self.dialog.as_mut() else {
            return Vec::new();
        };
        if key == Key::Esc {
            self.dialog = None;
            return Vec::new();
        }
        if d.sending.is_some() {
            return Vec::new();
        }
        match key {
            Key::Enter => return self.confirm(drained),
            Key::Tab | Key::Down => d.move_focus(1),
            Key::BackTab | Key::Up => d.move_focus(-1),
            Key::Left | Key::Right if d.focus == Field::Mode => d.toggle_mode(),
            Key::Backspace => d.backspace(),
            Key::Char(c) => d.type_char(c),
            _ => {}
        }
        Vec::new()
    }

    /// `Enter`: the next step, or the request.
    fn confirm(&mut self, drained: bool) -> Vec<Effect> {
        let seq = self.next_seq;
        let Some(d) = self.dialog.as_mut() else {
            return Vec::new();
        };
        let request = match d.step.clone() {
            Step::Phrase { phrase, .. } if d.typed.trim() != phrase.as_str() => {
                d.error = Some(format!("type the phrase exactly: {phrase}"));
                return Vec::new();
            }
            Step::Phrase { phrase, .. } => d.request(Some(phrase), false),
            Step::ForceResume => d.request(None, true),
            Step::Form if d.kind.is_resume() && !drained => {
                // Checked first, so the second step is only for a form
                // that could be sent.
                match d.request(None, false) {
                    Ok(_) => {
                        d.step = Step::ForceResume;
                        d.error = None;
                        return Vec::new();
                    }
                    Err(e) => Err(e),
                }
            }
            Step::Form => d.request(None, false),
        };
        match request {
            Ok(request) => {
                d.sending = Some(seq);
                d.error = None;
                self.next_seq += 1;
                vec![Effect::Send { seq, request }]
            }
            Err(e) => {
                d.error = Some(e);
                Vec::new()
            }
        }
    }

    /// The answer to a confirmed request.
    pub(super) fn on_done(&mut self, seq: u64, result: Result<Outcome, ApiError>) -> Vec<Effect> {
        let mine = self.dialog.as_ref().is_some_and(|d| d.sending == Some(seq));
        match result {
            Ok(outcome) => {
                if mine {
                    self.dialog = None;
                }
                self.applied(outcome);
                self.follow()
            }
            Err(e) if !mine => {
                self.flash(Level::Error, e.to_string());
                Vec::new()
            }
            Err(ApiError::SafetyRefused {
                message,
                impact,
                confirm_phrase: Some(phrase),
            }) => {
                if let Some(d) = self.dialog.as_mut() {
                    d.step = Step::Phrase {
                        phrase,
                        message,
                        impact,
                    };
                    d.focus = Field::Phrase;
                    d.typed.clear();
                    d.sending = None;
                    d.error = None;
                }
                Vec::new()
            }
            Err(e) => {
                if let Some(d) = self.dialog.as_mut() {
                    d.sending = None;
                    d.error = Some(e.to_string());
                }
                Vec::new()
            }
        }
    }

    /// What an applied change does to the screen at once (the refresh that
    /// follows brings the rest).
    fn applied(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Workers(r) => {
                let ids: Vec<&str> = r.results.iter().map(|w| w.worker_id.as_str()).collect();
                let mut text = format!(
                    "{}: {} ({})",
                    r.action.as_str(),
                    count(ids.len(), "worker", "workers"),
                    ids.join(", ")
                );
                match r.eta_seconds {
                    Some(s) if s < 1.0 => text.push_str(" · idle now"),
                    Some(s) => text.push_str(&format!(" · idle in {}", eta(s))),
                    None => {}
                }
                if r.override_used {
                    text.push_str(" · safety rule overridden");
                }
                self.flash(Level::Info, text);
            }
            Outcome::Pause(status) => {
                let text = match &status.warning {
                    Some(w) => format!("resumed: {w}"),
                    None if status.workers_paused => format!(
                        "paused ({}) · version {}",
                        status.mode.map(|m| m.as_str()).unwrap_or("?"),
                        status.version
                    ),
                    None => format!("resumed · version {}", status.version),
                };
                let level = if status.warning.is_some() {
                    Level::Warn
                } else {
                    Level::Info
                };
                self.flash(level, text);
                self.pause = Some(status);
            }
            Outcome::Rollout(r) => {
                let text = if r.status == RolloutStatus::Cancelled {
                    "rolling restart cancelled: no further drains".to_string()
                } else {
                    format!(
                        "rolling restart {} started: {}, at most {} at a time",
                        short(&r.id.to_string()),
                        count(r.workers.len(), "worker", "workers"),
                        r.max_unavailable
                    )
                };
                self.flash(Level::Info, text);
                self.rollout = Some(r);
            }
            Outcome::Queue(q) => {
                let (level, text) = match &q.warning {
                    Some(w) => (Level::Warn, format!("queue {} resumed: {w}", q.name)),
                    None if q.paused => (
                        Level::Info,
                        format!(
                            "queue {} paused ({}) · version {}",
                            q.name,
                            q.mode.map(|m| m.as_str()).unwrap_or("?"),
                            q.version
                        ),
                    ),
                    None => (
                        Level::Info,
                        format!("queue {} resumed · version {}", q.name, q.version),
                    ),
                };
                self.flash(level, text);
                self.queues.update(q);
            }
        }
    }
}
