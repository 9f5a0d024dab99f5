//! The TUI's state machine, pure: [`State`] takes a [`Msg`] (a key, a
//! clock tick, an answer from the server) and returns the [`Effect`]s to
//! run (client calls); it never does I/O itself and reads the time only
//! from [`Msg::Tick`], so every behaviour is unit-tested without a
//! terminal or a server. Rendering ([`super::view`]) is a function of it;
//! the effects are run by [`super::io`], whose answers come back as
//! messages.
//!
//! Submodules: [`keys`] (what each key does per screen), [`dialog`] (the
//! confirmation dialogs and their steps: reason, typed phrase, force
//! resume), [`fleet`] (the workers table: sort, filter, cursor,
//! selection), [`queues`] (the named queues and their pauses), [`audit`]
//! (the paged control log), [`impact`] (what a dialog says an action will
//! do), [`format`] (ages, ETAs, times).

pub mod audit;
pub mod dialog;
pub mod fleet;
pub mod format;
pub mod impact;
mod keys;
pub mod queues;

#[cfg(test)]
pub mod fixtures;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::{
    ApiError, DrainView, EventsPage, FleetHealth, PauseRequest, QueueInfo, QueuePauseRequest,
    QueueResumeRequest, RollingRestart, RollingRestartCancelRequest, RollingRestartRequest,
    RolloutStatus, StreamMessage, WorkerActionRequest, WorkerActionResponse, WorkerInfo,
    WorkerPauseStatus,
};

pub use audit::Audit;
pub use dialog::Dialog;
pub use fleet::Fleet;
pub use queues::Queues;

/// A key, as the state machine knows it (the terminal's key events are
/// mapped to it in [`super::terminal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Ctrl-C: in raw mode it is a key, not a signal; it always quits.
    Interrupt,
}

/// The screens, in `tab` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Workers,
    /// The named queues: state, counts, pause and resume one.
    Queues,
    Audit,
}

impl Screen {
    pub const ALL: [Screen; 3] = [Screen::Workers, Screen::Queues, Screen::Audit];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Workers => "Workers",
            Screen::Queues => "Queues",
            Screen::Audit => "Audit",
        }
    }
}

/// Everything one refresh reads, fetched together so the screen never
/// mixes two moments.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub pause: WorkerPauseStatus,
    pub workers: Vec<WorkerInfo>,
    pub health: FleetHealth,
    pub drain: DrainView,
    pub queues: Vec<QueueInfo>,
}

/// A change the operator confirmed, as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Workers(WorkerActionRequest),
    Pause(PauseRequest),
    StartRollout(RollingRestartRequest),
    CancelRollout(Uuid, RollingRestartCancelRequest),
    PauseQueue(String, QueuePauseRequest),
    ResumeQueue(String, QueueResumeRequest),
}

/// What the server answered to a [`Request`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Workers(WorkerActionResponse),
    Pause(WorkerPauseStatus),
    Rollout(RollingRestart),
    Queue(QueueInfo),
}

/// Input to the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(Key),
    /// The clock, about once a second.
    Tick(DateTime<Utc>),
    /// The live stream (re)connected.
    StreamUp,
    /// The live stream is down (or could not be opened): why.
    StreamDown(String),
    Stream(StreamMessage),
    Snapshot(Result<Box<Snapshot>, String>),
    Events {
        before: Option<i64>,
        result: Result<EventsPage, String>,
    },
    /// Every rolling restart (at start: a running one is followed).
    Rollouts(Result<Vec<RollingRestart>, String>),
    Rollout(Result<RollingRestart, String>),
    /// The answer to the [`Effect::Send`] numbered `seq`.
    Done {
        seq: u64,
        result: Result<Outcome, ApiError>,
    },
}

/// A client call for [`super::io`] to make; its answer comes back as a
/// [`Msg`].
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Read a [`Snapshot`] → [`Msg::Snapshot`].
    Refresh,
    /// A page of the audit log → [`Msg::Events`].
    LoadEvents { before: Option<i64> },
    /// → [`Msg::Rollouts`].
    LoadRollouts,
    /// → [`Msg::Rollout`].
    LoadRollout(Uuid),
    /// → [`Msg::Done`] with the same `seq`.
    Send { seq: u64, request: Request },
}

/// How fresh the data is: the live stream, and the last refresh.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    pub stream: StreamLink,
    /// When a refresh last succeeded.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Why the last refresh failed (cleared by a success).
    pub refresh_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum StreamLink {
    #[default]
    Connecting,
    Up,
    Down(String),
}

impl Link {
    /// The header's connection label.
    pub fn label(&self) -> String {
        match (&self.stream, &self.refresh_error) {
            (_, Some(e)) => format!("✕ disconnected: {e}"),
            (StreamLink::Up, None) => "● live".into(),
            (StreamLink::Connecting, None) => "◌ connecting".into(),
            (StreamLink::Down(_), None) => "◌ polling (live stream down)".into(),
        }
    }
}

/// A one-line note under the screen: what the last action did.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// How often the workers are re-read without the live stream.
pub const POLL_EVERY: Duration = Duration::seconds(2);
/// After an action, the fleet is re-read every tick for this long, so the
/// targeted workers' states move on screen as the workers act.
pub const FOLLOW_FOR: Duration = Duration::seconds(30);
/// How long a flash stays.
const FLASH_FOR: Duration = Duration::seconds(15);

/// The whole TUI.
#[derive(Debug, Clone)]
pub struct State {
    /// As given (`--server`), for the header.
    pub server: String,
    /// The latest [`Msg::Tick`].
    pub now: DateTime<Utc>,
    pub screen: Screen,
    pub pause: Option<WorkerPauseStatus>,
    pub fleet: Fleet,
    pub queues: Queues,
    pub drain: Option<DrainView>,
    pub audit: Audit,
    /// The followed rolling restart (running, or how it ended).
    pub rollout: Option<RollingRestart>,
    pub dialog: Option<Dialog>,
    pub help: bool,
    pub flash: Option<Flash>,
    pub link: Link,
    /// Set by `q`: the app loop ends.
    pub quit: bool,
    next_seq: u64,
    refresh_in_flight: bool,
    refresh_started: Option<DateTime<Utc>>,
    rollout_in_flight: bool,
    /// Re-read every tick until then (after an action).
    follow_until: Option<DateTime<Utc>>,
}

impl State {
    pub fn new(server: impl Into<String>, now: DateTime<Utc>) -> State {
        State {
            server: server.into(),
            now,
            screen: Screen::Workers,
            pause: None,
            fleet: Fleet::default(),
            queues: Queues::default(),
            drain: None,
            audit: Audit::default(),
            rollout: None,
            dialog: None,
            help: false,
            flash: None,
            link: Link::default(),
            quit: false,
            next_seq: 1,
            refresh_in_flight: false,
            refresh_started: None,
            rollout_in_flight: false,
            follow_until: None,
        }
    }

    /// What to load first.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut effects = self.refresh();
        effects.push(Effect::LoadEvents { before: None });
        effects.push(Effect::LoadRollouts);
        effects
    }

    /// Takes one message; returns the calls to make.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Tick(now) => self.on_tick(now),
            Msg::StreamUp => {
                self.link.stream = StreamLink::Up;
                self.refresh()
            }
            Msg::StreamDown(why) => {
                self.link.stream = StreamLink::Down(why);
                // Polling takes over at once: is the server there at all?
                self.refresh()
            }
            Msg::Stream(m) => self.on_stream(m),
            Msg::Snapshot(result) => self.on_snapshot(result),
            Msg::Events { before, result } => {
                self.audit.loaded(before, result);
                Vec::new()
            }
            Msg::Rollouts(Ok(all)) => {
                if self.rollout.is_none() {
                    self.rollout = all.into_iter().find(|r| r.status == RolloutStatus::Running);
                }
                Vec::new()
            }
            Msg::Rollouts(Err(e)) | Msg::Rollout(Err(e)) => {
                self.rollout_in_flight = false;
                self.flash(Level::Error, format!("rolling restart: {e}"));
                Vec::new()
            }
            Msg::Rollout(Ok(r)) => {
                self.rollout_in_flight = false;
                self.rollout_progressed(r);
                Vec::new()
            }
            Msg::Done { seq, result } => self.on_done(seq, result),
        }
    }

    /// A [`Effect::Refresh`], unless one is in flight.
    fn refresh(&mut self) -> Vec<Effect> {
        if self.refresh_in_flight {
            return Vec::new();
        }
        self.refresh_in_flight = true;
        self.refresh_started = Some(self.now);
        vec![Effect::Refresh]
    }

    fn on_tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.now = now;
        if self.flash.as_ref().is_some_and(|f| now - f.at > FLASH_FOR) {
            self.flash = None;
        }
        let following = self.follow_until.is_some_and(|t| now < t);
        let since = self.refresh_started.map_or(Duration::MAX, |t| now - t);
        let due = if following {
            since >= Duration::seconds(1)
        } else {
            // With the stream up, its messages drive the refreshes.
            self.link.stream != StreamLink::Up && since >= POLL_EVERY
        };
        let mut effects = if due { self.refresh() } else { Vec::new() };
        if let Some(r) = &self.rollout {
            if r.status == RolloutStatus::Running && !self.rollout_in_flight {
                self.rollout_in_flight = true;
                effects.push(Effect::LoadRollout(r.id));
            }
        }
        effects
    }

    fn on_stream(&mut self, m: StreamMessage) -> Vec<Effect> {
        match m {
            StreamMessage::State { status } => self.pause = Some(*status),
            StreamMessage::Metrics { metrics, .. } => {
                if let Some(p) = &mut self.pause {
                    p.metrics = metrics;
                }
            }
        }
        // Workers are not on the stream: every message re-reads them, so
        // the table moves at the stream's pace.
        self.refresh()
    }

    fn on_snapshot(&mut self, result: Result<Box<Snapshot>, String>) -> Vec<Effect> {
        self.refresh_in_flight = false;
        let s = match result {
            Ok(s) => s,
            Err(e) => {
                self.link.refresh_error = Some(e);
                return Vec::new();
            }
        };
        self.link.refresh_error = None;
        self.link.refreshed_at = Some(self.now);
        let Snapshot {
            pause,
            workers,
            health,
            drain,
            queues,
        } = *s;
        let newest = pause.audit.latest.first().map(|e| e.id);
        self.pause = Some(pause);
        self.fleet.replace(workers, health.stale_after_seconds);
        self.queues.replace(queues);
        self.drain = Some(drain);
        // The first audit page follows the log while it is on screen.
        if self.screen == Screen::Audit && self.audit.is_stale(newest) {
            return vec![Effect::LoadEvents { before: None }];
        }
        Vec::new()
    }

    fn rollout_progressed(&mut self, r: RollingRestart) {
        let ended = r.status != RolloutStatus::Running
            && self
                .rollout
                .as_ref()
                .is_some_and(|o| o.id == r.id && o.status == RolloutStatus::Running);
        if ended {
            let level = match r.status {
                RolloutStatus::Done => Level::Info,
                _ => Level::Warn,
            };
            self.flash(level, format!("rolling restart {}", r.status.as_str()));
        }
        self.rollout = Some(r);
    }

    pub(crate) fn flash(&mut self, level: Level, text: impl Into<String>) {
        self.flash = Some(Flash {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    /// After a change: re-read the fleet every tick for a while.
    fn follow(&mut self) -> Vec<Effect> {
        self.follow_until = Some(self.now + FOLLOW_FOR);
        // One in flight already: the next tick sends the next one.
        self.refresh()
    }
}
