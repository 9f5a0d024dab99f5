//! Authentication and roles.
//!
//! Tokens look like `lull_<id>_<secret>`: the id finds the stored record, the
//! secret is checked against its SHA-256 in constant time. Only the hash is
//! stored. Verified tokens are cached per process for a short time so the
//! hot paths (a paused claim) stay free of database round trips; revocation
//! clears every process's cache at once on PostgreSQL (NOTIFY) and takes
//! effect within the cache lifetime elsewhere.
//!
//! The dashboard signs in once with a token and then holds an opaque
//! session id (see [`Authenticator::start_session`]); failed credentials
//! are rate-limited per client address ([`limiter`], [`proxies`]).

mod limiter;
mod proxies;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use limiter::FailureLimiter;
pub use proxies::TrustedProxies;

use crate::domain::{Role, SessionRecord, TokenRecord};
use crate::storage::{SessionStore, Store, StoreError, TokenStore};

/// `LULL_AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Local use: every request acts as `local`, with every permission.
    Disabled,
    /// Bearer tokens (or the dashboard's session cookie) with roles.
    Token,
}

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone, signed in or not (`/livez`, static assets, sign-in).
    Public,
    /// Anyone, but a credential that is sent is verified like on any other
    /// route (401 when it is bad) and its caller handed to the handler,
    /// which shows more to readers: `/health` answers everyone with its
    /// verdict and check names, and readers with the details.
    Open,
    /// Viewers and operators.
    Read,
    /// Reading jobs: viewers, operators and producers.
    ReadJobs,
    /// Adding jobs (single and batch): producers and operators.
    Enqueue,
    /// Workers (acting for themselves).
    Work,
    /// Operators.
    Operate,
    /// Any signed-in role (the MCP endpoint: each tool then checks the
    /// access of the REST route it mirrors).
    SignedIn,
}

/// Who is calling: the actor recorded in audit events and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    /// `None` in disabled mode: the local user may do everything.
    pub role: Option<Role>,
    /// The token this caller presented (`None` in disabled mode): open
    /// event streams are counted and ended per token.
    pub token_id: Option<String>,
}

impl Caller {
    pub fn local() -> Caller {
        Caller {
            name: "local".into(),
            role: None,
            token_id: None,
        }
    }

    pub fn allows(&self, access: Access) -> bool {
        matches!(
            (self.role, access),
            (None, _)
                | (_, Access::Public | Access::Open)
                | (Some(_), Access::SignedIn)
                | (Some(Role::Viewer), Access::Read | Access::ReadJobs)
                | (
                    Some(Role::Operator),
                    Access::Read | Access::ReadJobs | Access::Enqueue | Access::Operate
                )
                | (Some(Role::Producer), Access::ReadJobs | Access::Enqueue)
                | (Some(Role::Worker), Access::Work)
        )
    }

    /// A worker token acts only as the worker of its own name.
    pub fn may_act_as_worker(&self, worker_id: &str) -> bool {
        match self.role {
            Some(Role::Worker) => self.name == worker_id,
            _ => true,
        }
    }
}

/// A freshly minted token: the secret is shown once, only the hash is kept.
pub struct NewToken {
    pub id: String,
    pub secret_hash: String,
    /// The full bearer token to hand to the user.
    pub token: String,
}

pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Mints a token: 48 random bits of id, 244 of secret (v4 UUIDs).
pub fn mint_token() -> NewToken {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    NewToken {
        secret_hash: hash_secret(&secret),
        token: format!("lull_{id}_{secret}"),
        id,
    }
}

/// Splits `lull_<id>_<secret>`.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("lull_")?;
    let (id, secret) = rest.split_once('_')?;
    let plain =
        |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (plain(id) && plain(secret)).then_some((id, secret))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// Why a credential was refused (logged; never the credential itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed,
    Unknown,
    WrongSecret,
    Revoked,
    /// A session cookie that is not (or no longer) a live session: signed
    /// out, expired, idle too long, or its token revoked.
    NoSession,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed token",
            AuthFailure::Unknown => "unknown token",
            AuthFailure::WrongSecret => "wrong secret",
            AuthFailure::Revoked => "revoked token",
            AuthFailure::NoSession => "unknown or ended session",
        }
    }
}

/// How long a dashboard session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after sign-in, however active (the cookie's
    /// `Max-Age`).
    pub lifetime: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(60 * 60),
            lifetime: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// A signed-in dashboard session, as handed to the browser.
pub struct NewSession {
    /// The cookie value: the only copy of the session id.
    pub id: String,
    /// The cookie's `Max-Age`.
    pub lifetime: Duration,
}

/// Session ids: 244 random bits (two v4 UUIDs), hex.
fn mint_session_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A presented session id, if it has the shape of one (anything else is
/// refused without a lookup, including a raw token from an old cookie).
fn session_id_hash(id: &str) -> Option<String> {
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash_secret(id))
}

/// `now` minus `d` (the epoch for a span too long to subtract).
fn before(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Verifies credentials, with a short per-process cache.
pub struct Authenticator {
    pub mode: AuthMode,
    store: Arc<dyn Store>,
    cache_for: Duration,
    cache: Mutex<HashMap<String, (TokenRecord, Instant)>>,
    /// Failed credentials per client address (charged only after a
    /// failure: a valid credential never meets it).
    pub limiter: FailureLimiter,
    /// Whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: TrustedProxies,
    pub sessions: SessionPolicy,
    /// `/metrics` without a token.
    pub metrics_public: bool,
}

/// The tunables of an [`Authenticator`].
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// How long a verified token is trusted before it is read again.
    pub cache_for: Duration,
    pub metrics_public: bool,
    /// Failed authentications allowed per client address before 429 (one
    /// more per second after that).
    pub failure_burst: u32,
    pub trusted_proxies: TrustedProxies,
    pub sessions: SessionPolicy,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, settings: AuthSettings) -> Self {
        Authenticator {
            mode: settings.mode,
            store,
            cache_for: settings.cache_for,
            cache: Mutex::new(HashMap::new()),
            limiter: FailureLimiter::new(settings.failure_burst, Duration::from_secs(1)),
            trusted_proxies: settings.trusted_proxies,
            sessions: settings.sessions,
            metrics_public: settings.metrics_public,
        }
    }

    /// Forgets every cached token (a token was created or revoked).
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// Checks a presented token. `Err(Ok(reason))` is a refusal,
    /// `Err(Err(_))` a storage failure.
    pub async fn verify(&self, token: &str) -> Result<Caller, Result<AuthFailure, StoreError>> {
        self.verify_record(token, true).await.map(caller_of)
    }

    /// The token's record once its secret is checked and it is not
    /// revoked; `cached`: a record read within the cache lifetime will do.
    async fn verify_record(
        &self,
        token: &str,
        cached: bool,
    ) -> Result<TokenRecord, Result<AuthFailure, StoreError>> {
        let (id, secret) = parse_token(token).ok_or(Ok(AuthFailure::Malformed))?;
        let cached = self.cache.lock().ok().filter(|_| cached).and_then(|c| {
            c.get(id)
                .filter(|(_, at)| at.elapsed() < self.cache_for)
                .map(|(r, _)| r.clone())
        });
        let record = match cached {
            Some(r) => r,
            None => {
                let r = TokenStore::find_token(&*self.store, id)
                    .await
                    .map_err(Err)?
                    .ok_or(Ok(AuthFailure::Unknown))?;
                if let Ok(mut c) = self.cache.lock() {
                    c.insert(id.to_string(), (r.clone(), Instant::now()));
                }
                r
            }
        };
        if !secret_matches(secret, &record.secret_hash) {
            return Err(Ok(AuthFailure::WrongSecret));
        }
        if record.revoked_at.is_some() {
            return Err(Ok(AuthFailure::Revoked));
        }
        Ok(record)
    }

    /// Signs in to the dashboard: verifies the token and starts a session
    /// for it. The session id is returned once, for the cookie; only its
    /// hash is stored.
    pub async fn sign_in(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Caller, NewSession), Result<AuthFailure, StoreError>> {
        // Read afresh: a session must not outlive a revocation this
        // process has not heard of yet (SQLite's cache lifetime).
        let record = self.verify_record(token, false).await?;
        let id = mint_session_id();
        let session = SessionRecord {
            id_hash: hash_secret(&id),
            token_id: record.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: chrono::Duration::from_std(self.sessions.lifetime)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(now),
        };
        let idle_since = before(now, self.sessions.idle);
        SessionStore::create_session(&*self.store, &session, now, idle_since)
            .await
            .map_err(Err)?;
        let new = NewSession {
            id,
            lifetime: self.sessions.lifetime,
        };
        Ok((caller_of(record), new))
    }

    /// The caller of a session cookie: its token's name, role and id, so
    /// the audit actor is the token's as with a bearer token. Read from the
    /// database on every request (no cache): a sign-out or a revocation
    /// ends the session on the very next request, on every replica.
    pub async fn resume_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Caller, Result<AuthFailure, StoreError>> {
        let id_hash = session_id_hash(id).ok_or(Ok(AuthFailure::NoSession))?;
        let idle_since = before(now, self.sessions.idle);
        let (token, last_seen) =
            SessionStore::find_session(&*self.store, &id_hash, now, idle_since)
                .await
                .map_err(Err)?
                .ok_or(Ok(AuthFailure::NoSession))?;
        // Record the use at most ten times per idle period, not on every
        // request: the idle limit is kept to within a tenth.
        if last_seen <= before(now, self.sessions.idle / 10) {
            SessionStore::touch_session(&*self.store, &id_hash, now)
                .await
                .map_err(Err)?;
        }
        Ok(caller_of(token))
    }

    /// Signs a session out; false when it was not a live session.
    pub async fn end_session(&self, id: &str) -> Result<bool, StoreError> {
        match session_id_hash(id) {
            Some(h) => SessionStore::delete_session(&*self.store, &h).await,
            None => Ok(false),
        }
    }
}

fn caller_of(record: TokenRecord) -> Caller {
    Caller {
        name: record.name,
        role: Some(record.role),
        token_id: Some(record.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_the_issue_says() {
        let c = |role| Caller {
            name: "n".into(),
            role: Some(role),
            token_id: Some("t".into()),
        };
        // Public, Read, ReadJobs, Enqueue, Work, Operate.
        let table = [
            (Role::Viewer, [true, true, true, false, false, false]),
            (Role::Worker, [true, false, false, false, true, false]),
            (Role::Operator, [true, true, true, true, false, true]),
            (Role::Producer, [true, false, true, true, false, false]),
        ];
        for (role, expect) in table {
            let got = [
                Access::Public,
                Access::Read,
                Access::ReadJobs,
                Access::Enqueue,
                Access::Work,
                Access::Operate,
            ]
            .map(|a| c(role).allows(a));
            assert_eq!(got, expect, "{role:?}");
        }
        assert!(Caller::local().allows(Access::Operate));
        assert!(Caller::local().allows(Access::Work));
    }

    #[test]
    fn workers_act_only_for_themselves() {
        let w = Caller {
            name: "w1".into(),
            role: Some(Role::Worker),
            token_id: Some("t".into()),
        };
        assert!(w.may_act_as_worker("w1"));
        assert!(!w.may_act_as_worker("w2"));
        assert!(Caller::local().may_act_as_worker("anyone"));
    }

    #[test]
    fn minted_tokens_parse_and_verify() {
        let t = mint_token();
        let (id, secret) = parse_token(&t.token).unwrap();
        assert_eq!(id, t.id);
        assert!(secret_matches(secret, &t.secret_hash));
        assert!(!secret_matches("nope", &t.secret_hash));
        assert_eq!(t.secret_hash.len(), 64);
        assert!(!t.token.contains(&t.secret_hash));
        for bad in [
            "",
            "lull_",
            "lull_abc",
            "token_abc_def",
            "lull_a b_c",
            "lull__x",
        ] {
            assert!(parse_token(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn session_ids_are_random_hex_and_only_their_shape_is_looked_up() {
        let a = mint_session_id();
        assert_ne!(a, mint_session_id());
        assert_eq!(session_id_hash(&a), Some(hash_secret(&a)));
        let token = mint_token().token;
        assert_eq!(
            session_id_hash(&token),
            None,
            "a raw token is no session id"
        );
        assert_eq!(session_id_hash(""), None);
    }
}
