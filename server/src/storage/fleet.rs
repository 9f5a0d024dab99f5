//! The worker registry: registration, worker heartbeats, per-worker
//! actions under the safety rule, and fleet audit events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wire::{ControlEvent, DesiredState};

use super::notice::Notice;
use super::pause::{insert_event, read_pause_state};
use super::queue::count_live_jobs;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreError, StoreResult};
use crate::domain::{
    self, FleetEventDraft, Registration, SafetyRule, WorkerActionCommand, WorkerBeat, WorkerRecord,
};

/// The result of [`FleetStore::worker_action`].
#[derive(Debug, Clone)]
pub struct WorkerActionOutcome {
    /// The targeted workers as they were before the action.
    pub before: Vec<WorkerRecord>,
    pub event: ControlEvent,
    pub override_used: bool,
}

#[async_trait]
pub trait FleetStore: Send + Sync + 'static {
    /// Registers a worker (or a new boot of it): a new `boot_id` resets
    /// `started_at` and applies [`domain::desired_after_reboot`].
    async fn register_worker(
        &self,
        reg: &Registration,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord>;

    /// Records a worker heartbeat. `NotFound` for an unregistered id (the
    /// worker should register); `Conflict` when a newer boot of the same id
    /// has registered since (this process is superseded).
    async fn worker_heartbeat(
        &self,
        beat: &WorkerBeat,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord>;

    /// All registered workers, by id.
    async fn list_workers(&self) -> StoreResult<Vec<WorkerRecord>>;

    /// Records the pause version a worker says (on a claim) it has applied,
    /// when it is newer than the one stored (the version only grows within
    /// a boot; an unknown worker is ignored: it registers first). Whether
    /// anything was written.
    async fn record_applied_version(
        &self,
        id: &str,
        version: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Applies a per-worker action atomically: checks the ids
    /// (`UnknownWorkers`), runs the safety `rule` over the whole fleet
    /// (`SafetyRefused`), writes the desired states and the audit event.
    /// Concurrent actions are serialized. A refusal changes nothing.
    async fn worker_action(
        &self,
        cmd: &WorkerActionCommand,
        actor: &str,
        now: DateTime<Utc>,
        rule: &SafetyRule,
    ) -> StoreResult<WorkerActionOutcome>;

    /// Appends a fleet audit event (a refusal, a rolling-restart step)
    /// stamped with the pause version and drain metrics of this moment.
    async fn record_fleet_event(
        &self,
        draft: &FleetEventDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<ControlEvent>;
}

// ---- queries: one statement each -------------------------------------

/// A worker's `(boot_id, desired_state)`, locked for its registration.
async fn lock_worker(s: &mut impl Exec, id: &str) -> StoreResult<Option<(String, String)>> {
    let sql = s.sql().lock_worker;
    match s.fetch_optional(sql, &[Arg::Text(id)]).await? {
        Some(r) => Ok(Some((r.text("boot_id")?, r.text("desired_state")?))),
        None => Ok(None),
    }
}

/// Inserts or updates a registration; `same_boot` keeps `started_at`.
async fn upsert_worker(
    s: &mut impl Exec,
    reg: &Registration,
    desired: DesiredState,
    same_boot: bool,
    now: DateTime<Utc>,
) -> StoreResult<WorkerRecord> {
    const SQL: &str = concat!(
        "INSERT INTO workers (id, name, hostname, version, labels, boot_id, started_at, \
           last_heartbeat_at, reported_state, active_jobs, offline_backlog, desired_state, \
           registered_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'running', '[]', 0, $8, $7) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, hostname = excluded.hostname, \
           version = excluded.version, labels = excluded.labels, boot_id = excluded.boot_id, \
           started_at = CASE WHEN $9 THEN workers.started_at ELSE excluded.started_at END, \
           last_heartbeat_at = excluded.last_heartbeat_at, reported_state = 'running', \
           desired_state = excluded.desired_state, \
           applied_version = CASE WHEN $9 THEN workers.applied_version ELSE NULL END, \
           applied_at = CASE WHEN $9 THEN workers.applied_at ELSE NULL END \
         RETURNING ",
        worker_columns!()
    );
    let labels = serde_json::to_value(&reg.labels).map_err(|e| StoreError::corrupt("labels", e))?;
    let args = [
        Arg::Text(&reg.id),
        Arg::Text(&reg.name),
        Arg::Text(&reg.hostname),
        Arg::Text(&reg.version),
        Arg::Json(&labels),
        Arg::Text(&reg.boot_id),
        Arg::Time(now),
        Arg::Text(desired.as_str()),
        Arg::Bool(same_boot),
    ];
    rows::worker(&s.fetch_one(SQL, &args).await?)
}

/// Sets a worker's applied version (and since when) if it is newer.
async fn update_applied_version(
    s: &mut impl Exec,
    id: &str,
    version: i64,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    const SQL: &str = "UPDATE workers SET applied_version = $2, applied_at = $3 \
         WHERE id = $1 AND (applied_version IS NULL OR applied_version < $2)";
    let n = s
        .execute(SQL, &[Arg::Text(id), Arg::I64(version), Arg::Time(now)])
        .await?;
    Ok(n > 0)
}

/// The registered boot of a worker id.
async fn find_worker_boot(s: &mut impl Exec, id: &str) -> StoreResult<Option<String>> {
    const SQL: &str = "SELECT boot_id FROM workers WHERE id = $1";
    match s.fetch_optional(SQL, &[Arg::Text(id)]).await? {
        Some(r) => Ok(Some(r.text("boot_id")?)),
        None => Ok(None),
    }
}

/// Every registered worker, by id, with the jobs leased to each.
pub(crate) async fn read_fleet(s: &mut impl Exec) -> StoreResult<Vec<WorkerRecord>> {
    const SQL: &str = concat!("SELECT ", worker_columns!(), " FROM workers ORDER BY id");
    let fleet = s
        .fetch_all(SQL, &[])
        .await?
        .iter()
        .map(rows::worker)
        .collect::<StoreResult<Vec<_>>>()?;
    with_leases(s, fleet).await
}

/// Every registered worker, locked until the transaction ends, with the
/// jobs leased to each (the safety rule counts the jobs an action stops).
async fn lock_fleet(s: &mut impl Exec) -> StoreResult<Vec<WorkerRecord>> {
    let sql = s.sql().lock_fleet;
    let fleet = s
        .fetch_all(sql, &[])
        .await?
        .iter()
        .map(rows::worker)
        .collect::<StoreResult<Vec<_>>>()?;
    with_leases(s, fleet).await
}

/// The running jobs leased to a worker, as `(worker_id, job_id)`, oldest
/// claim first. A running job whose lease has expired is still listed
/// under its worker until it is requeued: it is that worker's until then,
/// and it blocks a drain (as `staleRunning`).
pub(crate) async fn read_leases(s: &mut impl Exec) -> StoreResult<Vec<(String, uuid::Uuid)>> {
    const SQL: &str = "SELECT worker_id, id FROM jobs \
         WHERE status = 'running' AND worker_id IS NOT NULL ORDER BY started_at, id";
    s.fetch_all(SQL, &[])
        .await?
        .iter()
        .map(|r| Ok((r.text("worker_id")?, r.id("id")?)))
        .collect()
}

/// Fills each worker's `leased_jobs` from [`read_leases`] (on the same
/// connection, so inside a transaction both reads see one state).
async fn with_leases(
    s: &mut impl Exec,
    mut fleet: Vec<WorkerRecord>,
) -> StoreResult<Vec<WorkerRecord>> {
    let mut by_worker: std::collections::HashMap<String, Vec<uuid::Uuid>> =
        std::collections::HashMap::new();
    for (worker, job) in read_leases(s).await? {
        by_worker.entry(worker).or_default().push(job);
    }
    for w in &mut fleet {
        w.leased_jobs = Some(by_worker.remove(&w.id).unwrap_or_default());
    }
    Ok(fleet)
}

/// Sets the desired state of the listed workers.
async fn set_desired_states(
    s: &mut impl Exec,
    ids: &[String],
    desired: DesiredState,
) -> StoreResult<()> {
    let sql = s.sql().set_desired_states;
    s.execute(
        sql,
        &[Arg::OptTextList(Some(ids)), Arg::Text(desired.as_str())],
    )
    .await?;
    Ok(())
}

/// Sets one worker's desired state.
pub(crate) async fn set_desired_state(
    s: &mut impl Exec,
    id: &str,
    desired: DesiredState,
) -> StoreResult<()> {
    const SQL: &str = "UPDATE workers SET desired_state = $2 WHERE id = $1";
    s.execute(SQL, &[Arg::Text(id), Arg::Text(desired.as_str())])
        .await?;
    Ok(())
}

// ---- operations: written once ------------------------------------------

/// The worker's row is locked while its new desired state is decided, so
/// two registrations of one id (a restart racing a duplicate process)
/// apply one after the other.
async fn register<D: Driver>(
    d: &D,
    reg: &Registration,
    now: DateTime<Utc>,
) -> StoreResult<WorkerRecord> {
    let mut tx = d.begin().await?;
    let prev = lock_worker(&mut tx, &reg.id).await?;
    let stored = |d: &str| DesiredState::parse(d).unwrap_or(DesiredState::Active);
    let desired = match &prev {
        Some((boot, d)) if *boot != reg.boot_id => domain::desired_after_reboot(stored(d)),
        Some((_, d)) => stored(d),
        None => DesiredState::Active,
    };
    let same_boot = prev.as_ref().is_some_and(|(b, _)| *b == reg.boot_id);
    let w = upsert_worker(&mut tx, reg, desired, same_boot, now).await?;
    tx.commit().await?;
    Ok(w)
}

async fn worker_heartbeat<D: Driver>(
    d: &D,
    beat: &WorkerBeat,
    now: DateTime<Utc>,
) -> StoreResult<WorkerRecord> {
    if let Some(w) = d.write_worker_beat(beat, now).await? {
        return Ok(w);
    }
    match find_worker_boot(&mut d.read().await?, &beat.id).await? {
        None => Err(StoreError::NotFound),
        Some(b) => Err(StoreError::Conflict(format!(
            "worker {} has registered again (boot {b}); this process (boot {}) is superseded",
            beat.id, beat.boot_id
        ))),
    }
}

/// The event's stamp: the pause version and the drain metrics now.
async fn stamp(s: &mut impl Exec, now: DateTime<Utc>) -> StoreResult<(i64, wire::DrainMetrics)> {
    let version = read_pause_state(s).await?.version;
    Ok((
        version,
        count_live_jobs(s, now, None).await?.drain_metrics(),
    ))
}

/// The whole fleet is locked (PostgreSQL `FOR UPDATE`; SQLite's single
/// writer), so two concurrent actions never both pass the safety rule
/// against the same "before". A refusal returns before the commit: the
/// transaction rolls back and nothing changed. Other server processes are
/// told (`FleetChanged`, delivered at commit) so a claim the targeted
/// worker is long-polling on another replica is answered at once, not at
/// the end of its wait.
async fn worker_action<D: Driver>(
    d: &D,
    cmd: &WorkerActionCommand,
    actor: &str,
    now: DateTime<Utc>,
    rule: &SafetyRule,
) -> StoreResult<WorkerActionOutcome> {
    let mut tx = d.begin().await?;
    let fleet = lock_fleet(&mut tx).await?;
    let before = domain::targeted(&fleet, &cmd.worker_ids).map_err(StoreError::UnknownWorkers)?;
    let override_used = rule
        .check(&fleet, cmd, now)
        .map_err(|r| StoreError::SafetyRefused(Box::new(r)))?;
    set_desired_states(&mut tx, &cmd.worker_ids, domain::desired_for(cmd.action)).await?;
    let (version, metrics) = stamp(&mut tx, now).await?;
    let new_event = domain::action_event(cmd, actor, &before, override_used, metrics, version, now);
    let event = insert_event(&mut tx, &new_event).await?;
    tx.notify(&Notice::FleetChanged).await?;
    tx.commit().await?;
    Ok(WorkerActionOutcome {
        before,
        event,
        override_used,
    })
}

async fn record_fleet_event<D: Driver>(
    d: &D,
    draft: &FleetEventDraft,
    now: DateTime<Utc>,
) -> StoreResult<ControlEvent> {
    let mut tx = d.begin().await?;
    let (version, metrics) = stamp(&mut tx, now).await?;
    let event = insert_event(&mut tx, &draft.event(metrics, version, now)).await?;
    tx.commit().await?;
    Ok(event)
}

#[async_trait]
impl<D: Driver> FleetStore for Storage<D> {
    async fn register_worker(
        &self,
        reg: &Registration,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord> {
        register(&*self.call(), reg, now).await
    }

    async fn worker_heartbeat(
        &self,
        beat: &WorkerBeat,
        now: DateTime<Utc>,
    ) -> StoreResult<WorkerRecord> {
        worker_heartbeat(&*self.call(), beat, now).await
    }

    async fn list_workers(&self) -> StoreResult<Vec<WorkerRecord>> {
        read_fleet(&mut self.call().read().await?).await
    }

    async fn record_applied_version(
        &self,
        id: &str,
        version: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let call = self.call();
        let mut s = call.write().await?;
        let recorded = update_applied_version(&mut s, id, version, now).await?;
        s.commit().await?;
        Ok(recorded)
    }

    async fn worker_action(
        &self,
        cmd: &WorkerActionCommand,
        actor: &str,
        now: DateTime<Utc>,
        rule: &SafetyRule,
    ) -> StoreResult<WorkerActionOutcome> {
        worker_action(&*self.call(), cmd, actor, now, rule).await
    }

    async fn record_fleet_event(
        &self,
        draft: &FleetEventDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<ControlEvent> {
        record_fleet_event(&*self.call(), draft, now).await
    }
}
