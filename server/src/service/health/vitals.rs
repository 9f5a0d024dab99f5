//! What the background tasks and the PostgreSQL listener report about
//! themselves, and whether this process is ready: the `background` and
//! `listener` checks of `/health`, and `/readyz`'s start-up flag.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use wire::runbook::{HealthCheck, HealthEvent};

use super::check;
use crate::service::{now, runbook_time};

/// A lost listener connection is reported (as a `warning`) this long after
/// it came back.
const LISTENER_REPORT_MINUTES: i64 = 15;

/// One background task's heartbeat.
#[derive(Debug, Clone, Copy)]
struct Tick {
    period: StdDuration,
    started: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
}

/// The notification listener's connection (PostgreSQL).
#[derive(Debug, Clone, Copy)]
struct ListenerState {
    connected: bool,
    /// When it last connected, or was last lost.
    since: DateTime<Utc>,
    /// When it was last lost (kept after it reconnects, for the report).
    last_lost: Option<DateTime<Utc>>,
}

/// What the background tasks and the listener report about themselves,
/// and whether this process is ready for traffic.
#[derive(Debug, Default)]
pub(crate) struct Vitals {
    ticks: Mutex<BTreeMap<&'static str, Tick>>,
    listener: Mutex<Option<ListenerState>>,
    ready: AtomicBool,
}

impl Vitals {
    pub(crate) fn task_started(&self, name: &'static str, period: StdDuration) {
        if let Ok(mut t) = self.ticks.lock() {
            t.insert(
                name,
                Tick {
                    period,
                    started: now(),
                    last: None,
                },
            );
        }
    }

    pub(crate) fn ticked(&self, name: &'static str) {
        if let Ok(mut t) = self.ticks.lock() {
            if let Some(tick) = t.get_mut(name) {
                tick.last = Some(now());
            }
        }
    }

    pub(crate) fn listener_connected(&self) {
        if let Ok(mut l) = self.listener.lock() {
            let last_lost = l.and_then(|s| s.last_lost);
            *l = Some(ListenerState {
                connected: true,
                since: now(),
                last_lost,
            });
        }
    }

    pub(crate) fn listener_lost(&self) {
        if let Ok(mut l) = self.listener.lock() {
            let t = now();
            *l = Some(ListenerState {
                connected: false,
                since: t,
                last_lost: Some(t),
            });
        }
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub(super) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub(super) fn listener_check(&self, t: DateTime<Utc>) -> (HealthCheck, Option<HealthEvent>) {
        let state = self.listener.lock().ok().and_then(|l| *l);
        match state {
            None => (
                check(
                    "listener",
                    "skipped",
                    "no notification listener in this process (SQLite is one process; or not started)",
                ),
                None,
            ),
            Some(s) if !s.connected => (
                check(
                    "listener",
                    "error",
                    format!(
                        "the PostgreSQL notification listener is disconnected since {} UTC: changes made by other replicas reach this one only through the periodic re-read",
                        runbook_time(s.since)
                    ),
                ),
                None,
            ),
            Some(s) => {
                let recent_loss = s
                    .last_lost
                    .filter(|lost| t - *lost < Duration::minutes(LISTENER_REPORT_MINUTES));
                match recent_loss {
                    Some(lost) => {
                        let message = format!(
                            "the PostgreSQL notification listener lost its connection at {} UTC and reconnected at {} UTC (the state was re-read)",
                            runbook_time(lost),
                            runbook_time(s.since)
                        );
                        (
                            check("listener", "warning", message.clone()),
                            Some(HealthEvent {
                                kind: "warning".into(),
                                message,
                                created_at: runbook_time(lost),
                            }),
                        )
                    }
                    None => (
                        check(
                            "listener",
                            "ok",
                            format!("connected since {} UTC", runbook_time(s.since)),
                        ),
                        None,
                    ),
                }
            }
        }
    }

    pub(super) fn task_check(&self, t: DateTime<Utc>) -> HealthCheck {
        let ticks = self.ticks.lock().map(|t| t.clone()).unwrap_or_default();
        if ticks.is_empty() {
            return check(
                "background",
                "skipped",
                "the background tasks are not started in this process",
            );
        }
        let mut late = Vec::new();
        for (name, tick) in &ticks {
            // Three missed periods (and a few seconds for a slow database)
            // before a task counts as stuck.
            let allowed =
                Duration::from_std(tick.period * 3).unwrap_or(Duration::MAX) + Duration::seconds(5);
            let last = tick.last.unwrap_or(tick.started);
            if t - last > allowed {
                late.push(format!(
                    "{name} (last tick {}, every {} ms)",
                    tick.last
                        .map(|l| format!("{} UTC", runbook_time(l)))
                        .unwrap_or_else(|| "never".into()),
                    tick.period.as_millis()
                ));
            }
        }
        if late.is_empty() {
            check(
                "background",
                "ok",
                format!(
                    "{} tasks ticking: {}",
                    ticks.len(),
                    ticks.keys().copied().collect::<Vec<_>>().join(", ")
                ),
            )
        } else {
            check(
                "background",
                "error",
                format!("background tasks stalled: {}", late.join("; ")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that has not finished a step for three periods (plus 5 s) is
    /// an error; one that ticks is fine; none started is `skipped`.
    #[test]
    fn a_task_that_stops_ticking_is_an_error() {
        let v = Vitals::default();
        let t = now();
        assert_eq!(v.task_check(t).status, "skipped");
        v.task_started("rollouts", StdDuration::from_secs(1));
        v.task_started("metrics", StdDuration::from_secs(2));
        v.ticked("rollouts");
        v.ticked("metrics");
        assert_eq!(v.task_check(now()).status, "ok");
        // Seven seconds later: 1 s × 3 + 5 s = 8 s allowed for rollouts.
        assert_eq!(v.task_check(now() + Duration::seconds(7)).status, "ok");
        let late = v.task_check(now() + Duration::seconds(9));
        assert_eq!(late.status, "error");
        let message = late.message.unwrap_or_default();
        assert!(message.contains("rollouts"), "{message}");
        assert!(!message.contains("metrics"), "{message}");
        // Never ticked since it started counts from its start.
        v.task_started("retention", StdDuration::from_secs(60));
        let c = v.task_check(now() + Duration::seconds(186));
        let message = c.message.unwrap_or_default();
        assert!(message.contains("retention (last tick never"), "{message}");
    }

    #[test]
    fn the_listener_is_reported_while_down_and_for_a_while_after() {
        let v = Vitals::default();
        assert_eq!(v.listener_check(now()).0.status, "skipped");
        v.listener_connected();
        assert_eq!(v.listener_check(now()).0.status, "ok");
        v.listener_lost();
        let (c, e) = v.listener_check(now());
        assert_eq!(c.status, "error");
        assert!(e.is_none(), "the check itself becomes the event");
        v.listener_connected();
        let (c, e) = v.listener_check(now());
        assert_eq!(c.status, "warning");
        assert_eq!(e.expect("an event").kind, "warning");
        let later = now() + Duration::minutes(LISTENER_REPORT_MINUTES + 1);
        assert_eq!(v.listener_check(later).0.status, "ok");
    }
}
