//! Per-worker control actions and their safety rule.
//!
//! Pause and drain take workers out of service; an action that would leave
//! fewer available workers than the configured minimum is refused unless
//! the operator types the confirmation phrase the refusal names.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use wire::{DesiredState, ObservedState, WorkerActionKind};

use super::fleet::WorkerRecord;
use super::input::{parse_identifier, FieldError, Reason};

/// A validated `POST /api/workers/actions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerActionCommand {
    pub action: WorkerActionKind,
    pub worker_ids: Vec<String>,
    pub reason: Reason,
    pub confirm: Option<String>,
}

impl WorkerActionCommand {
    pub fn parse(req: wire::WorkerActionRequest) -> Result<WorkerActionCommand, FieldError> {
        let action = match req.action.as_deref() {
            None => {
                return Err(FieldError::new(
                    "action",
                    "action is required: pause, resume or drain",
                ))
            }
            Some(a) => WorkerActionKind::parse(a).ok_or_else(|| {
                FieldError::new(
                    "action",
                    format!("unknown action {a:?}: use pause, resume or drain"),
                )
            })?,
        };
        let ids = req
            .worker_ids
            .ok_or_else(|| FieldError::new("workerIds", "workerIds is required"))?;
        if ids.is_empty() || ids.len() > 1000 {
            return Err(FieldError::new(
                "workerIds",
                "workerIds must name 1 to 1000 workers",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut worker_ids = Vec::new();
        for id in &ids {
            let id = parse_identifier("workerIds", Some(id))?;
            if seen.insert(id.clone()) {
                worker_ids.push(id);
            }
        }
        Ok(WorkerActionCommand {
            action,
            worker_ids,
            reason: Reason::parse(req.reason.as_deref())?,
            confirm: req.confirm,
        })
    }
}

/// The desired state an action sets.
pub fn desired_for(action: WorkerActionKind) -> DesiredState {
    match action {
        WorkerActionKind::Pause => DesiredState::Paused,
        WorkerActionKind::Resume => DesiredState::Active,
        WorkerActionKind::Drain => DesiredState::Draining,
    }
}

/// The targeted workers as they are now, or the ids that are not
/// registered (then nothing may be applied).
pub fn targeted(fleet: &[WorkerRecord], ids: &[String]) -> Result<Vec<WorkerRecord>, Vec<String>> {
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !fleet.iter().any(|w| &w.id == *id))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(fleet
        .iter()
        .filter(|w| ids.contains(&w.id))
        .cloned()
        .collect())
}

/// Available = online, running, and wanted active: it will claim work.
pub fn is_available(w: &WorkerRecord, now: DateTime<Utc>, stale_after: Duration) -> bool {
    w.desired_state == DesiredState::Active
        && w.info(now, stale_after).observed_state == ObservedState::Running
}

/// Why an action was refused, with what the operator needs to override it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyRefusal {
    pub available_before: usize,
    pub available_after: usize,
    pub minimum: usize,
    /// The available workers the action would take out of service.
    pub affected_workers: Vec<String>,
    /// Jobs running on the targeted workers.
    pub running_jobs: usize,
    pub confirm_phrase: String,
}

/// The phrase an operator types to override the safety rule.
pub fn confirm_phrase(action: WorkerActionKind, count: usize) -> String {
    format!(
        "{} {count} worker{}",
        action.as_str(),
        if count == 1 { "" } else { "s" }
    )
}

/// What `cmd` does to the fleet's availability: the available workers
/// before and after (a resume takes none out of service), the available
/// ones it takes out, and the jobs its targets hold. The safety rule and a
/// dry run read the same figures.
pub fn action_impact(
    workers: &[WorkerRecord],
    cmd: &WorkerActionCommand,
    minimum: usize,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> wire::ActionImpact {
    let targets: BTreeSet<&str> = cmd.worker_ids.iter().map(String::as_str).collect();
    let available: Vec<&WorkerRecord> = workers
        .iter()
        .filter(|w| is_available(w, now, stale_after))
        .collect();
    let affected: Vec<String> = match cmd.action {
        WorkerActionKind::Resume => Vec::new(),
        _ => available
            .iter()
            .filter(|w| targets.contains(w.id.as_str()))
            .map(|w| w.id.clone())
            .collect(),
    };
    wire::ActionImpact {
        available_before: available.len(),
        available_after: available.len() - affected.len(),
        minimum,
        affected_workers: affected,
        running_jobs: workers
            .iter()
            .filter(|w| targets.contains(w.id.as_str()))
            .map(|w| w.jobs().len())
            .sum(),
    }
}

/// The safety rule: taking `targets` out of service must leave at least
/// `minimum` available workers, unless `confirm` is the phrase. Resuming is
/// always safe. Returns whether an override was used.
pub fn check_safety(
    workers: &[WorkerRecord],
    cmd: &WorkerActionCommand,
    minimum: usize,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<bool, SafetyRefusal> {
    if cmd.action == WorkerActionKind::Resume {
        return Ok(false);
    }
    let i = action_impact(workers, cmd, minimum, now, stale_after);
    if i.affected_workers.is_empty() || i.available_after >= minimum {
        return Ok(false);
    }
    let phrase = confirm_phrase(cmd.action, cmd.worker_ids.len());
    if cmd.confirm.as_deref().map(str::trim) == Some(phrase.as_str()) {
        return Ok(true);
    }
    Err(SafetyRefusal {
        available_before: i.available_before,
        available_after: i.available_after,
        minimum,
        running_jobs: i.running_jobs,
        affected_workers: i.affected_workers,
        confirm_phrase: phrase,
    })
}

/// The safety rule's settings: the fewest available workers an action may
/// leave, and how old a heartbeat may be for its worker to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafetyRule {
    pub minimum: usize,
    pub stale_after: Duration,
}

impl SafetyRule {
    /// [`action_impact`] with these settings.
    pub fn impact(
        &self,
        workers: &[WorkerRecord],
        cmd: &WorkerActionCommand,
        now: DateTime<Utc>,
    ) -> wire::ActionImpact {
        action_impact(workers, cmd, self.minimum, now, self.stale_after)
    }

    /// [`check_safety`] with these settings.
    pub fn check(
        &self,
        workers: &[WorkerRecord],
        cmd: &WorkerActionCommand,
        now: DateTime<Utc>,
    ) -> Result<bool, SafetyRefusal> {
        check_safety(workers, cmd, self.minimum, now, self.stale_after)
    }
}

/// A fleet audit event (a refused action, a rolling-restart step) before
/// storage stamps it with the pause version and drain metrics of the
/// moment it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetEventDraft {
    pub action: String,
    pub actor: String,
    pub reason: String,
    pub targets: Vec<String>,
    pub success: bool,
    pub details: serde_json::Value,
}

impl FleetEventDraft {
    pub fn event(
        &self,
        metrics: wire::DrainMetrics,
        pause_version: i64,
        now: DateTime<Utc>,
    ) -> super::NewControlEvent {
        super::NewControlEvent {
            action: self.action.clone(),
            mode: None,
            reason: self.reason.clone(),
            actor: self.actor.clone(),
            force_resume: false,
            metrics,
            version: pause_version,
            success: self.success,
            request_id: None,
            created_at: now,
            targets: self.targets.clone(),
            details: Some(self.details.clone()),
            queue: None,
        }
    }
}

/// The audit event of an applied worker action: targets, and each
/// worker's result (previous and new desired state, running jobs).
pub fn action_event(
    cmd: &WorkerActionCommand,
    actor: &str,
    targets_before: &[WorkerRecord],
    override_used: bool,
    metrics: wire::DrainMetrics,
    pause_version: i64,
    now: DateTime<Utc>,
) -> super::NewControlEvent {
    let results: Vec<wire::WorkerActionResult> = targets_before
        .iter()
        .map(|w| wire::WorkerActionResult {
            worker_id: w.id.clone(),
            ok: true,
            previous_desired_state: w.desired_state,
            desired_state: desired_for(cmd.action),
            running_jobs: w.jobs().len(),
        })
        .collect();
    super::NewControlEvent {
        action: format!("worker.{}", cmd.action.as_str()),
        mode: None,
        reason: cmd.reason.as_str().to_string(),
        actor: actor.to_string(),
        force_resume: false,
        metrics,
        version: pause_version,
        success: results.iter().all(|r| r.ok),
        request_id: None,
        created_at: now,
        targets: cmd.worker_ids.clone(),
        details: Some(serde_json::json!({
            "results": results,
            "overrideUsed": override_used,
        })),
        queue: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::ReportedState;

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn worker(
        id: &str,
        desired: DesiredState,
        reported: ReportedState,
        jobs: usize,
    ) -> WorkerRecord {
        WorkerRecord {
            id: id.into(),
            name: id.into(),
            hostname: "h".into(),
            version: "v".into(),
            labels: Default::default(),
            boot_id: "b".into(),
            started_at: t(),
            last_heartbeat_at: t(),
            reported_state: reported,
            active_jobs: (0..jobs).map(|_| uuid::Uuid::new_v4()).collect(),
            leased_jobs: None,
            offline_backlog: 0,
            desired_state: desired,
            applied_version: None,
            applied_at: None,
        }
    }

    fn cmd(action: WorkerActionKind, ids: &[&str], confirm: Option<&str>) -> WorkerActionCommand {
        WorkerActionCommand {
            action,
            worker_ids: ids.iter().map(|s| s.to_string()).collect(),
            reason: Reason::parse(Some("test")).unwrap(),
            confirm: confirm.map(str::to_string),
        }
    }

    fn fleet() -> Vec<WorkerRecord> {
        vec![
            worker("a", DesiredState::Active, ReportedState::Running, 1),
            worker("b", DesiredState::Active, ReportedState::Running, 2),
            worker("c", DesiredState::Paused, ReportedState::Paused, 0),
        ]
    }

    #[test]
    fn draining_some_but_not_all_available_workers_is_allowed() {
        let stale = Duration::seconds(15);
        assert_eq!(
            check_safety(
                &fleet(),
                &cmd(WorkerActionKind::Drain, &["a"], None),
                1,
                t(),
                stale
            ),
            Ok(false)
        );
        assert_eq!(
            check_safety(
                &fleet(),
                &cmd(WorkerActionKind::Pause, &["c"], None),
                1,
                t(),
                stale
            ),
            Ok(false)
        );
    }

    #[test]
    fn leaving_fewer_than_the_minimum_is_refused_with_impact_and_phrase() {
        let stale = Duration::seconds(15);
        let refusal = check_safety(
            &fleet(),
            &cmd(WorkerActionKind::Drain, &["a", "b"], None),
            1,
            t(),
            stale,
        )
        .unwrap_err();
        assert_eq!((refusal.available_before, refusal.available_after), (2, 0));
        assert_eq!(refusal.affected_workers, vec!["a", "b"]);
        assert_eq!(refusal.running_jobs, 3);
        assert_eq!(refusal.confirm_phrase, "drain 2 workers");
        let ok = check_safety(
            &fleet(),
            &cmd(
                WorkerActionKind::Drain,
                &["a", "b"],
                Some("drain 2 workers"),
            ),
            1,
            t(),
            stale,
        );
        assert_eq!(ok, Ok(true), "the typed phrase overrides");
        let wrong = check_safety(
            &fleet(),
            &cmd(WorkerActionKind::Drain, &["a", "b"], Some("yes")),
            1,
            t(),
            stale,
        );
        assert!(wrong.is_err());
        // A higher minimum refuses a single drain too.
        assert!(check_safety(
            &fleet(),
            &cmd(WorkerActionKind::Pause, &["a"], None),
            2,
            t(),
            stale
        )
        .is_err());
    }

    #[test]
    fn resume_is_always_safe_and_offline_workers_are_not_available() {
        let stale = Duration::seconds(15);
        assert_eq!(
            check_safety(
                &fleet(),
                &cmd(WorkerActionKind::Resume, &["a", "b", "c"], None),
                5,
                t(),
                stale
            ),
            Ok(false)
        );
        let mut old = fleet();
        old[1].last_heartbeat_at = t() - Duration::seconds(60);
        // b is offline: draining a leaves none available.
        assert!(check_safety(
            &old,
            &cmd(WorkerActionKind::Drain, &["a"], None),
            1,
            t(),
            stale
        )
        .is_err());
    }

    #[test]
    fn parse_dedupes_and_names_bad_fields() {
        let ok = WorkerActionCommand::parse(wire::WorkerActionRequest {
            action: Some("drain".into()),
            worker_ids: Some(vec!["a".into(), "a".into(), "b".into()]),
            reason: Some("x".into()),
            confirm: None,
            dry_run: None,
        })
        .unwrap();
        assert_eq!(ok.worker_ids, vec!["a", "b"]);
        let bad = WorkerActionCommand::parse(wire::WorkerActionRequest {
            action: Some("kill".into()),
            worker_ids: Some(vec!["a".into()]),
            reason: Some("x".into()),
            confirm: None,
            dry_run: None,
        });
        assert_eq!(bad.unwrap_err().field, "action");
        let empty = WorkerActionCommand::parse(wire::WorkerActionRequest {
            action: Some("pause".into()),
            worker_ids: Some(vec![]),
            reason: Some("x".into()),
            confirm: None,
            dry_run: None,
        });
        assert_eq!(empty.unwrap_err().field, "workerIds");
    }
}
