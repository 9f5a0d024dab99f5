//! Dashboard sessions: only a hash of the session id is stored. A session
//! is looked up with its token on every cookie request (no cache), so a
//! sign-out or a revocation ends it on every server process at once,
//! without a notice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rows;
use super::{Arg, Driver, Exec, RowReader, Storage, StoreResult};
use crate::domain::{SessionRecord, TokenRecord};

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session, deleting the sessions that have ended by
    /// `now` (expired, or idle since before `idle_since`).
    async fn create_session(
        &self,
        session: &SessionRecord,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The token of a live session, with the session's last use: `None`
    /// when there is no such session, it has expired by `now`, it has been
    /// idle since before `idle_since`, or its token is revoked.
    async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> StoreResult<Option<(TokenRecord, DateTime<Utc>)>>;

    /// Records a use of the session (its idle time starts again).
    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;

    /// Ends a session (sign-out); false when there was none.
    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;
}

// ---- queries: one statement each -------------------------------------

async fn insert_session(s: &mut impl Exec, r: &SessionRecord) -> StoreResult<()> {
    const SQL: &str = "INSERT INTO dashboard_sessions \
        (id_hash, token_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
    let args = [
        Arg::Text(&r.id_hash),
        Arg::Text(&r.token_id),
        Arg::Time(r.created_at),
        Arg::Time(r.last_seen_at),
        Arg::Time(r.expires_at),
    ];
    s.execute(SQL, &args).await?;
    Ok(())
}

/// Deletes the sessions that have ended (they would never match again).
async fn delete_ended_sessions(
    s: &mut impl Exec,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> StoreResult<u64> {
    const SQL: &str = "DELETE FROM dashboard_sessions WHERE expires_at <= $1 OR last_seen_at <= $2";
    s.execute(SQL, &[Arg::Time(now), Arg::Time(idle_since)])
        .await
}

/// A live session's unrevoked token (the token's columns) and its
/// `last_seen_at`.
async fn find_live_session(
    s: &mut impl Exec,
    id_hash: &str,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> StoreResult<Option<(TokenRecord, DateTime<Utc>)>> {
    const SQL: &str = "SELECT t.id, t.name, t.role, t.secret_hash, t.created_at, t.revoked_at, \
        s.last_seen_at AS last_seen_at \
        FROM dashboard_sessions s JOIN api_tokens t ON t.id = s.token_id \
        WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
        AND t.revoked_at IS NULL";
    let args = [Arg::Text(id_hash), Arg::Time(now), Arg::Time(idle_since)];
    match s.fetch_optional(SQL, &args).await? {
        Some(row) => Ok(Some((rows::token(&row)?, row.time("last_seen_at")?))),
        None => Ok(None),
    }
}

async fn touch_session(s: &mut impl Exec, id_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
    // Never moves backwards (two replicas touching at once).
    const SQL: &str = "UPDATE dashboard_sessions SET last_seen_at = $2 \
        WHERE id_hash = $1 AND last_seen_at < $2";
    s.execute(SQL, &[Arg::Text(id_hash), Arg::Time(now)])
        .await?;
    Ok(())
}

async fn delete_session(s: &mut impl Exec, id_hash: &str) -> StoreResult<bool> {
    const SQL: &str = "DELETE FROM dashboard_sessions WHERE id_hash = $1";
    Ok(s.execute(SQL, &[Arg::Text(id_hash)]).await? == 1)
}

/// Ends every session of a token (its revocation, in the same transaction).
pub(super) async fn delete_sessions_of_token(
    s: &mut impl Exec,
    token_id: &str,
) -> StoreResult<u64> {
    const SQL: &str = "DELETE FROM dashboard_sessions WHERE token_id = $1";
    s.execute(SQL, &[Arg::Text(token_id)]).await
}

// ---- operations: written once ------------------------------------------

/// Sign-in prunes the ended sessions, so the table holds only live ones
/// (plus those that ended since the last sign-in).
async fn create<D: Driver>(
    d: &D,
    r: &SessionRecord,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> StoreResult<()> {
    let mut tx = d.begin().await?;
    delete_ended_sessions(&mut tx, now, idle_since).await?;
    insert_session(&mut tx, r).await?;
    tx.commit().await
}

#[async_trait]
impl<D: Driver> SessionStore for Storage<D> {
    async fn create_session(
        &self,
        session: &SessionRecord,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> StoreResult<()> {
        create(&*self.call(), session, now, idle_since).await
    }

    async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> StoreResult<Option<(TokenRecord, DateTime<Utc>)>> {
        find_live_session(&mut self.call().read().await?, id_hash, now, idle_since).await
    }

    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let call = self.call();
        let mut s = call.write().await?;
        touch_session(&mut s, id_hash, now).await?;
        s.commit().await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        let call = self.call();
        let mut s = call.write().await?;
        let deleted = delete_session(&mut s, id_hash).await?;
        s.commit().await?;
        Ok(deleted)
    }
}
