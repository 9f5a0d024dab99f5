//! Enqueue, single and batch: the queue's row first, then the job; a
//! unique key held by a live job answers that job instead of adding one.
//! (The [`super::QueueStore`] façade calls these.)
//!
//! Races avoided, and how:
//! - A new queue's first enqueue vs its pause: the queue's row is written
//!   before the job, so a claim always finds the row to lock (see
//!   [`super::queue_pause`]).
//! - Unique jobs: a partial unique index over the live jobs' keys, used by
//!   the insert's `ON CONFLICT … DO NOTHING`: of concurrent enqueues with
//!   one key exactly one inserts; the others wait for it to commit (or roll
//!   back, and then insert) and answer the job it made. The batch insert
//!   uses the same clause, so a key repeated within one batch is inserted
//!   once (its first occurrence) and the others find that job.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;
use wire::{Enqueued, Job};

use super::queue_pause::ensure_queue;
use super::rows;
use super::{Arg, Driver, Exec, RowReader, StoreError, StoreResult};
use crate::domain::NewJob;

// ---- queries: one statement each -------------------------------------

/// Adds a queued job; `None` when a live job holds its unique key (nothing
/// was added). Its queue's row must exist ([`ensure_queue`]).
async fn insert_job(
    s: &mut impl Exec,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<Option<Job>> {
    let sql = s.sql().insert_job;
    let row = s
        .fetch_optional(
            sql,
            &[
                Arg::Id(Uuid::new_v4()),
                Arg::Text(&job.job_type),
                Arg::Json(&job.payload),
                Arg::I32(job.priority),
                Arg::I32(job.max_attempts),
                Arg::Time(now),
                Arg::Text(&job.queue),
                Arg::OptText(job.unique_key.as_deref()),
                Arg::Time(job.schedule.run_after(now)),
            ],
        )
        .await?;
    row.as_ref().map(rows::job).transpose()
}

/// One job as a row of the batch insert's JSON array (`$1` of
/// [`Driver::insert_jobs_statement`]). Times in RFC 3339 with
/// microseconds, truncated as binding a time truncates them, so a batch
/// job's `run_after` is exactly what a single enqueue would store.
fn batch_row(job: &NewJob, id: Uuid, now: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "type": job.job_type,
        "payload": job.payload,
        "priority": job.priority,
        "max_attempts": job.max_attempts,
        "run_after": job.schedule.run_after(now).to_rfc3339_opts(SecondsFormat::Micros, true),
        "queue": job.queue,
        "unique_key": job.unique_key,
    })
}

/// Adds many queued jobs with one statement (the driver's `sql`), under
/// the given ids; the jobs it added, by id. A job whose unique key a live
/// job holds — or an earlier job of the same batch — is not among them.
/// Their queues' rows must exist ([`ensure_queue`]).
async fn insert_jobs(
    s: &mut impl Exec,
    sql: &'static str,
    jobs: &[NewJob],
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> StoreResult<HashMap<Uuid, Job>> {
    let batch = serde_json::Value::Array(
        jobs.iter()
            .zip(ids)
            .map(|(job, id)| batch_row(job, *id, now))
            .collect(),
    );
    s.fetch_all(sql, &[Arg::Json(&batch), Arg::Time(now)])
        .await?
        .iter()
        .map(|r| Ok((r.id("id")?, rows::job(r)?)))
        .collect()
}

/// The live (queued or running) job holding a unique key.
async fn find_live_by_unique_key(s: &mut impl Exec, key: &str) -> StoreResult<Option<Job>> {
    const SQL: &str = concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE unique_key = $1 AND status IN ('queued', 'running')"
    );
    s.fetch_optional(SQL, &[Arg::Text(key)])
        .await?
        .as_ref()
        .map(rows::job)
        .transpose()
}

// ---- operations: written once ------------------------------------------

/// The insert, or the live job holding the key. A miss on both (the
/// holder finished between the two statements) frees the key: try again.
/// Bounded, since every pass either inserts or finds a holder that was
/// live a moment ago.
async fn insert_or_find(
    s: &mut impl Exec,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<Enqueued> {
    for _ in 0..5 {
        if let Some(created) = insert_job(s, job, now).await? {
            return Ok(Enqueued {
                job: created,
                duplicate: false,
            });
        }
        // Only a unique key makes the insert yield.
        let key = job.unique_key.as_deref().ok_or_else(|| {
            StoreError::Database("an enqueue without a unique key inserted nothing".into())
        })?;
        if let Some(held) = find_live_by_unique_key(s, key).await? {
            return Ok(Enqueued {
                job: held,
                duplicate: true,
            });
        }
    }
    Err(StoreError::Conflict(
        "the unique key's job kept changing; retry the enqueue".into(),
    ))
}

/// The queue's row first, then the job, on one connection: the row is
/// committed before the job is (SQLite: the single writer, both in the
/// write's one savepoint; PostgreSQL: each statement commits by itself), so
/// no claim can see the job without finding its queue's row to lock.
pub(super) async fn enqueue<D: Driver>(
    d: &D,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<Enqueued> {
    let mut s = d.write().await?;
    ensure_queue(&mut s, &job.queue, now).await?;
    let enqueued = insert_or_find(&mut s, job, now).await?;
    s.commit().await?;
    Ok(enqueued)
}

/// The whole batch in one insert statement; then each job it did not add
/// (its unique key is held) is found — or, if its holder finished
/// meanwhile, inserted — one by one, as a single enqueue would.
async fn insert_all_at_once(
    s: &mut impl Exec,
    sql: &'static str,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Enqueued>> {
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::new_v4()).collect();
    let mut added = insert_jobs(s, sql, jobs, &ids, now).await?;
    let mut out = Vec::with_capacity(jobs.len());
    for (job, id) in jobs.iter().zip(&ids) {
        if let Some(created) = added.remove(id) {
            out.push(Enqueued {
                job: created,
                duplicate: false,
            });
            continue;
        }
        let held = match job.unique_key.as_deref() {
            Some(key) => find_live_by_unique_key(s, key).await?,
            None => {
                return Err(StoreError::Database(
                    "a batch enqueue skipped a job without a unique key".into(),
                ))
            }
        };
        out.push(match held {
            Some(held) => Enqueued {
                job: held,
                duplicate: true,
            },
            None => insert_or_find(s, job, now).await?,
        });
    }
    Ok(out)
}

/// All or nothing: one transaction, the queues' rows first. A repeated
/// unique key within the batch finds the batch's own earlier job (a
/// duplicate of it). Where the driver has a batch insert statement the
/// jobs go in with it (one round trip instead of one per job), and the
/// wake-up is notified once.
pub(super) async fn enqueue_batch<D: Driver>(
    d: &D,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Enqueued>> {
    let mut tx = d.begin().await?;
    let mut queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    queues.sort_unstable();
    queues.dedup();
    for q in queues {
        ensure_queue(&mut tx, q, now).await?;
    }
    let out = match d.insert_jobs_statement() {
        Some(sql) => insert_all_at_once(&mut tx, sql, jobs, now).await?,
        None => {
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(insert_or_find(&mut tx, job, now).await?);
            }
            out
        }
    };
    tx.commit().await?;
    Ok(out)
}
