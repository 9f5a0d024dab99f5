//! Authentication and roles.
//!
//! Tokens look like `lull_<id>_<secret>`: the id finds the stored record, the
//! secret is checked against its SHA-256 in constant time. Only the hash is
//! stored. Verified tokens are cached per process for a short time so the
//! hot paths (a paused claim) stay free of database round trips; revocation
//! clears every process's cache at once on PostgreSQL (NOTIFY) and takes
//! effect within the cache lifetime elsewhere.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{Role, TokenRecord};
use crate::storage::{StoreError, TokenStore};

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

/// A token bucket per client address for authentication failures: a burst,
/// then one more attempt per `refill`.
pub struct FailureLimiter {
    burst: u32,
    refill: Duration,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl FailureLimiter {
    pub fn new(burst: u32, refill: Duration) -> Self {
        FailureLimiter {
            burst,
            refill,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn level(&self, tokens: f64, since: Instant, now: Instant) -> f64 {
        let refilled =
            now.saturating_duration_since(since).as_secs_f64() / self.refill.as_secs_f64();
        (tokens + refilled).min(f64::from(self.burst))
    }

    /// `Some(retry_after)` when this address has used up its failures.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().ok()?;
        let (tokens, since) = *buckets.get(&ip)?;
        let level = self.level(tokens, since, now);
        (level < 1.0).then(|| self.refill.mul_f64(1.0 - level))
    }

    /// Records one failure.
    pub fn fail(&self, ip: IpAddr, now: Instant) {
        if let Ok(mut buckets) = self.buckets.lock() {
            if buckets.len() > 100_000 {
                buckets.clear(); // bounded memory under an address-spraying attack
            }
            let (tokens, since) = buckets
                .get(&ip)
                .copied()
                .unwrap_or((f64::from(self.burst), now));
            let level = self.level(tokens, since, now);
            buckets.insert(ip, ((level - 1.0).max(0.0), now));
        }
    }
}

/// Why a credential was refused (logged; never the credential itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed,
    Unknown,
    WrongSecret,
    Revoked,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed token",
            AuthFailure::Unknown => "unknown token",
            AuthFailure::WrongSecret => "wrong secret",
            AuthFailure::Revoked => "revoked token",
        }
    }
}

/// Verifies credentials, with a short per-process cache.
pub struct Authenticator {
    pub mode: AuthMode,
    store: Arc<dyn TokenStore>,
    cache_for: Duration,
    cache: Mutex<HashMap<String, (TokenRecord, Instant)>>,
    pub limiter: FailureLimiter,
    /// `/metrics` without a token.
    pub metrics_public: bool,
}

impl Authenticator {
    pub fn new(
        mode: AuthMode,
        store: Arc<dyn TokenStore>,
        cache_for: Duration,
        metrics_public: bool,
        failure_burst: u32,
    ) -> Self {
        Authenticator {
            mode,
            store,
            cache_for,
            cache: Mutex::new(HashMap::new()),
            limiter: FailureLimiter::new(failure_burst, Duration::from_secs(1)),
            metrics_public,
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
        let (id, secret) = parse_token(token).ok_or(Ok(AuthFailure::Malformed))?;
        let cached = self.cache.lock().ok().and_then(|c| {
            c.get(id)
                .filter(|(_, at)| at.elapsed() < self.cache_for)
                .map(|(r, _)| r.clone())
        });
        let record = match cached {
            Some(r) => r,
            None => {
                let r = self
                    .store
                    .find_token(id)
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
        Ok(Caller {
            name: record.name,
            role: Some(record.role),
            token_id: Some(record.id),
        })
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
    fn limiter_allows_a_burst_then_blocks_then_refills() {
        let l = FailureLimiter::new(3, Duration::from_secs(1));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.blocked(ip, t0).is_none());
            l.fail(ip, t0);
        }
        let wait = l.blocked(ip, t0).expect("blocked after the burst");
        assert!(wait <= Duration::from_secs(1));
        assert!(l.blocked(other, t0).is_none(), "per address");
        assert!(
            l.blocked(ip, t0 + Duration::from_millis(1100)).is_none(),
            "refilled"
        );
    }
}
