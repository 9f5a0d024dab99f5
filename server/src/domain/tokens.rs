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
