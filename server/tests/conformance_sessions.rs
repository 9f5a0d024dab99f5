//! Storage conformance for dashboard sessions, on SQLite and PostgreSQL:
//! a session finds its token while live, and ends when deleted, when its
//! token is revoked, when idle too long and at its absolute expiry; sign-in
//! prunes the sessions that have ended.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use chrono::{DateTime, Duration, Utc};
use common::store::t0;
use common::TestDb;
use server::domain::{Role, SessionRecord, TokenRecord};

fn token(id: &str, name: &str, now: DateTime<Utc>) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        name: name.into(),
        role: Role::Operator,
        secret_hash: "h".repeat(64),
        created_at: now,
        revoked_at: None,
    }
}

fn session(id_hash: &str, token_id: &str, now: DateTime<Utc>) -> SessionRecord {
    SessionRecord {
        id_hash: id_hash.into(),
        token_id: token_id.into(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::hours(12),
    }
}

/// Stores a session as sign-in does at `now` (its prune of ended sessions
/// with a one-hour idle limit).
async fn add_session(db: &TestDb, record: &SessionRecord, now: DateTime<Utc>) {
    db.store
        .create_session(record, now, now - Duration::hours(1))
        .await
        .unwrap();
}

/// Stores the operator token `tok1` ("alice").
async fn add_alice(db: &TestDb, now: DateTime<Utc>) {
    db.store
        .create_token(&token("tok1", "alice", now))
        .await
        .unwrap();
}

/// The name of the token a session finds at `now` with this idle limit.
async fn found(db: &TestDb, id_hash: &str, now: DateTime<Utc>, idle: Duration) -> Option<String> {
    db.store
        .find_session(id_hash, now, now - idle)
        .await
        .unwrap()
        .map(|(t, _)| t.name)
}

async fn sessions_live_until_signed_out_idle_or_expired(db: TestDb) {
    let t = t0();
    let hour = Duration::hours(1);
    add_alice(&db, t).await;
    add_session(&db, &session("s1", "tok1", t), t).await;
    let (record, last_seen) = db
        .store
        .find_session("s1", t, t - hour)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record, last_seen), (token("tok1", "alice", t), t));
    assert_eq!(found(&db, "nope", t, hour).await, None);

    // Idle: unused for an hour it has ended; a touch starts the idle time
    // again, and never moves it backwards.
    assert_eq!(found(&db, "s1", t + hour, hour).await, None);
    let later = t + Duration::minutes(50);
    db.store.touch_session("s1", later).await.unwrap();
    db.store.touch_session("s1", t).await.unwrap();
    let (_, seen) = db
        .store
        .find_session("s1", t + hour, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, later);
    assert_eq!(
        found(&db, "s1", t + hour, hour).await.as_deref(),
        Some("alice")
    );

    // Absolute: at expires_at it has ended however recently it was used.
    let end = t + Duration::hours(12);
    db.store
        .touch_session("s1", end - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        found(&db, "s1", end - Duration::milliseconds(1), hour)
            .await
            .as_deref(),
        Some("alice")
    );
    assert_eq!(found(&db, "s1", end, hour).await, None);

    // Deleted (sign-out): once.
    assert!(db.store.delete_session("s1").await.unwrap());
    assert!(!db.store.delete_session("s1").await.unwrap());
    assert_eq!(found(&db, "s1", t, hour).await, None);
}

async fn revoking_a_token_ends_its_sessions_only(db: TestDb) {
    let t = t0();
    let hour = Duration::hours(1);
    for (id, name) in [("tok1", "alice"), ("tok2", "bob")] {
        db.store.create_token(&token(id, name, t)).await.unwrap();
    }
    for (s, tok) in [("a1", "tok1"), ("a2", "tok1"), ("b1", "tok2")] {
        add_session(&db, &session(s, tok, t), t).await;
    }
    db.store.revoke_token("alice", t).await.unwrap();
    for s in ["a1", "a2"] {
        assert_eq!(found(&db, s, t, hour).await, None, "{s}");
        assert!(
            !db.store.delete_session(s).await.unwrap(),
            "{s}: deleted with the token"
        );
    }
    assert_eq!(found(&db, "b1", t, hour).await.as_deref(), Some("bob"));
}

/// A revoked token's session never matches, even if a sign-in raced the
/// revocation and stored it afterwards.
async fn a_revoked_tokens_session_never_matches(db: TestDb) {
    let t = t0();
    let hour = Duration::hours(1);
    add_alice(&db, t).await;
    db.store.revoke_token("alice", t).await.unwrap();
    add_session(&db, &session("late", "tok1", t), t).await;
    assert_eq!(found(&db, "late", t, hour).await, None);
}

async fn sign_in_prunes_the_sessions_that_have_ended(db: TestDb) {
    let t = t0();
    add_alice(&db, t).await;
    add_session(&db, &session("idle", "tok1", t), t).await;
    let mut expired = session("expired", "tok1", t + Duration::minutes(30));
    expired.expires_at = t + Duration::minutes(90);
    expired.last_seen_at = t + Duration::minutes(100);
    add_session(&db, &expired, t).await;
    let mut live = session("live", "tok1", t + Duration::minutes(90));
    live.created_at = t;
    add_session(&db, &live, t).await;
    // At t + 2 h: "idle" was last seen 2 h ago, "expired" expired at
    // t + 90 min, "live" was seen 30 min ago.
    let now = t + Duration::hours(2);
    add_session(&db, &session("new", "tok1", now), now).await;
    for (s, kept) in [
        ("idle", false),
        ("expired", false),
        ("live", true),
        ("new", true),
    ] {
        assert_eq!(db.store.delete_session(s).await.unwrap(), kept, "{s}");
    }
}

on_every_store!(
    sessions_live_until_signed_out_idle_or_expired,
    revoking_a_token_ends_its_sessions_only,
    a_revoked_tokens_session_never_matches,
    sign_in_prunes_the_sessions_that_have_ended,
);
