//! API tokens: only the secret's hash is stored. A change is announced to
//! every process (PostgreSQL), which drop their token caches at once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::notice::Notice;
use super::rows;
use super::{Arg, Driver, Exec, Storage, StoreError, StoreResult};
use crate::domain::TokenRecord;

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a new token. `Conflict` when the name is taken.
    async fn create_token(&self, token: &TokenRecord) -> StoreResult<()>;

    /// The token with this id, revoked or not.
    async fn find_token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;

    /// All tokens, by name.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    /// Revokes the token called `name` and ends its dashboard sessions.
    /// `NotFound` when there is none; revoking twice is fine (the first
    /// time is kept).
    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> StoreResult<TokenRecord>;
}

// ---- queries: one statement each -------------------------------------

/// Stores a token; false when its name (or id) is taken.
async fn insert_token_if_new(s: &mut impl Exec, t: &TokenRecord) -> StoreResult<bool> {
    const SQL: &str = "INSERT INTO api_tokens (id, name, role, secret_hash, created_at) \
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
    let args = [
        Arg::Text(&t.id),
        Arg::Text(&t.name),
        Arg::Text(t.role.as_str()),
        Arg::Text(&t.secret_hash),
        Arg::Time(t.created_at),
    ];
    Ok(s.execute(SQL, &args).await? == 1)
}

/// The token with this id.
async fn find_token(s: &mut impl Exec, id: &str) -> StoreResult<Option<TokenRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        token_columns!(),
        " FROM api_tokens WHERE id = $1"
    );
    let row = s.fetch_optional(SQL, &[Arg::Text(id)]).await?;
    row.as_ref().map(rows::token).transpose()
}

/// Every token, by name.
async fn list_tokens(s: &mut impl Exec) -> StoreResult<Vec<TokenRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        token_columns!(),
        " FROM api_tokens ORDER BY name"
    );
    s.fetch_all(SQL, &[])
        .await?
        .iter()
        .map(rows::token)
        .collect()
}

/// Revokes the token called `name` (keeping an earlier revocation time).
async fn revoke_token_named(
    s: &mut impl Exec,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<TokenRecord>> {
    const SQL: &str = concat!(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE name = $1 RETURNING ",
        token_columns!()
    );
    let row = s
        .fetch_optional(SQL, &[Arg::Text(name), Arg::Time(now)])
        .await?;
    row.as_ref().map(rows::token).transpose()
}

// ---- operations: written once ------------------------------------------

/// The token and its announcement commit together.
async fn create<D: Driver>(d: &D, t: &TokenRecord) -> StoreResult<()> {
    let mut tx = d.begin().await?;
    if !insert_token_if_new(&mut tx, t).await? {
        return Err(StoreError::Conflict(format!(
            "a token named {:?} already exists",
            t.name
        )));
    }
    tx.notify(&Notice::TokensChanged).await?;
    tx.commit().await
}

async fn revoke<D: Driver>(d: &D, name: &str, now: DateTime<Utc>) -> StoreResult<TokenRecord> {
    let mut tx = d.begin().await?;
    let t = revoke_token_named(&mut tx, name, now)
        .await?
        .ok_or(StoreError::NotFound)?;
    // Its dashboard sessions end with it (they are also never matched once
    // the token is revoked: see `sessions::find_live_session`).
    super::sessions::delete_sessions_of_token(&mut tx, &t.id).await?;
    tx.notify(&Notice::TokensChanged).await?;
    tx.commit().await?;
    Ok(t)
}

#[async_trait]
impl<D: Driver> TokenStore for Storage<D> {
    async fn create_token(&self, token: &TokenRecord) -> StoreResult<()> {
        create(&*self.call(), token).await
    }

    async fn find_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        find_token(&mut self.call().read().await?, id).await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        list_tokens(&mut self.call().read().await?).await
    }

    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> StoreResult<TokenRecord> {
        revoke(&*self.call(), name, now).await
    }
}
