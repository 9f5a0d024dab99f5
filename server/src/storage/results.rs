//! Result submissions, applied once per idempotency key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Arg, Driver, Exec, RowReader, Storage, StoreResult};
use crate::domain::ResultSubmission;

/// What [`ResultStore::begin_result`] found for an idempotency key.
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

#[async_trait]
pub trait ResultStore: Send + Sync + 'static {
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
}

// ---- queries: one statement each -------------------------------------

/// Records the submission as `applying`; false when the key is known.
async fn insert_result_if_new(
    s: &mut impl Exec,
    sub: &ResultSubmission,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    const SQL: &str = "INSERT INTO worker_results (idempotency_key, payload_type, task_id, \
        worker_id, payload, fingerprint, state, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, 'applying', $7) \
        ON CONFLICT (idempotency_key) DO NOTHING";
    let args = [
        Arg::Text(&sub.key),
        Arg::Text(sub.payload_type.as_str()),
        Arg::OptId(sub.task_id),
        Arg::Text(&sub.worker_id),
        Arg::Json(&sub.payload),
        Arg::Text(&sub.fingerprint),
        Arg::Time(now),
    ];
    Ok(s.execute(SQL, &args).await? == 1)
}

/// A known submission, locked until the transaction ends.
struct Known {
    fingerprint: String,
    state: String,
    outcome: Option<String>,
    created_at: DateTime<Utc>,
}

async fn lock_result(s: &mut impl Exec, key: &str) -> StoreResult<Known> {
    let sql = s.sql().lock_result;
    let r = s.fetch_one(sql, &[Arg::Text(key)]).await?;
    Ok(Known {
        fingerprint: r.text("fingerprint")?,
        state: r.text("state")?,
        outcome: r.opt_text("outcome")?,
        created_at: r.time("created_at")?,
    })
}

/// Takes over an `applying` submission (restarts its clock).
async fn retake_result(s: &mut impl Exec, key: &str, now: DateTime<Utc>) -> StoreResult<()> {
    const SQL: &str = "UPDATE worker_results SET created_at = $2 WHERE idempotency_key = $1";
    s.execute(SQL, &[Arg::Text(key), Arg::Time(now)]).await?;
    Ok(())
}

/// Marks a submission applied or rejected.
async fn finish_result(
    s: &mut impl Exec,
    key: &str,
    rejected: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    const SQL: &str = "UPDATE worker_results SET state = $2, outcome = $3, finished_at = $4 \
        WHERE idempotency_key = $1";
    let state = if rejected.is_some() {
        "rejected"
    } else {
        "applied"
    };
    let args = [
        Arg::Text(key),
        Arg::Text(state),
        Arg::OptText(rejected),
        Arg::Time(now),
    ];
    s.execute(SQL, &args).await?;
    Ok(())
}

/// Forgets a submission still `applying`.
async fn delete_applying_result(s: &mut impl Exec, key: &str) -> StoreResult<()> {
    const SQL: &str =
        "DELETE FROM worker_results WHERE idempotency_key = $1 AND state = 'applying'";
    s.execute(SQL, &[Arg::Text(key)]).await?;
    Ok(())
}

// ---- operations: written once ------------------------------------------

/// Insert-or-inspect in one transaction: two submissions of one key never
/// both come back `Fresh` (the insert's conflict, then the row lock,
/// serialize them), and a takeover of a stale `applying` row happens once.
async fn begin<D: Driver>(
    d: &D,
    sub: &ResultSubmission,
    now: DateTime<Utc>,
    retake_before: DateTime<Utc>,
) -> StoreResult<ResultBegin> {
    let mut tx = d.begin().await?;
    let out = if insert_result_if_new(&mut tx, sub, now).await? {
        ResultBegin::Fresh
    } else {
        let known = lock_result(&mut tx, &sub.key).await?;
        if known.fingerprint != sub.fingerprint {
            ResultBegin::Mismatch
        } else {
            match known.state.as_str() {
                "applied" => ResultBegin::Applied,
                "rejected" => ResultBegin::Rejected(known.outcome.unwrap_or_default()),
                _ if known.created_at < retake_before => {
                    retake_result(&mut tx, &sub.key, now).await?;
                    ResultBegin::Fresh
                }
                _ => ResultBegin::InFlight,
            }
        }
    };
    tx.commit().await?;
    Ok(out)
}

#[async_trait]
impl<D: Driver> ResultStore for Storage<D> {
    async fn begin_result(
        &self,
        sub: &ResultSubmission,
        now: DateTime<Utc>,
        retake_before: DateTime<Utc>,
    ) -> StoreResult<ResultBegin> {
        begin(&*self.call(), sub, now, retake_before).await
    }

    async fn finish_result(
        &self,
        key: &str,
        rejected: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let call = self.call();
        let mut s = call.write().await?;
        finish_result(&mut s, key, rejected, now).await?;
        s.commit().await
    }

    async fn abandon_result(&self, key: &str) -> StoreResult<()> {
        let call = self.call();
        let mut s = call.write().await?;
        delete_applying_result(&mut s, key).await?;
        s.commit().await
    }
}
