//! Worker heartbeats on PostgreSQL: a group (gathered by
//! [`crate::storage::beats`]) as one `UPDATE … FROM unnest(…)`.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::domain::WorkerRecord;
use crate::storage::beats::{by_id, GroupWrite, Pending};
use crate::storage::StoreResult;

/// Statements in flight at once (each holds one pool connection).
pub(super) const WRITERS: usize = 4;

#[derive(Clone)]
pub(super) struct PgBeats(pub PgPool);

impl GroupWrite for PgBeats {
    async fn write_group(
        &self,
        group: &[Pending],
    ) -> StoreResult<HashMap<String, StoreResult<WorkerRecord>>> {
        let n = group.len();
        let (mut ids, mut boots, mut ats, mut states, mut jobs, mut backlogs, mut applied) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for p in group {
            ids.push(p.beat.id.clone());
            boots.push(p.beat.boot_id.clone());
            ats.push(p.now);
            states.push(p.beat.state.as_str());
            jobs.push(serde_json::to_value(&p.beat.active_jobs).unwrap_or_default());
            backlogs.push(p.beat.offline_backlog.min(i32::MAX as u32) as i32);
            applied.push(p.beat.applied_version);
        }
        let columns = worker_columns!()
            .split(',')
            .map(|c| format!("w.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        // `synchronous_commit` off for this statement's transaction only: a
        // heartbeat is soft state that the next beat repeats, so it need not
        // wait for the WAL flush. A crash loses at most the last fraction of
        // a second of beats (the workers look a little older until they beat
        // again); every other write keeps synchronous commits.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE workers AS w SET last_heartbeat_at = b.at, reported_state = b.state, \
               active_jobs = b.jobs, offline_backlog = b.backlog, \
               applied_at = CASE WHEN b.applied IS NULL OR b.applied = w.applied_version \
                 THEN w.applied_at ELSE b.at END, \
               applied_version = COALESCE(b.applied, w.applied_version) \
             FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit, \
               unnest($1::TEXT[], $2::TEXT[], $3::TIMESTAMPTZ[], $4::TEXT[], $5::JSONB[], $6::INT4[], \
                 $7::INT8[]) \
                 AS b(id, boot_id, at, state, jobs, backlog, applied) \
             WHERE w.id = b.id AND w.boot_id = b.boot_id \
             RETURNING {columns}"
        )))
        .bind(&ids)
        .bind(&boots)
        .bind(&ats)
        .bind(&states)
        .bind(&jobs)
        .bind(&backlogs)
        .bind(&applied)
        .fetch_all(&self.0)
        .await?;
        Ok(by_id(&rows))
    }
}
