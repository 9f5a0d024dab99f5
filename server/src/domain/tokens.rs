//! API tokens as stored, and the roles they carry. Here (not in `auth`) so
//! storage and authentication both depend on them without depending on
//! each other.

use chrono::{DateTime, Utc};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Register, heartbeat, claim, complete, fail, submit results — for
    /// itself (the token's name is its worker id).
    Worker,
    /// Everything a viewer can, plus every control action.
    Operator,
    /// An application that only adds work: enqueue (single and batch) and
    /// read jobs, nothing else.
    Producer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Worker => "worker",
            Role::Operator => "operator",
            Role::Producer => "producer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Viewer, Role::Worker, Role::Operator, Role::Producer]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A stored token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A dashboard session as stored: the browser holds only a random id, the
/// database only its SHA-256. It acts as its token (name, role) until it
/// ends: signed out, its token revoked, idle too long, or too old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub token_id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end, however active the session is.
    pub expires_at: DateTime<Utc>,
}
