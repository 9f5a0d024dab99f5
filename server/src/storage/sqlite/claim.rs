//! The common claim in two statements on the writer (instead of five).
//!
//! On SQLite every write runs on the one writer connection, one at a time,
//! so within a write nothing else can change a row: the transaction path's
//! locks (`share_pause_state`, the queue row re-read after the claim in
//! `storage::claims`) guard against nothing here, and what they check can be
//! folded into the claim itself. The first statement reads the pause row
//! and whether any lease has expired (in an unpaused queue); `None` sends
//! the caller to the transaction path, which requeues those first. The
//! second claims up to `limit` jobs of unpaused queues, for a worker that
//! operators have not paused, in claim order. Both run inside one write
//! (one savepoint of a group, with group commit), so they see one state.
//!
//! Fewer statements matter because a group's writes run one after another
//! on the writer: each round trip to SQLite's connection thread is time
//! the whole group waits (issue 18).

use uuid::Uuid;
use wire::Job;

use crate::domain::{Fence, PauseState};
use crate::storage::claims::claim_args;
use crate::storage::driver::{ClaimParams, CompletedClaim};
use crate::storage::leases;
use crate::storage::rows::{self, STATE};
use crate::storage::{Arg, Driver, Exec, RowReader, StoreResult};

use super::SqliteDriver;

/// The pause row and whether a lease of an unpaused queue has expired.
const STATE_AND_EXPIRED: &str = concat!(
    "SELECT ",
    state_columns!(),
    ", EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND lease_expires_at < $1 \
       AND queue IN (SELECT name FROM queues WHERE NOT paused)) AS expired \
     FROM worker_pause_state WHERE id = 1"
);

/// Any of the types in `$6` (a JSON array), or any type (`NULL`): the
/// queued jobs walked in claim order (`INDEXED BY jobs_claimable`), which
/// stops at the first `$8` that match. Left to itself SQLite's planner
/// (no statistics) picks `jobs_status_created` for `status = 'queued'`
/// and sorts every queued job for each claim: 14–58 ms over 26,000 jobs on
/// this project's bench host, against 0.4 ms in order (`EXPLAIN QUERY
/// PLAN`, issue 18) — the writer's time, which every write waits for.
const CLAIM_JOBS: &str = claim_jobs!(any_types!(), "$8");

/// One type (the common worker), `$6` as text: an equality, which the
/// planner reads from `jobs_claimable_type` in claim order.
const CLAIM_JOBS_OF_TYPE: &str = claim_jobs!(
    "SELECT id FROM jobs WHERE status = 'queued' AND run_after <= $5 AND type = $6",
    "$8"
);

pub(super) async fn in_two_statements(
    d: &SqliteDriver,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
    let mut s = d.begin().await?;
    let claimed = claim_in(&mut s, p, limit).await?;
    if claimed.is_some() {
        s.commit().await?;
    }
    Ok(claimed)
}

/// Completes a held job and claims up to `limit` for the same worker in one
/// write (one commit, or one place in a group, for both): the completion's
/// fenced statement, then [`in_two_statements`]' two.
pub(super) async fn completing(
    d: &SqliteDriver,
    f: &Fence,
    result: Option<&serde_json::Value>,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<CompletedClaim> {
    let mut s = d.begin().await?;
    let Some(job) = leases::complete_job(&mut s, f, result, p.now).await? else {
        // Nothing written: dropping the write ends it.
        return Ok(CompletedClaim::LeaseLost);
    };
    let claim = claim_in(&mut s, p, limit).await?;
    s.commit().await?;
    Ok(CompletedClaim::Completed { job, claim })
}

/// The two statements, in the caller's write, which it commits (`None`: a
/// lease has expired, nothing was claimed).
async fn claim_in(
    s: &mut impl Exec,
    p: &ClaimParams,
    limit: u32,
) -> StoreResult<Option<(PauseState, Vec<Job>)>> {
    let row = s.fetch_one(STATE_AND_EXPIRED, &[Arg::Time(p.now)]).await?;
    let state = rows::pause_state(&row, &STATE)?;
    if state.workers_paused {
        return Ok(Some((state, Vec::new())));
    }
    if row.bool("expired")? {
        return Ok(None);
    }
    let token = Uuid::new_v4();
    let (sql, types) = match p.types.as_deref() {
        Some([only]) => (CLAIM_JOBS_OF_TYPE, Arg::Text(only)),
        types => (CLAIM_JOBS, Arg::OptTextList(types)),
    };
    let [a1, a2, a3, a4, a5, a6, a7] = claim_args(p, token, types);
    let limit = Arg::I64(i64::from(limit));
    let found = s
        .fetch_all(sql, &[a1, a2, a3, a4, a5, a6, a7, limit])
        .await?;
    let mut jobs = Vec::with_capacity(found.len());
    for row in &found {
        let mut job = rows::job(row)?;
        job.lease_token = Some(token);
        jobs.push(job);
    }
    // RETURNING gives no order: the queue's order, as single claims in a
    // row would have handed them.
    jobs.sort_by(|a, b| {
        (b.priority, a.run_after, a.created_at).cmp(&(a.priority, b.run_after, b.created_at))
    });
    Ok(Some((state, jobs)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::CommitMode;
    use super::*;
    use sqlx::Row;

    /// The plan SQLite makes for `sql` with claim arguments (`types` bound
    /// as the statement expects): its `detail` lines.
    async fn plan(d: &SqliteDriver, sql: &str, types: Option<&str>) -> Vec<String> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind("w1")
            .bind("token")
            .bind(30)
            .bind(0_i64)
            .bind(0_i64)
            .bind(types)
            .bind(None::<String>);
        if sql.contains("$8") {
            q = q.bind(1_i64); // the limit
        }
        let rows = q.fetch_all(&d.writer.pool).await.unwrap();
        rows.iter().map(|r| r.get::<String, _>("detail")).collect()
    }

    /// Each claim statement walks a claim index in claim order and stops at
    /// its limit; none sorts the queue (a `TEMP B-TREE`), which is what the
    /// planner did for `status = 'queued'` on its own.
    #[tokio::test]
    async fn every_claim_walks_the_queue_in_claim_order() {
        let d = SqliteDriver::connect("sqlite::memory:", CommitMode::Each)
            .await
            .unwrap();
        for (sql, types, index) in [
            (CLAIM_JOBS, None, "jobs_claimable"),
            (CLAIM_JOBS, Some(r#"["a","b"]"#), "jobs_claimable"),
            (CLAIM_JOBS_OF_TYPE, Some("a"), "jobs_claimable_type"),
            (
                super::super::sql::STATEMENTS.claim_next_job,
                None,
                "jobs_claimable",
            ),
        ] {
            let plan = plan(&d, sql, types).await;
            assert!(
                plan.iter()
                    .any(|l| l.contains(&format!("USING INDEX {index} "))
                        || l.ends_with(&format!("USING INDEX {index}"))),
                "{types:?}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|l| l.contains("TEMP B-TREE")),
                "{types:?}: {plan:?}"
            );
        }
    }
}
