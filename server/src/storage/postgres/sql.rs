//! PostgreSQL's text of the statements that differ by dialect.
//!
//! Races avoided with row locks:
//! - Pause vs claim: a claim takes `FOR SHARE` on the pause row; a pause
//!   takes `FOR UPDATE`. A claim that locked first finishes before the
//!   pause can commit (so the pause answer comes after it); a claim that
//!   comes later waits for the pause and then reads it (READ COMMITTED
//!   re-reads the newest row version for locking reads).
//! - Queue pause vs claim: the same two locks on the claimed job's queue
//!   row (`share_queue`, `lock_queue`).
//! - Claim vs claim: `FOR UPDATE SKIP LOCKED` on the job row.
//! - Worker action vs worker action: the whole fleet `FOR UPDATE`.
//! - Rolling-restart steps on several processes: `FOR UPDATE SKIP LOCKED`
//!   on the running rollout (the others skip the step).

use crate::storage::Statements;

pub(super) const STATEMENTS: Statements = Statements {
    lock_pause_state: concat!(
        "SELECT ",
        state_columns!(),
        " FROM worker_pause_state WHERE id = 1 FOR UPDATE"
    ),
    share_pause_state: concat!(
        "SELECT ",
        state_columns!(),
        " FROM worker_pause_state WHERE id = 1 FOR SHARE"
    ),
    // One statement: the insert and the wake-up notification (delivered at
    // commit) travel together. The channel is `notice::JOBS_CHANNEL`.
    // A duplicate (the unique key held by a live job) inserts no row, so
    // nothing is notified either.
    insert_job: concat!(
        "WITH ins AS (INSERT INTO jobs (id, type, payload, priority, status, attempts, \
         max_attempts, run_after, created_at, updated_at, queue, unique_key) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $9, $6, $6, $7, $8) \
         ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN ('queued', 'running') \
         DO NOTHING RETURNING ",
        job_columns!(),
        ") SELECT ins.*, (SELECT pg_notify('lull_jobs', '')) IS NULL AS notified FROM ins"
    ),
    claim_next_job: concat!(
        "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
         lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
         paused_at_checkpoint = FALSE, started_at = $5, updated_at = $5 \
         WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
         AND id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $5 \
                     AND ($6::TEXT[] IS NULL OR type = ANY($6)) \
                     AND ($7::TEXT[] IS NULL OR queue = ANY($7)) \
                     AND queue IN (SELECT name FROM queues WHERE NOT paused) \
                     ORDER BY priority DESC, run_after, created_at \
                     LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING ",
        job_columns!()
    ),
    share_queue: "SELECT paused FROM queues WHERE name = $1 FOR SHARE",
    lock_queue: concat!(
        "SELECT ",
        queue_columns!(),
        " FROM queues WHERE name = $1 FOR UPDATE"
    ),
    extend_lease: concat!(
        "UPDATE jobs SET lease_seconds = COALESCE($4, lease_seconds), \
           lease_expires_at = $5 + make_interval(secs => COALESCE($4, lease_seconds)), \
           paused_at_checkpoint = COALESCE($6, paused_at_checkpoint), updated_at = $5 \
         WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
         RETURNING ",
        job_columns!(),
        ", (SELECT desired_state FROM workers w WHERE w.id = jobs.worker_id) AS worker_desired"
    ),
    held_attempts: "SELECT attempts, max_attempts FROM jobs \
        WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
        FOR UPDATE",
    mean_durations_ms: "SELECT type, \
        (AVG(EXTRACT(EPOCH FROM (finished_at - started_at))) * 1000)::FLOAT8 AS ms \
        FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 \
        AND started_at IS NOT NULL GROUP BY type",
    mean_latency_ms: "SELECT \
        (AVG(EXTRACT(EPOCH FROM (finished_at - started_at))) * 1000)::FLOAT8 AS ms \
        FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 \
        AND started_at IS NOT NULL",
    lock_fleet: concat!(
        "SELECT ",
        worker_columns!(),
        " FROM workers ORDER BY id FOR UPDATE"
    ),
    lock_worker: "SELECT boot_id, desired_state FROM workers WHERE id = $1 FOR UPDATE",
    set_desired_states: "UPDATE workers SET desired_state = $2 WHERE id = ANY($1)",
    lock_running_rollout: concat!(
        "SELECT ",
        rollout_columns!(),
        " FROM rolling_restarts WHERE status = 'running' FOR UPDATE SKIP LOCKED"
    ),
    lock_result: "SELECT fingerprint, state, outcome, created_at FROM worker_results \
        WHERE idempotency_key = $1 FOR UPDATE",
    notify: Some("SELECT pg_notify($1, $2)"),
    // Transaction-scoped: each pruning batch holds it until it commits, and
    // a replica that finds it taken skips its pass (another one prunes).
    retention_lock: Some("SELECT pg_try_advisory_xact_lock(7120130001) AS locked"),
};

/// The batch enqueue's insert ([`crate::storage::Driver::insert_jobs_statement`]):
/// every job of `$1` (a JSON array of rows) in one statement, with
/// `insert_job`'s conflict clause and one wake-up notification (delivered
/// at commit; none when every job was a duplicate). `jsonb_to_recordset`
/// yields the rows in array order, so of two jobs with one key the first
/// is inserted; it reads a JSON `null` payload as SQL NULL, which the
/// `COALESCE` turns back into the JSON `null` a single enqueue stores.
pub(super) const INSERT_JOBS: &str = concat!(
    "WITH ins AS (INSERT INTO jobs (id, type, payload, priority, status, attempts, \
     max_attempts, run_after, created_at, updated_at, queue, unique_key) \
     SELECT j.id, j.type, COALESCE(j.payload, 'null'), j.priority, 'queued', 0, \
       j.max_attempts, j.run_after, $2, $2, j.queue, j.unique_key \
     FROM jsonb_to_recordset($1) AS j(id UUID, type TEXT, payload JSONB, priority INT, \
       max_attempts INT, run_after TIMESTAMPTZ, queue TEXT, unique_key TEXT) \
     ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN ('queued', 'running') \
     DO NOTHING RETURNING ",
    job_columns!(),
    ") SELECT ins.*, (SELECT pg_notify('lull_jobs', '')) IS NULL AS notified FROM ins"
);

/// The batch completion ([`crate::storage::Driver::complete_jobs_statement`]):
/// `leases::complete_job`'s fenced update for every row of `$1` at once.
/// (`RETURNING jobs.*`: the rows' own `id` would make the bare column
/// names ambiguous; the job reader takes the columns it needs by name.)
pub(super) const COMPLETE_JOBS: &str = "UPDATE jobs SET status = 'succeeded', result = b.result, \
    error = NULL, lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
    finished_at = $2, updated_at = $2 \
    FROM jsonb_to_recordset($1) AS b(id UUID, worker TEXT, token UUID, result JSONB) \
    WHERE jobs.id = b.id AND jobs.status = 'running' AND jobs.worker_id = b.worker \
      AND jobs.lease_token = b.token \
    RETURNING jobs.*";

#[cfg(test)]
mod tests {
    #[test]
    fn the_enqueue_notifies_the_jobs_channel() {
        let channel = format!("pg_notify('{}'", crate::storage::notice::JOBS_CHANNEL);
        assert!(super::STATEMENTS.insert_job.contains(&channel));
        assert!(super::INSERT_JOBS.contains(&channel));
    }
}
