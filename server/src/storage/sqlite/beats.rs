//! Worker heartbeats on SQLite: a group (gathered by
//! [`crate::storage::beats`]) as one `UPDATE … FROM json_each(…)`, one
//! write on the writer — instead of a savepoint, a statement and a release
//! per heartbeat, each a round trip to SQLite's connection thread that
//! every other write waits behind.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::Writer;
use crate::domain::WorkerRecord;
use crate::storage::beats::{by_id, GroupWrite, Pending};
use crate::storage::{Arg, Exec, StoreResult};

/// One group at a time: there is one writer connection.
pub(super) const WRITERS: usize = 1;

/// `$1`: the group as a JSON array of `{id, boot, at (ms), state, jobs,
/// backlog, applied}`. The row of a worker that registered again (a newer
/// boot) is left alone, as one heartbeat's `update_worker_beat` leaves it.
const UPDATE_BEATS: &str = concat!(
    "UPDATE workers SET last_heartbeat_at = b.at, reported_state = b.state, \
       active_jobs = b.jobs, offline_backlog = b.backlog, \
       applied_at = CASE WHEN b.applied IS NULL OR b.applied = workers.applied_version \
         THEN workers.applied_at ELSE b.at END, \
       applied_version = COALESCE(b.applied, workers.applied_version) \
     FROM (SELECT value ->> 'id' AS id, value ->> 'boot' AS boot_id, value ->> 'at' AS at, \
             value ->> 'state' AS state, value -> 'jobs' AS jobs, \
             value ->> 'backlog' AS backlog, value ->> 'applied' AS applied \
           FROM json_each($1)) AS b \
     WHERE workers.id = b.id AND workers.boot_id = b.boot_id \
     RETURNING ",
    worker_columns!()
);

#[derive(Clone)]
pub(super) struct SqliteBeats(pub Writer);

impl GroupWrite for SqliteBeats {
    async fn write_group(
        &self,
        group: &[Pending],
    ) -> StoreResult<HashMap<String, StoreResult<WorkerRecord>>> {
        let beats = Value::Array(
            group
                .iter()
                .map(|p| {
                    json!({
                        "id": p.beat.id,
                        "boot": p.beat.boot_id,
                        "at": p.now.timestamp_millis(),
                        "state": p.beat.state.as_str(),
                        "jobs": p.beat.active_jobs,
                        "backlog": p.beat.offline_backlog.min(i32::MAX as u32),
                        "applied": p.beat.applied_version,
                    })
                })
                .collect(),
        );
        let mut s = self.0.write().await?;
        let rows = s.fetch_all(UPDATE_BEATS, &[Arg::Json(&beats)]).await?;
        s.commit().await?;
        Ok(by_id(&rows))
    }
}
