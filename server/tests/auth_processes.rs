//! Auth with real processes: `lull token` on the command line, disabled
//! mode's loopback rule, and tokens never written to the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::process::Command;

use common::process::Lull;
use serde_json::json;

fn lull(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("LULL_AUTH")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn disabled_auth_refuses_a_public_address_without_the_flag() {
    let db = common::empty_sqlite();
    let out = lull(&["serve", "--listen", "0.0.0.0:0", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen"));
    let out = lull(&["check-config", "--listen", "0.0.0.0:8080"]);
    assert_eq!(out.status.code(), Some(2));
    let out = lull(&[
        "check-config",
        "--listen",
        "0.0.0.0:8080",
        "--auth",
        "token",
    ]);
    assert!(out.status.success());
    // With the flag it starts, and says loudly what it is doing.
    let server = Lull::start_with(
        &db.url,
        &["--allow-insecure-bind", "--listen", "0.0.0.0:0"],
        &[],
    );
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("AUTHENTICATION IS DISABLED"), "{log}");
}

async fn tokens_from_the_cli_work_and_never_reach_the_logs(url: &str) {
    let create = |name: &str, role: &str| {
        let out = lull(&[
            "token",
            "create",
            "--name",
            name,
            "--role",
            role,
            "--database-url",
            url,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let op = create("ops-alice", "operator");
    let viewer = create("dash-viewer", "viewer");
    assert!(op.starts_with("lull_") && op.len() > 60);
    let dup = lull(&[
        "token",
        "create",
        "--name",
        "ops-alice",
        "--role",
        "viewer",
        "--database-url",
        url,
    ]);
    assert_eq!(dup.status.code(), Some(2));
    let bad_role = lull(&[
        "token",
        "create",
        "--name",
        "x",
        "--role",
        "root",
        "--database-url",
        url,
    ]);
    assert_eq!(bad_role.status.code(), Some(2));

    let server = Lull::start_with(
        url,
        &["--auth", "token"],
        &[("LULL_LOG", "debug,tower_http=trace")],
    );
    let c = reqwest::Client::new();
    let pause = json!({"action": "pause", "mode": "drain", "reason": "cli token"});
    let r = c
        .post(server.url("/api/system/worker-pause"))
        .bearer_auth(&op)
        .json(&pause)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["requestedBy"], "ops-alice");
    let r = c
        .post(server.url("/api/system/worker-pause"))
        .bearer_auth(&viewer)
        .json(&pause)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The right id with a wrong secret (the last character changed: to 1 if
    // it was 0, so it always differs).
    let last = if op.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &op[..op.len() - 1]);
    let r = c
        .get(server.url("/status"))
        .bearer_auth(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(server.url("/auth/login"))
        .json(&json!({"token": viewer}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200, "metrics stay public by default");

    let list = lull(&["token", "list", "--database-url", url]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        listed.contains("ops-alice") && listed.contains("operator"),
        "{listed}"
    );
    assert!(!listed.contains(&op[10..]), "no secret in the listing");
    let revoke = lull(&["token", "revoke", "dash-viewer", "--database-url", url]);
    assert!(revoke.status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let r = c
            .get(server.url("/status"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        if r.status() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revoked token still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let unknown = lull(&["token", "revoke", "nobody", "--database-url", url]);
    assert_eq!(unknown.status.code(), Some(2));

    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("authentication failed"), "failures are logged");
    for secret in [&op, &viewer, &wrong] {
        let (_, tail) = secret.rsplit_once('_').unwrap();
        assert!(
            !log.contains(tail),
            "a token secret appeared in the server log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tokens_from_the_cli_work_and_never_reach_the_logs() {
    let db = common::empty_sqlite();
    tokens_from_the_cli_work_and_never_reach_the_logs(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tokens_from_the_cli_work_and_never_reach_the_logs() {
    let Some(db) = common::empty_postgres().await else {
        return;
    };
    tokens_from_the_cli_work_and_never_reach_the_logs(&db.url).await;
}
