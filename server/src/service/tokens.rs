//! API tokens, for `lull token` and for tests: create (the bearer token is
//! shown once; only its hash is stored), list, revoke. Every running server
//! refuses a revoked token at once on PostgreSQL (NOTIFY), within its
//! one-second token cache on SQLite.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{now, ServiceError, ServiceResult};
use crate::auth::mint_token;
use crate::domain::{Role, TokenRecord};
use crate::storage::{Store, StoreError};

/// Creates a token called `name` with `role`; returns the record and the
/// bearer token, which is shown once and never stored. `Conflict` when the
/// name is taken.
pub async fn create_token(
    store: &dyn Store,
    name: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(TokenRecord, String), StoreError> {
    let minted = mint_token();
    let record = TokenRecord {
        id: minted.id,
        name: name.to_string(),
        role,
        secret_hash: minted.secret_hash,
        created_at: now,
        revoked_at: None,
    };
    store.create_token(&record).await?;
    Ok((record, minted.token))
}

/// The tokens of one database, without a running server.
pub struct Tokens {
    store: Arc<dyn Store>,
}

impl Tokens {
    /// Opens the database (running its migrations, as `lull serve` would).
    pub async fn open(database_url: &str) -> Result<Tokens, StoreError> {
        Ok(Tokens {
            store: crate::storage::connect(database_url).await?,
        })
    }

    /// A new token; see [`create_token`].
    pub async fn create(&self, name: &str, role: Role) -> ServiceResult<(TokenRecord, String)> {
        Ok(create_token(self.store.as_ref(), name, role, now()).await?)
    }

    /// Every token, by name (no secrets: only hashes are stored).
    pub async fn list(&self) -> ServiceResult<Vec<TokenRecord>> {
        Ok(self.store.list_tokens().await?)
    }

    /// Revokes the token called `name`; revoking twice is fine.
    pub async fn revoke(&self, name: &str) -> ServiceResult<TokenRecord> {
        self.store
            .revoke_token(name, now())
            .await
            .map_err(ServiceError::not_found(|| {
                format!("no token named {name:?}")
            }))
    }
}
