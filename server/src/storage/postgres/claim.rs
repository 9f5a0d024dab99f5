//! The common claim in one autocommit statement (one round trip instead of
//! six).
//!
//! It reads the pause row `FOR SHARE`, exactly like the claim transaction
//! in [`crate::storage::claims`] — the statement holds that lock until it
//! commits, so a pause that commits first is seen (READ COMMITTED re-reads
//! the newest row version for a locking read) and a pause that comes later
//! waits for this claim. It claims only when nothing is paused and no lease
//! has expired (in an unpaused queue); `None` means a lease has expired and
//! the caller must requeue first (that path keeps its transaction), so
//! expired jobs are still requeued before a claim and handed to it.
//!
//! Queues the same way: the candidates (`cand`, locked `FOR UPDATE SKIP
//! LOCKED`, at most `limit`) come from queues this statement sees unpaused;
//! then the rows of their queues are taken `FOR SHARE` and re-checked
//! (`open`: a pause that committed meanwhile is seen, one in progress is
//! waited for), and only candidates of a still-open queue are claimed. A
//! queue pause that comes later waits for this statement. Both CTEs are
//! `MATERIALIZED`, so each runs exactly once, and only when the fleet is
//! not paused (they are reached only past that one-time filter).

use chrono::Duration;
use sqlx::PgPool;
use uuid::Uuid;
use wire::Job;

use crate::domain::Fence;
use crate::domain::PauseState;
use crate::storage::driver::ClaimParams;
use crate::storage::rows::{self, StateColumns};
use crate::storage::{RowReader, StoreError, StoreResult};

/// The state's columns, as this statement names them (`claimed.*` brings
/// the job's own `updated_at`).
const STATE: StateColumns = StateColumns {
    workers_paused: "s_workers_paused",
    mode: "s_mode",
    reason: "s_reason",
    requested_by: "s_requested_by",
    requested_at: "s_requested_at",
    paused_at: "s_paused_at",
    resumed_at: "s_resumed_at",
    updated_at: "s_updated_at",
    version: "s_version",
    until: "s_until_at",
};

/// A completion to make in the claim's statement (`claimNext`).
pub(super) struct Completing<'a> {
    pub fence: &'a Fence,
    pub result: Option<&'a serde_json::Value>,
}

/// What the statement did.
pub(super) struct Claimed {
    pub state: PauseState,
    /// A lease of an unpaused queue has expired: nothing was claimed, and
    /// the caller must requeue first (the transaction path).
    pub expired: bool,
    pub jobs: Vec<Job>,
    /// The completed job, when the statement completed one; `None` with a
    /// completion asked for means its lease is no longer held (and nothing
    /// was claimed).
    pub completed: Option<Job>,
}

pub(super) async fn in_one_statement(
    pool: &PgPool,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
    let c = run(pool, p, limit, None).await?;
    Ok((c.state.workers_paused || !c.expired).then_some((c.state, c.jobs)))
}

/// Completes a held job and claims up to `limit` for the same worker, in one
/// autocommit statement: one round trip and one commit for both. The claim
/// is made only if the completion is (the same lease fencing as
/// `leases::complete_job`), under every rule of [`in_one_statement`].
pub(super) async fn completing(
    pool: &PgPool,
    done: Completing<'_>,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<Claimed> {
    run(pool, p, limit, Some(done)).await
}

async fn run(
    pool: &PgPool,
    p: &ClaimParams,
    limit: u32,
    done: Option<Completing<'_>>,
) -> StoreResult<Claimed> {
    let token = Uuid::new_v4();
    let expires = p.now + Duration::seconds(i64::from(p.lease_seconds));
    // Neither a `LIMIT $n` nor a `$n IS NULL OR …` type filter: with either,
    // PostgreSQL's generic plan never looks cheaper than a custom one (an
    // unknown LIMIT is costed as a tenth of the table), so it re-planned
    // this statement on every execution, which cost more than the claim
    // itself. The limit is a literal (a bounded integer: one cached
    // statement per batch size) and the filter is there only when asked for.
    //
    // One type (the common worker) is an equality, which walks the
    // `jobs_claimable_type` index in claim order and stops after `limit`
    // rows. As `= ANY(array)` PostgreSQL 15 cannot read that index in order:
    // on a table whose statistics predate a bulk enqueue (autovacuum's
    // ANALYZE comes up to a minute later) it estimated one matching row and
    // chose to fetch and sort every queued job — 24–62 ms per claim over
    // 20,000 jobs, against 0.08 ms now (EXPLAIN ANALYZE, issue 18).
    let one_type = match p.types.as_deref() {
        Some([only]) => Some(only.as_str()),
        _ => None,
    };
    // Parameters after the fixed five are numbered as they are bound.
    let mut next = 6;
    let mut param = || {
        next += 1;
        next - 1
    };
    let types_filter = match (&one_type, &p.types) {
        (Some(_), _) => format!("AND type = ${}", param()),
        (None, Some(_)) => format!("AND type = ANY(${})", param()),
        (None, None) => String::new(),
    };
    let queues_filter = match &p.queues {
        Some(_) => format!("AND queue = ANY(${})", param()),
        None => String::new(),
    };
    // The completion: `leases::complete_job`'s fenced UPDATE, as a CTE the
    // claim waits on (nothing is claimed when the lease is not held). All
    // parts of one statement see one snapshot, so the job being completed
    // (running) is never a claim candidate (queued).
    let (done_cte, done_gate, done_rows) = match done {
        Some(_) => {
            let (id, worker, lease, result) = (param(), param(), param(), param());
            (
                format!(
                    "done AS (UPDATE jobs SET status = 'succeeded', result = ${result}, \
                       error = NULL, lease_token = NULL, lease_expires_at = NULL, \
                       paused_at_checkpoint = FALSE, finished_at = $5, updated_at = $5 \
                     WHERE id = ${id} AND status = 'running' AND worker_id = ${worker} \
                       AND lease_token = ${lease} \
                     RETURNING {jobs}), ",
                    jobs = job_columns!(),
                ),
                "AND EXISTS (SELECT 1 FROM done)",
                format!(
                    "SELECT 'done' AS part, {jobs} FROM done UNION ALL ",
                    jobs = job_columns!()
                ),
            )
        }
        None => (String::new(), "", String::new()),
    };
    let query = format!(
        "WITH {done_cte}\
         st AS (SELECT {state} FROM worker_pause_state WHERE id = 1 FOR SHARE), \
         ex AS (SELECT EXISTS (SELECT 1 FROM jobs \
                  WHERE status = 'running' AND lease_expires_at < $5 \
                  AND queue IN (SELECT name FROM queues WHERE NOT paused)) AS expired), \
         cand AS MATERIALIZED (SELECT id, queue FROM jobs \
                  WHERE status = 'queued' AND run_after <= $5 {types_filter} {queues_filter} \
                  AND queue IN (SELECT name FROM queues WHERE NOT paused) \
                  ORDER BY priority DESC, run_after, created_at \
                  LIMIT {limit} FOR UPDATE SKIP LOCKED), \
         open AS MATERIALIZED (SELECT name FROM queues \
                  WHERE name IN (SELECT queue FROM cand) AND NOT paused FOR SHARE), \
         claimed AS ( \
           UPDATE jobs SET status = 'running', worker_id = $1, lease_token = $2, \
             lease_seconds = $3, lease_expires_at = $4, attempts = attempts + 1, \
             paused_at_checkpoint = FALSE, started_at = $5, updated_at = $5 \
           WHERE NOT (SELECT workers_paused FROM st) AND NOT (SELECT expired FROM ex) {done_gate} \
           AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = $1 AND w.desired_state <> 'active') \
           AND id = ANY(ARRAY(SELECT id FROM cand WHERE queue IN (SELECT name FROM open))) \
           RETURNING {jobs}) \
         SELECT st.workers_paused AS s_workers_paused, st.mode AS s_mode, st.reason AS s_reason, \
           st.requested_by AS s_requested_by, st.requested_at AS s_requested_at, \
           st.paused_at AS s_paused_at, st.resumed_at AS s_resumed_at, \
           st.updated_at AS s_updated_at, st.version AS s_version, st.until_at AS s_until_at, \
           (SELECT expired FROM ex) AS s_expired, j.* \
         FROM st LEFT JOIN ({done_rows}SELECT 'claimed' AS part, {jobs} FROM claimed) j ON TRUE",
        state = state_columns!(),
        jobs = job_columns!(),
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(query))
        .bind(&p.worker_id)
        .bind(token)
        .bind(p.lease_seconds as i32)
        .bind(expires)
        .bind(p.now);
    match (one_type, &p.types) {
        (Some(only), _) => q = q.bind(only),
        (None, Some(types)) => q = q.bind(types),
        (None, None) => {}
    }
    if let Some(queues) = &p.queues {
        q = q.bind(queues);
    }
    if let Some(d) = &done {
        q = q
            .bind(d.fence.job_id)
            .bind(&d.fence.worker_id)
            .bind(d.fence.lease_token)
            .bind(d.result);
    }
    let rows = q.fetch_all(pool).await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Database("the claim returned no row".into()))?;
    let state = rows::pause_state(row, &STATE)?;
    let expired = row.bool("s_expired")?;
    let (mut jobs, mut completed) = (Vec::with_capacity(rows.len()), None);
    for row in &rows {
        match row.opt_text("part")?.as_deref() {
            Some("claimed") => {
                let mut job = rows::job(row)?;
                job.lease_token = Some(token);
                jobs.push(job);
            }
            Some(_) => completed = Some(rows::job(row)?),
            None => {}
        }
    }
    // The queue's order, as single claims in a row would have handed them.
    jobs.sort_by(|a, b| {
        (b.priority, a.run_after, a.created_at).cmp(&(a.priority, b.run_after, b.created_at))
    });
    Ok(Claimed {
        state,
        expired,
        jobs,
        completed,
    })
}
