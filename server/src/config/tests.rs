//! The configuration's resolution and validation.

use super::*;

#[test]
fn defaults_resolve() {
    let c = ConfigArgs::default().resolve().unwrap();
    assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(c.pause_poll_interval_ms, 5000);
    assert_eq!(c.retention, RetentionPolicy::default());
    assert_eq!(c.retention_interval_ms, 60_000);
}

#[test]
fn retention_ages_resolve_with_zero_for_forever() {
    let c = ConfigArgs {
        retain_failed: Some("0".into()),
        retain_events: Some("90d".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(c.retention.failed, None);
    assert_eq!(c.retention.events, Some(chrono::Duration::days(90)));
    assert_eq!(c.retention.succeeded, Some(chrono::Duration::days(7)));
    let bad = ConfigArgs {
        retain_succeeded: Some("a week".into()),
        ..Default::default()
    };
    assert!(bad.resolve().unwrap_err().0.contains("retain_succeeded"));
}

#[test]
fn trusted_proxies_are_none_by_default_and_bad_ones_are_named() {
    assert!(ConfigArgs::default()
        .resolve()
        .unwrap()
        .trusted_proxies
        .is_empty());
    let c = ConfigArgs {
        trusted_proxies: vec!["10.0.0.0/8".into(), "192.0.2.1".into()],
        ..Default::default()
    };
    assert!(!c.resolve().unwrap().trusted_proxies.is_empty());
    let bad = ConfigArgs {
        trusted_proxies: vec!["10.0.0.0/40".into()],
        ..Default::default()
    };
    assert!(bad.resolve().unwrap_err().0.contains("10.0.0.0/40"));
}

#[test]
fn statsd_is_off_by_default_and_parsed_when_set() {
    assert_eq!(ConfigArgs::default().resolve().unwrap().statsd, None);
    let c = ConfigArgs {
        statsd: Some("127.0.0.1:8125".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        c.statsd.map(|t| t.to_string()).as_deref(),
        Some("127.0.0.1:8125")
    );
    let bad = ConfigArgs {
        statsd: Some("statsd.local".into()),
        ..Default::default()
    };
    assert!(bad.resolve().unwrap_err().0.contains("LULL_STATSD"));
}

#[test]
fn bad_values_are_named() {
    let bad_listen = ConfigArgs {
        listen: Some("localhost".into()),
        ..Default::default()
    };
    assert!(bad_listen
        .resolve()
        .unwrap_err()
        .0
        .contains("listen address"));
    let bad_db = ConfigArgs {
        database_url: Some("mysql://x".into()),
        ..Default::default()
    };
    assert!(bad_db.resolve().unwrap_err().0.contains("not supported"));
    let bad_poll = ConfigArgs {
        pause_poll_interval_ms: Some(1),
        ..Default::default()
    };
    assert!(bad_poll
        .resolve()
        .unwrap_err()
        .0
        .contains("pause_poll_interval_ms"));
}

#[test]
fn disabled_auth_refuses_a_public_bind_without_the_flag() {
    let public = ConfigArgs {
        listen: Some("0.0.0.0:8080".into()),
        ..Default::default()
    };
    assert!(public
        .resolve()
        .unwrap_err()
        .0
        .contains("refusing to listen"));
    let allowed = ConfigArgs {
        allow_insecure_bind: true,
        ..public.clone()
    };
    assert!(allowed.resolve().is_ok());
    let token = ConfigArgs {
        auth: Some("token".into()),
        ..public
    };
    assert!(token.resolve().is_ok());
    let bad = ConfigArgs {
        auth: Some("ldap".into()),
        ..Default::default()
    };
    assert!(bad.resolve().unwrap_err().0.contains("auth is"));
}

#[test]
fn stream_caps_default_and_refuse_zero() {
    let c = ConfigArgs::default().resolve().unwrap();
    assert_eq!(c.streams, crate::streams::StreamLimits::default());
    let c = ConfigArgs {
        max_streams: Some(40),
        max_streams_per_token: Some(4),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!((c.streams.total, c.streams.per_token), (40, 4));
    let zero = ConfigArgs {
        max_streams_per_token: Some(0),
        ..Default::default()
    };
    assert!(zero.resolve().unwrap_err().0.contains("max_streams"));
}

#[test]
fn allowed_hosts_come_from_the_list_and_the_public_url() {
    let c = ConfigArgs {
        allowed_hosts: vec!["a.example".into(), "b.example".into()],
        public_url: Some("https://user@lull.example.com:8443/base".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        c.allowed_hosts,
        ["a.example", "b.example", "lull.example.com"]
    );
    let bad = ConfigArgs {
        public_url: Some("lull.example.com".into()),
        ..Default::default()
    };
    assert!(bad.resolve().unwrap_err().0.contains("public_url"));
}

#[test]
fn file_fills_in_and_flags_win() {
    let dir = std::env::temp_dir().join(format!("lull-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lull.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:9999\"\npause_poll_interval_ms = 2000\n",
    )
    .unwrap();
    let c = ConfigArgs {
        config: Some(path.clone()),
        pause_poll_interval_ms: Some(3000),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(c.listen.port(), 9999);
    assert_eq!(c.pause_poll_interval_ms, 3000);
    std::fs::write(&path, "lisen = \"x\"\n").unwrap();
    let err = ConfigArgs {
        config: Some(path),
        ..Default::default()
    }
    .resolve()
    .unwrap_err();
    assert!(err.0.contains("invalid"), "{err}");
}

#[test]
fn sqlite_commit_is_group_by_default_and_each_on_request() {
    use crate::storage::sqlite::CommitMode;
    let c = ConfigArgs::default().resolve().unwrap();
    assert_eq!(c.store.sqlite_commit, CommitMode::Group);
    let c = ConfigArgs {
        sqlite_commit: Some("each".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(c.store.sqlite_commit, CommitMode::Each);
    let bad = ConfigArgs {
        sqlite_commit: Some("batch".into()),
        ..Default::default()
    };
    let e = bad.resolve().unwrap_err().0;
    assert!(e.contains("\"batch\"") && e.contains("group"), "{e}");
}

#[test]
fn a_session_url_is_for_postgres_only() {
    let c = ConfigArgs {
        database_url: Some("postgres://u@pgbouncer:6432/lull".into()),
        database_session_url: Some("postgres://u@db:5432/lull".into()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        c.store.pg_session_url.as_deref(),
        Some("postgres://u@db:5432/lull")
    );
    assert_eq!(
        ConfigArgs::default()
            .resolve()
            .unwrap()
            .store
            .pg_session_url,
        None
    );
    let on_sqlite = ConfigArgs {
        database_session_url: Some("postgres://u:secret@db/lull".into()),
        ..Default::default()
    };
    let e = on_sqlite.resolve().unwrap_err().0;
    assert!(
        e.contains("database_session_url") && !e.contains("secret"),
        "{e}"
    );
}
