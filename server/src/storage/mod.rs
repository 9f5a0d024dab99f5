//! Storage: one trait, [`Store`], with a SQLite and a PostgreSQL
//! implementation. All SQL in the project lives under this module; the
//! backend is chosen from the URL scheme in exactly one place, [`connect`].
//!
//! Every method is one unit of work (one transaction where it writes), so
//! callers never hold a transaction open across an await of their own.

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use wire::{ControlEvent, DrainMetrics, Job, JobStatus};

use crate::domain::{
    NewJob, PauseCommand, PauseState, Registration, ResultSubmission, WorkerBeat, WorkerRecord,
};
use wire::DesiredState;

use crate::auth::TokenRecord;
use crate::domain::rollout::Step;
use crate::domain::{NewControlEvent, SafetyRefusal, WorkerActionCommand};
use wire::RollingRestart;

/// Storage failures, mapped to meaning once (here), not in every handler.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A fenced call whose lease is no longer the caller's.
    #[error("{0}")]
    LeaseLost(String),
    /// The request is valid but the job's state forbids it (e.g. retrying a
    /// running job).
    #[error("{0}")]
    Conflict(String),
    /// `expectedVersion` did not match.
    #[error("the pause state is at version {}, not {expected}", current.version)]
    VersionConflict {
        expected: i64,
        current: Box<PauseState>,
    },
    /// The database cannot be reached (connection refused, pool timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {e}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a pause/resume did.
#[derive(Debug, Clone)]
pub struct TransitionOutcome {
    /// The state after the call (unchanged on a no-op or replay).
    pub state: PauseState,
    pub metrics: DrainMetrics,
    /// The appended audit event; `None` for a no-op or a replay.
    pub event: Option<ControlEvent>,
    pub warning: Option<String>,
    /// The `requestId` had been applied before: nothing was done now.
    pub replayed: bool,
}

/// A claim request, validated.
#[derive(Debug, Clone)]
pub struct ClaimParams {
    pub worker_id: String,
    pub types: Option<Vec<String>>,
    pub lease_seconds: u32,
    pub now: DateTime<Utc>,
}

/// What a claim found.
#[derive(Debug, Clone)]
// Short-lived return values; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum ClaimOutcome {
    /// The state row, read under lock inside the claim transaction, said
    /// paused: nothing was requeued or claimed.
    Paused(PauseState),
    Running {
        state: PauseState,
        job: Option<Job>,
        /// Expired leases put back in the queue (or failed for good) first.
        requeued: u64,
    },
}

/// What a batch claim ([`Store::claim_many`]) found.
#[derive(Debug, Clone)]
pub struct ClaimedMany {
    /// The state read inside the (last) claim; paused means the batch was
    /// cut short by a pause that committed first.
    pub state: PauseState,
    /// Jobs handed out, each with its lease token (possibly none).
    pub jobs: Vec<Job>,
    /// Expired leases put back in the queue first.
    pub requeued: u64,
}

impl ClaimedMany {
    /// Adds one single-claim outcome to a batch being built; the finished
    /// batch when it is complete (paused, no more jobs, or `limit` reached).
    pub(crate) fn absorb(
        jobs: &mut Vec<Job>,
        requeued: &mut u64,
        outcome: ClaimOutcome,
        limit: u32,
    ) -> Option<ClaimedMany> {
        let (state, more) = match outcome {
            ClaimOutcome::Paused(state) => (state, false),
            ClaimOutcome::Running {
                state,
                job,
                requeued: r,
            } => {
                *requeued += r;
                let more = job.is_some();
                jobs.extend(job);
                (state, more)
            }
        };
        (!more || jobs.len() as u32 >= limit).then(|| ClaimedMany {
            state,
            jobs: std::mem::take(jobs),
            requeued: *requeued,
        })
    }
}

/// The proof a worker offers that it still holds a job's lease.
#[derive(Debug, Clone)]
pub struct Fence {
    pub job_id: Uuid,
    pub worker_id: String,
    pub lease_token: Uuid,
}

/// Job counts for `/status` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: i64,
    pub running: i64,
    pub stale_running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl JobCounts {
    pub fn drain_metrics(&self) -> DrainMetrics {
        DrainMetrics::new(self.queued, self.running, self.stale_running)
    }
}

/// What [`Store::begin_result`] found for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultBegin {
    /// First time: recorded as `applying`; apply it, then finish it.
    Fresh,
    /// Applied before: acknowledge again, do nothing.
    Applied,
    /// Another request with this key is being applied right now.
    InFlight,
    /// Refused before (e.g. the lease was lost); refuse the same way.
    Rejected(String),
    /// The key was used with different content.
    Mismatch,
}

/// The result of [`Store::worker_action`].
#[derive(Debug, Clone)]
pub struct WorkerActionOutcome {
    /// The targeted workers as they were before the action.
    pub before: Vec<WorkerRecord>,
    pub event: ControlEvent,
    pub override_used: bool,
}

/// Why a worker action was not applied (nothing was changed).
#[derive(Debug, Clone)]
pub enum ActionError {
    /// These worker ids are not registered.
    Unknown(Vec<String>),
    Refused(SafetyRefusal),
}

/// The safety check a worker action runs inside its transaction.
pub type SafetyCheck<'a> =
    &'a (dyn Fn(&[WorkerRecord]) -> Result<bool, SafetyRefusal> + Send + Sync);

/// One rolling-restart planning step, run inside the store's transaction.
pub type RolloutStep<'a> = &'a (dyn Fn(RollingRestart, &[WorkerRecord]) -> Step + Send + Sync);

/// A change another server process made, learned through the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The pause state moved to this version.
    PauseChanged(i64),
    /// Jobs were enqueued (wake long-polling claimers).
    JobsAvailable,
    /// A worker's desired state changed (answer its waiting claims).
    FleetChanged,
    /// A token was created or revoked (drop cached tokens).
    TokensChanged,
    /// The notification connection was (re)established: anything may have
    /// been missed, so re-read the state.
    Reconnected,
}

/// The storage contract. Implementations: [`SqliteStore`], [`PgStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// How many storage calls (each at least one database round trip) this
    /// store has served. Tests and benchmarks use it to prove that a path
    /// does not touch the database.
    fn calls(&self) -> u64;

    async fn ping(&self) -> StoreResult<()>;

    async fn pause_state(&self) -> StoreResult<PauseState>;

    /// Applies a pause/resume atomically: locks the state row, replays a
    /// known `requestId`, computes the drain metrics, runs
    /// [`crate::domain::decide`], writes the state and the audit event and
    /// (PostgreSQL) notifies other processes — all in one transaction.
    async fn transition_pause(
        &self,
        cmd: &PauseCommand,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<TransitionOutcome>;

    /// Newest first; `before` is an event id (exclusive) for paging.
    async fn list_events(&self, limit: u32, before: Option<i64>) -> StoreResult<Vec<ControlEvent>>;

    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<JobCounts>;

    /// Jobs handed out at or after `since`.
    async fn dispatches_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Job>;

    /// Claims the next job unless the fleet is paused. The pause state is
    /// re-read under lock inside the same transaction, so a pause that
    /// committed first always wins. Expired leases are requeued first. A
    /// registered worker that operators paused or are draining gets no job,
    /// whatever its runtime does.
    async fn claim(&self, params: &ClaimParams) -> StoreResult<ClaimOutcome>;

    /// Claims up to `limit` jobs for one worker under [`Store::claim`]'s
    /// rules, as that many claims in a row would. Jobs claimed before a
    /// pause committed are returned with the paused state (they are the
    /// worker's now). The default makes one `claim` per job; PostgreSQL
    /// claims the batch in one statement.
    async fn claim_many(&self, params: &ClaimParams, limit: u32) -> StoreResult<ClaimedMany> {
        let (mut jobs, mut requeued) = (Vec::new(), 0);
        loop {
            let outcome = self.claim(params).await?;
            if let Some(done) = ClaimedMany::absorb(&mut jobs, &mut requeued, outcome, limit) {
                return Ok(done);
            }
        }
    }

    /// Extends the lease. `LeaseLost` when the job is no longer running under
    /// this worker and token; `NotFound` for an unknown job. Also returns the
    /// worker's desired state when the worker is registered (same round trip).
    async fn heartbeat(
        &self,
        fence: &Fence,
        lease_seconds: Option<u32>,
        paused_at_checkpoint: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Job, Option<DesiredState>)>;

    /// Marks the job succeeded. Fenced like [`Store::heartbeat`].
    async fn complete(
        &self,
        fence: &Fence,
        result: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<Job>;

    /// Requeues with backoff while attempts remain and `retryable`, else
    /// marks failed. Fenced like [`Store::heartbeat`].
    async fn fail(
        &self,
        fence: &Fence,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Job>;

    /// Cancels a queued or running job (a running job's lease is revoked, so
    /// its worker's next heartbeat gets 409). `Conflict` when already final.
    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job>;

    /// Puts a failed or cancelled job back in the queue with fresh attempts.
    /// `Conflict` for queued, running or succeeded jobs.
    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Job>;

    async fn get_job(&self, id: Uuid) -> StoreResult<Job>;

    /// Newest first.
    async fn list_jobs(&self, status: Option<JobStatus>, limit: u32) -> StoreResult<Vec<Job>>;

    /// Running jobs (stale or not), oldest lease first: what blocks the drain.
    async fn running_jobs(&self, limit: u32) -> StoreResult<Vec<Job>>;

    /// Jobs that finished (succeeded or failed) at or after `since`.
    async fn finished_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;

    /// Mean claim-to-finish duration in milliseconds per job type, over jobs
    /// finished at or after `since`.
    async fn mean_durations_ms(&self, since: DateTime<Utc>) -> StoreResult<Vec<(String, f64)>>;

    /// Mean claim-to-finish duration (ms) of jobs finished since `since`.
    async fn mean_latency_ms(&self, since: DateTime<Utc>) -> StoreResult<Option<f64>>;

    /// Registers a worker (or a new boot of it): a new `boot_id` resets
    /// `started_at` and applies [`crate::domain::desired_after_reboot`].
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

    /// Records a result submission as `applying` unless its key is known;
    /// an `applying` row older than `retake_before` (its server died
    /// mid-apply) is taken over as `Fresh`.
    async fn begin_result(
        &self,
        sub: &ResultSubmission,
        now: DateTime<Utc>,
        retake_before: DateTime<Utc>,
    ) -> StoreResult<ResultBegin>;

    /// Marks a result applied (`rejected` = None) or refused with a reason.
    async fn finish_result(
        &self,
        key: &str,
        rejected: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Forgets an `applying` result whose application failed transiently,
    /// so a retry applies it.
    async fn abandon_result(&self, key: &str) -> StoreResult<()>;

    /// Applies a per-worker action atomically: checks the ids, runs the
    /// safety `check` over the whole fleet, writes the desired states and
    /// the audit event. Concurrent actions are serialized.
    async fn worker_action(
        &self,
        cmd: &WorkerActionCommand,
        actor: &str,
        now: DateTime<Utc>,
        check: SafetyCheck<'_>,
    ) -> StoreResult<Result<WorkerActionOutcome, ActionError>>;

    /// Appends a control event (rolling-restart start and cancel).
    async fn append_event(&self, event: &NewControlEvent) -> StoreResult<ControlEvent>;

    /// Stores a new running rollout. `Conflict` while another one runs.
    async fn create_rollout(&self, r: &RollingRestart) -> StoreResult<()>;

    async fn get_rollout(&self, id: Uuid) -> StoreResult<RollingRestart>;

    /// The newest rollouts first.
    async fn list_rollouts(&self, limit: u32) -> StoreResult<Vec<RollingRestart>>;

    /// Cancels the rollout if it is still running, in one statement (a
    /// controller step in flight either commits first or sees it
    /// cancelled). `Conflict` when it had already ended; `NotFound`.
    async fn cancel_rollout(
        &self,
        id: Uuid,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RollingRestart>;

    /// Runs one planning step of the running rollout, if any, under a lock
    /// (so several server processes never step it at once), writing the
    /// desired states it asks for.
    async fn advance_rollout(&self, step: RolloutStep<'_>) -> StoreResult<Option<RollingRestart>>;

    /// Stores a new token. `Conflict` when the name is taken.
    async fn create_token(&self, token: &TokenRecord) -> StoreResult<()>;

    /// The token with this id, revoked or not.
    async fn find_token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;

    /// All tokens, by name.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    /// Revokes the token called `name` (and tells every process at once on
    /// PostgreSQL). `NotFound` when there is none; revoking twice is fine.
    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> StoreResult<TokenRecord>;

    /// PostgreSQL: starts listening for changes made by other processes.
    /// SQLite: `None` (one process; changes are broadcast in memory).
    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Notice>>>;
}

/// Opens the store named by `url` (`sqlite:` or `postgres:`/`postgresql:`),
/// creating a SQLite file if missing, and runs the embedded migrations.
/// The refusal of a cancel that found the rolling restart finished.
fn not_running(r: &RollingRestart) -> StoreError {
    StoreError::Conflict(format!(
        "rolling restart {} is already {}",
        r.id,
        r.status.as_str()
    ))
}

pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::Database(format!(
            "unsupported database URL {:?}: use sqlite://… or postgres://…",
            redact(url)
        )))
    }
}

/// The URL without its password, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}://{}:***{}", &url[..s], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Counts storage calls (see [`Store::calls`]).
#[derive(Debug, Default)]
pub(crate) struct CallCounter(AtomicU64);

impl CallCounter {
    pub(crate) fn hit(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The message of a fenced call that lost its lease.
pub(crate) fn lease_lost_message(job: &Job, worker_id: &str) -> String {
    match job.status {
        JobStatus::Running if job.worker_id.as_deref() != Some(worker_id) => format!(
            "job {} is leased to another worker; this worker's lease was lost",
            job.id
        ),
        JobStatus::Running => format!(
            "job {} was claimed again; this lease token is no longer valid",
            job.id
        ),
        other => format!(
            "job {} is {}; this worker no longer holds its lease",
            job.id,
            other.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
