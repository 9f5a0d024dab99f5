//! The dashboard's shared state: the pause status, the drain metrics, the
//! drain view, the health of the live connection and the session, in one
//! `Copy` handle every component reads from context. What only one page
//! shows (the fleet, the jobs, the audit pages) is that page's own.
//!
//! Updates are version-aware: a status replaces the current one only when
//! its version differs, and metrics only when they changed, so a stream tick
//! or a poll that brings nothing new re-renders nothing (Leptos signals
//! notify on every `set`, equal or not).

use leptos::prelude::*;
use wire::{DashboardConfig, DrainMetrics, DrainView, PauseAcknowledgement, WorkerPauseStatus};

/// How fresh the page's data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Starting up: the stream has neither opened nor failed yet.
    Connecting,
    /// The server-sent event stream is open: changes arrive as they happen.
    Live,
    /// The stream is down but polling works: data is at most one poll
    /// interval old.
    Polling,
    /// Neither the stream nor polling reaches the server: what the page
    /// shows may be stale.
    Disconnected,
}

/// The handle to the shared state; provided as context by [`crate::App`].
#[derive(Clone, Copy)]
pub struct Dashboard {
    status: RwSignal<Option<WorkerPauseStatus>>,
    metrics: RwSignal<Option<DrainMetrics>>,
    /// Which workers have applied the version on screen: it moves without
    /// a new version (as workers report), so it has its own signal.
    ack: RwSignal<Option<PauseAcknowledgement>>,
    /// The drain card's data (blocking jobs, history, ETA), when loaded.
    pub drain: RwSignal<Option<DrainView>>,
    pub link: RwSignal<Link>,
    /// Milliseconds since the epoch, ticking every few seconds: drives the
    /// "3 min ago" texts and nothing else.
    pub now_ms: RwSignal<i64>,
    pub config: StoredValue<DashboardConfig>,
    /// Who is signed in (token mode), and so which controls are shown.
    pub session: RwSignal<Session>,
}

/// The sign-in state. In `disabled` auth mode the local user is signed in as
/// an operator from the start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The server runs with `--auth token`: the page has a sign-in form.
    pub token_mode: bool,
    /// `GET /auth/me` has answered (always true in disabled mode).
    pub known: bool,
    pub signed_in: bool,
    pub name: String,
    /// `viewer`, `worker` or `operator`.
    pub role: String,
}

impl Session {
    pub fn for_mode(auth_mode: &str) -> Self {
        if auth_mode == "token" {
            Session {
                token_mode: true,
                ..Default::default()
            }
        } else {
            Session {
                token_mode: false,
                known: true,
                signed_in: true,
                name: "local".into(),
                role: "operator".into(),
            }
        }
    }

    /// Only operators see the controls that change state (a `worker` token
    /// is not meant for the dashboard: it reads like a viewer).
    pub fn can_write(&self) -> bool {
        self.signed_in && self.role == "operator"
    }

    /// The sign-in form is what the page shows.
    pub fn needs_sign_in(&self) -> bool {
        self.token_mode && self.known && !self.signed_in
    }
}

impl Dashboard {
    pub fn new(config: DashboardConfig) -> Self {
        Dashboard {
            status: RwSignal::new(None),
            metrics: RwSignal::new(None),
            ack: RwSignal::new(None),
            drain: RwSignal::new(None),
            link: RwSignal::new(Link::Connecting),
            now_ms: RwSignal::new(crate::clock::now_ms()),
            session: RwSignal::new(Session::for_mode(&config.auth_mode)),
            config: StoredValue::new(config),
        }
    }

    /// The pause status; changes only when its version does.
    pub fn status(&self) -> ReadSignal<Option<WorkerPauseStatus>> {
        self.status.read_only()
    }

    /// The latest drain metrics (from the status, stream ticks or polls).
    pub fn metrics(&self) -> ReadSignal<Option<DrainMetrics>> {
        self.metrics.read_only()
    }

    /// The acknowledgement of the version on screen (the banner's "Applied
    /// by N of M workers").
    pub fn ack(&self) -> ReadSignal<Option<PauseAcknowledgement>> {
        self.ack.read_only()
    }

    /// Whether some online worker has not applied the version on screen
    /// yet (the page then polls for the acknowledgement), untracked.
    pub fn ack_pending_untracked(&self) -> bool {
        self.ack
            .with_untracked(|a| a.as_ref().is_some_and(|a| !a.complete))
    }

    /// The version the page currently shows, without tracking.
    pub fn version_untracked(&self) -> Option<i64> {
        self.status
            .with_untracked(|s| s.as_ref().map(|s| s.version))
    }

    /// Takes a status from the stream, a poll or an action's answer.
    /// Returns whether it was new.
    pub fn apply_status(&self, status: WorkerPauseStatus) -> bool {
        let metrics = status.metrics;
        // A dry run's answer describes the state as it is: nothing new.
        if status.impact.is_some() {
            return false;
        }
        let ack = status.acknowledgement.clone();
        if ack.is_some() && self.ack.with_untracked(|a| *a != ack) {
            self.ack.set(ack);
        }
        let new = self
            .status
            .with_untracked(|old| is_new_version(old.as_ref(), status.version));
        if new {
            self.status.set(Some(status));
        }
        self.apply_metrics(metrics);
        new
    }

    /// Takes drain metrics; a no-op when they are unchanged.
    pub fn apply_metrics(&self, metrics: DrainMetrics) {
        if self.metrics.with_untracked(|m| *m != Some(metrics)) {
            self.metrics.set(Some(metrics));
        }
    }

    /// Takes a drain view; a no-op when it is unchanged.
    pub fn apply_drain(&self, view: DrainView) {
        if self.drain.with_untracked(|d| d.as_ref() != Some(&view)) {
            self.drain.set(Some(view));
        }
    }

    /// Whether the person may change state (shows the controls).
    pub fn can_write(&self) -> bool {
        self.session.with(Session::can_write)
    }

    /// Signed in (or no sign-in needed), tracked: the page shows its content.
    pub fn signed_in(&self) -> bool {
        self.session.with(|s| s.signed_in)
    }

    /// The version the page shows, tracked (changes once per version).
    pub fn version(&self) -> Option<i64> {
        self.status.with(|s| s.as_ref().map(|s| s.version))
    }

    /// Signed in (or no sign-in needed): the page may call the server.
    pub fn signed_in_untracked(&self) -> bool {
        self.session.with_untracked(|s| s.signed_in)
    }

    /// Sets the link health; a no-op when it is unchanged.
    pub fn set_link(&self, link: Link) {
        if self.link.get_untracked() != link {
            self.link.set(link);
        }
    }
}

/// Whether a status at `version` should replace `current`. Any difference
/// counts, not only a greater version: a server restored from a backup may
/// legitimately count from a lower one.
pub fn is_new_version(current: Option<&WorkerPauseStatus>, version: i64) -> bool {
    current.is_none_or(|c| c.version != version)
}

/// Used when the page has no injected config (e.g. opened from `trunk serve`).
pub fn default_config() -> DashboardConfig {
    DashboardConfig {
        pause_endpoint: "/api/system/worker-pause".into(),
        events_endpoint: "/api/system/worker-pause/events".into(),
        stream_endpoint: "/api/system/worker-pause/stream".into(),
        poll_interval_ms: 2000,
        metrics_tick_ms: 2000,
        stale_after_ms: 7000,
        auth_mode: "disabled".into(),
    }
}

/// The config the server injected into the page as
/// `<script id="lull-config" type="application/json">`, if readable.
pub fn parse_config(json: Option<&str>) -> DashboardConfig {
    let mut cfg = json
        .and_then(|j| serde_json::from_slice::<DashboardConfig>(j.as_bytes()).ok())
        .unwrap_or_else(default_config);
    // Guard the timers against a zero or absurd interval.
    cfg.poll_interval_ms = cfg.poll_interval_ms.clamp(250, 60_000);
    cfg.metrics_tick_ms = cfg.metrics_tick_ms.clamp(100, 60_000);
    cfg.stale_after_ms = cfg.stale_after_ms.clamp(1000, 300_000);
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(version: i64) -> WorkerPauseStatus {
        WorkerPauseStatus {
            version,
            ..crate::fixtures::status(false, None)
        }
    }

    #[test]
    fn only_a_different_version_replaces_the_status() {
        assert!(is_new_version(None, 1));
        assert!(!is_new_version(Some(&status(3)), 3));
        assert!(is_new_version(Some(&status(3)), 4));
        assert!(is_new_version(Some(&status(3)), 1));
    }

    #[test]
    fn config_is_read_from_the_injected_json_or_defaulted() {
        let cfg = parse_config(Some(
            r#"{"pauseEndpoint":"/p","eventsEndpoint":"/e","streamEndpoint":"/s","pollIntervalMs":1500,"metricsTickMs":2000,"staleAfterMs":7000}"#,
        ));
        assert_eq!(cfg.stream_endpoint, "/s");
        assert_eq!(cfg.poll_interval_ms, 1500);
        assert_eq!(parse_config(None), default_config());
        assert_eq!(parse_config(Some("not json")), default_config());
    }

    #[test]
    fn config_intervals_are_bounded() {
        let cfg = parse_config(Some(
            r#"{"pauseEndpoint":"/p","eventsEndpoint":"/e","streamEndpoint":"/s","pollIntervalMs":0,"metricsTickMs":0,"staleAfterMs":0}"#,
        ));
        assert_eq!(cfg.poll_interval_ms, 250);
        assert_eq!(cfg.metrics_tick_ms, 100);
        assert_eq!(cfg.stale_after_ms, 1000);
    }

    #[test]
    fn roles_decide_the_controls() {
        let local = Session::for_mode("disabled");
        assert!(local.can_write() && !local.needs_sign_in());
        let mut s = Session::for_mode("token");
        assert!(!s.needs_sign_in(), "not before /auth/me answered");
        s.known = true;
        assert!(s.needs_sign_in() && !s.can_write());
        s.signed_in = true;
        for (role, write) in [("viewer", false), ("worker", false), ("operator", true)] {
            s.role = role.into();
            assert_eq!(s.can_write(), write, "{role}");
        }
    }

    #[test]
    fn signals_only_change_on_news() {
        let owner = Owner::new();
        owner.with(|| {
            let dash = Dashboard::new(default_config());
            assert!(dash.apply_status(status(1)));
            assert!(!dash.apply_status(status(1)));
            assert!(dash.apply_status(status(2)));
            assert_eq!(dash.version_untracked(), Some(2));
            dash.apply_metrics(DrainMetrics::new(1, 2, 0));
            assert_eq!(
                dash.metrics().get_untracked(),
                Some(DrainMetrics::new(1, 2, 0))
            );
        });
    }
}
