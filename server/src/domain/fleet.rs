//! The worker registry's rules: registration input, the observed state of a
//! worker (from what it reports and how fresh its heartbeat is), and the
//! directive it gets from what operators want.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use wire::{DesiredState, Directive, ObservedState, RegisterRequest, ReportedState, WorkerInfo};

use super::input::{parse_identifier, FieldError};

/// A registered worker as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRecord {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub boot_id: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub reported_state: ReportedState,
    /// The jobs the worker last reported running.
    pub active_jobs: Vec<Uuid>,
    /// The running jobs leased to it, when the query that read this record
    /// read the leases too (the fleet list and the fleet lock do; a
    /// heartbeat's answer does not, to keep the hot path one statement).
    pub leased_jobs: Option<Vec<Uuid>>,
    pub offline_backlog: u32,
    pub desired_state: DesiredState,
    /// The global pause version it last reported as applied, and since when.
    pub applied_version: Option<i64>,
    pub applied_at: Option<DateTime<Utc>>,
}

impl WorkerRecord {
    /// The jobs it is running: its leases when known (the server's truth),
    /// else what it reported.
    pub fn jobs(&self) -> &[Uuid] {
        self.leased_jobs.as_deref().unwrap_or(&self.active_jobs)
    }

    /// What it reported, when that disagrees with its leases (order aside).
    pub fn reported_if_different(&self) -> Option<&[Uuid]> {
        let leased = self.leased_jobs.as_ref()?;
        let mut a = leased.clone();
        let mut b = self.active_jobs.clone();
        a.sort_unstable();
        b.sort_unstable();
        (a != b).then_some(self.active_jobs.as_slice())
    }

    /// A worker that reports no jobs while it holds leases: either it lost
    /// track of them (they block a drain until their leases expire) or an
    /// older runtime that does not report its jobs.
    pub fn lease_warning(&self) -> Option<String> {
        let leased = self.leased_jobs.as_ref()?;
        (self.active_jobs.is_empty() && !leased.is_empty()).then(|| {
            format!(
                "reports no active jobs but holds {} lease{}",
                leased.len(),
                if leased.len() == 1 { "" } else { "s" }
            )
        })
    }

    pub fn info(&self, now: DateTime<Utc>, stale_after: Duration) -> WorkerInfo {
        WorkerInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            hostname: self.hostname.clone(),
            version: self.version.clone(),
            labels: self.labels.clone(),
            boot_id: self.boot_id.clone(),
            started_at: self.started_at,
            last_heartbeat_at: self.last_heartbeat_at,
            active_jobs: self.jobs().to_vec(),
            reported_active_jobs: self.reported_if_different().map(<[Uuid]>::to_vec),
            warning: self.lease_warning(),
            desired_state: self.desired_state,
            observed_state: observed_state(
                self.reported_state,
                self.last_heartbeat_at,
                now,
                stale_after,
            ),
            offline_backlog: self.offline_backlog,
            applied_version: self.applied_version,
            applied_at: self.applied_at,
        }
    }
}

/// What the fleet view shows: `offline` when the heartbeat is older than
/// `stale_after` (whatever the worker last said), otherwise what it reports.
pub fn observed_state(
    reported: ReportedState,
    last_heartbeat_at: DateTime<Utc>,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> ObservedState {
    match reported {
        // A worker that said goodbye is stopped, not offline.
        ReportedState::Stopped => ObservedState::Stopped,
        _ if now - last_heartbeat_at > stale_after => ObservedState::Offline,
        ReportedState::Running => ObservedState::Running,
        ReportedState::Paused => ObservedState::Paused,
        ReportedState::Draining => ObservedState::Draining,
    }
}

/// The instruction for a worker, from what the operator wants.
pub fn directive(desired: DesiredState) -> Directive {
    match desired {
        DesiredState::Active => Directive::Run,
        DesiredState::Paused => Directive::Pause,
        DesiredState::Draining => Directive::Drain,
    }
}

/// The desired state a worker id keeps when a new process (boot) of it
/// registers: a drain ends with the process that was drained, so the new
/// boot runs; a pause is the operator's until they resume it.
pub fn desired_after_reboot(previous: DesiredState) -> DesiredState {
    match previous {
        DesiredState::Draining => DesiredState::Active,
        other => other,
    }
}

/// A validated registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub boot_id: String,
}

fn short_text(
    field: &'static str,
    raw: Option<String>,
    default: &str,
) -> Result<String, FieldError> {
    let v = raw.unwrap_or_else(|| default.to_string());
    let v = v.trim().to_string();
    if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("{field} must be 1 to 200 printable characters"),
        ));
    }
    Ok(v)
}

impl Registration {
    pub fn parse(req: RegisterRequest) -> Result<Registration, FieldError> {
        let id = parse_identifier("workerId", req.worker_id.as_deref())?;
        let boot_id = parse_identifier("bootId", req.boot_id.as_deref())?;
        let name = short_text("name", req.name, &id)?;
        let hostname = short_text("hostname", req.hostname, "unknown")?;
        let version = short_text("version", req.version, "unknown")?;
        let labels = req.labels.unwrap_or_default();
        if labels.len() > 50 {
            return Err(FieldError::new("labels", "at most 50 labels"));
        }
        for (k, v) in &labels {
            parse_identifier("labels", Some(k))?;
            if v.chars().count() > 200 {
                return Err(FieldError::new(
                    "labels",
                    format!("label {k} is longer than 200 characters"),
                ));
            }
        }
        Ok(Registration {
            id,
            name,
            hostname,
            version,
            labels,
            boot_id,
        })
    }
}

/// A validated worker heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerBeat {
    pub id: String,
    pub boot_id: String,
    pub state: ReportedState,
    pub active_jobs: Vec<Uuid>,
    pub offline_backlog: u32,
    /// The pause version it has applied; `None` keeps the stored one.
    pub applied_version: Option<i64>,
}

impl WorkerBeat {
    pub fn parse(id: &str, req: wire::WorkerHeartbeatRequest) -> Result<WorkerBeat, FieldError> {
        let id = parse_identifier("workerId", Some(id))?;
        let boot_id = parse_identifier("bootId", req.boot_id.as_deref())?;
        let active_jobs = req.active_jobs.unwrap_or_default();
        if active_jobs.len() > 1000 {
            return Err(FieldError::new("activeJobs", "at most 1000 active jobs"));
        }
        Ok(WorkerBeat {
            id,
            boot_id,
            state: req.state.ok_or_else(|| {
                FieldError::new(
                    "state",
                    "state is required: running, paused, draining or stopped",
                )
            })?,
            active_jobs,
            offline_backlog: req.offline_backlog.unwrap_or(0),
            applied_version: match req.applied_version {
                Some(v) if v < 0 => {
                    return Err(FieldError::new(
                        "appliedVersion",
                        "appliedVersion is a pause version: 0 or more",
                    ))
                }
                v => v,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn observed_state_follows_reports_until_the_heartbeat_is_stale() {
        let stale = Duration::seconds(15);
        assert_eq!(
            observed_state(ReportedState::Running, t(0), t(10), stale),
            ObservedState::Running
        );
        assert_eq!(
            observed_state(ReportedState::Paused, t(0), t(10), stale),
            ObservedState::Paused
        );
        assert_eq!(
            observed_state(ReportedState::Draining, t(0), t(15), stale),
            ObservedState::Draining
        );
        assert_eq!(
            observed_state(ReportedState::Running, t(0), t(16), stale),
            ObservedState::Offline
        );
        assert_eq!(
            observed_state(ReportedState::Stopped, t(0), t(100), stale),
            ObservedState::Stopped
        );
    }

    #[test]
    fn directives_follow_the_desired_state() {
        assert_eq!(directive(DesiredState::Active), Directive::Run);
        assert_eq!(directive(DesiredState::Paused), Directive::Pause);
        assert_eq!(directive(DesiredState::Draining), Directive::Drain);
    }

    #[test]
    fn a_new_boot_ends_a_drain_but_keeps_a_pause() {
        assert_eq!(
            desired_after_reboot(DesiredState::Draining),
            DesiredState::Active
        );
        assert_eq!(
            desired_after_reboot(DesiredState::Paused),
            DesiredState::Paused
        );
        assert_eq!(
            desired_after_reboot(DesiredState::Active),
            DesiredState::Active
        );
    }

    #[test]
    fn registration_needs_an_id_and_a_boot_id() {
        let ok = Registration::parse(RegisterRequest {
            worker_id: Some("w-1".into()),
            boot_id: Some("b1".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.name, "w-1");
        let err = Registration::parse(RegisterRequest {
            worker_id: Some("w-1".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "bootId");
        let err = Registration::parse(RegisterRequest {
            worker_id: Some("w 1".into()),
            boot_id: Some("b".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "workerId");
    }
}
