//! SQLite's text of the statements that differ by dialect: no row locks
//! (the single writer connection serializes every write, so a read inside
//! a write transaction is already what a lock would give), timestamps as
//! integer milliseconds, lists as JSON arrays read with `json_each`.

use crate::storage::Statements;

/// Leases up to `$limit` claimable jobs (priority, then age) of unpaused
/// queues to the worker `$1` under token `$2`, unless operators paused or
/// are draining that worker; `$pick` selects the candidate ids (`$5` now,
/// `$6` the types), `$7` the queues (a JSON array, or `NULL` for any). The
/// transaction path's `claim_next_job` and `claim.rs`'s batch claims.
macro_rules! claim_jobs {
    ($pick:expr, $limit:expr) => {
        concat!(
            "UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
             lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
             paused_at_checkpoint = FALSE, started_at = $5, updated_at = $5 \
             WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
             AND id IN (",
            $pick,
            " AND ($7 IS NULL OR queue IN (SELECT value FROM json_each($7))) \
              AND queue IN (SELECT name FROM queues WHERE NOT paused) \
              ORDER BY priority DESC, run_after, created_at LIMIT ",
            $limit,
            ") RETURNING ",
            job_columns!()
        )
    };
}

/// Candidates of any of the types in `$6` (a JSON array), or of any type
/// (`NULL`), walked in claim order through `jobs_claimable` (see
/// `claim.rs`).
macro_rules! any_types {
    () => {
        "SELECT id FROM jobs INDEXED BY jobs_claimable WHERE status = 'queued' \
         AND run_after <= $5 AND ($6 IS NULL OR type IN (SELECT value FROM json_each($6)))"
    };
}

pub(super) const STATEMENTS: Statements = Statements {
    lock_pause_state: concat!(
        "SELECT ",
        state_columns!(),
        " FROM worker_pause_state WHERE id = 1"
    ),
    share_pause_state: concat!(
        "SELECT ",
        state_columns!(),
        " FROM worker_pause_state WHERE id = 1"
    ),
    insert_job: concat!(
        "INSERT INTO jobs (id, type, payload, priority, status, attempts, max_attempts, \
         run_after, created_at, updated_at, queue, unique_key) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $9, $6, $6, $7, $8) \
         ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN ('queued', 'running') \
         DO NOTHING RETURNING ",
        job_columns!()
    ),
    // In claim order (`INDEXED BY`): see `claim.rs` for why.
    claim_next_job: claim_jobs!(any_types!(), "1"),
    share_queue: "SELECT paused FROM queues WHERE name = $1",
    lock_queue: concat!("SELECT ", queue_columns!(), " FROM queues WHERE name = $1"),
    extend_lease: concat!(
        "UPDATE jobs SET lease_seconds = COALESCE($4, lease_seconds), \
           lease_expires_at = $5 + COALESCE($4, lease_seconds) * 1000, \
           paused_at_checkpoint = COALESCE($6, paused_at_checkpoint), updated_at = $5 \
         WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3 \
         RETURNING ",
        job_columns!(),
        ", (SELECT desired_state FROM workers w WHERE w.id = jobs.worker_id) AS worker_desired"
    ),
    held_attempts: "SELECT attempts, max_attempts FROM jobs \
        WHERE id = $1 AND status = 'running' AND worker_id = $2 AND lease_token = $3",
    mean_durations_ms: "SELECT type, CAST(AVG(finished_at - started_at) AS REAL) AS ms \
        FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 \
        AND started_at IS NOT NULL GROUP BY type",
    mean_latency_ms: "SELECT CAST(AVG(finished_at - started_at) AS REAL) AS ms FROM jobs \
        WHERE status IN ('succeeded', 'failed') AND finished_at >= $1 AND started_at IS NOT NULL",
    lock_fleet: concat!("SELECT ", worker_columns!(), " FROM workers ORDER BY id"),
    lock_worker: "SELECT boot_id, desired_state FROM workers WHERE id = $1",
    set_desired_states: "UPDATE workers SET desired_state = $2 \
        WHERE id IN (SELECT value FROM json_each($1))",
    lock_running_rollout: concat!(
        "SELECT ",
        rollout_columns!(),
        " FROM rolling_restarts WHERE status = 'running'"
    ),
    lock_result: "SELECT fingerprint, state, outcome, created_at FROM worker_results \
        WHERE idempotency_key = $1",
    notify: None,
    retention_lock: None,
};

/// The batch completion ([`crate::storage::Driver::complete_jobs_statement`]):
/// `leases::complete_job`'s fenced update for every row of `$1` at once, in
/// one write. (`RETURNING` sees only the updated table's columns.)
pub(super) const COMPLETE_JOBS: &str = concat!(
    "UPDATE jobs SET status = 'succeeded', result = b.result, error = NULL, \
       lease_token = NULL, lease_expires_at = NULL, paused_at_checkpoint = FALSE, \
       finished_at = $2, updated_at = $2 \
     FROM (SELECT value ->> 'id' AS id, value ->> 'worker' AS worker, \
             value ->> 'token' AS token, value -> 'result' AS result FROM json_each($1)) AS b \
     WHERE jobs.id = b.id AND jobs.status = 'running' AND jobs.worker_id = b.worker \
       AND jobs.lease_token = b.token \
     RETURNING ",
    job_columns!()
);
