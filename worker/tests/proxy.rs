//! A worker behind a proxy, and a worker whose credential is refused: the
//! runtime acts on Lull's JSON error code, never on the bare status. A
//! proxy's HTML 404 for a lease heartbeat mid-job does not abort the job; a
//! result the proxy refuses (404, 401, 403) stays spooled and is delivered
//! once it recovers; a result Lull itself refuses with 401 (a revoked
//! token) stays spooled, said at `error`, instead of being filed as
//! refused. Real server, real proxy, real worker processes; on
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::proxy::Proxy;
use common::{eventually, lull_cli, Api, Db, Server, WorkerProc};
use serde_json::json;
use wire::JobStatus::{Running, Succeeded};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const NOT_FOUND_PAGE: &str = "<html><body><h1>404 Not Found</h1>nginx</body></html>";
const UNAUTHORIZED_PAGE: &str = "<html><body><h1>401 Authorization Required</h1></body></html>";
const FORBIDDEN_PAGE: &str = "<html><body><h1>403 Forbidden</h1></body></html>";

/// The files in `<spool>/rejected/`.
fn rejected(spool: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(spool.join("rejected"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn a_proxys_error_pages_neither_abort_the_job_nor_lose_its_result(db: Db) {
    let server = Server::start(&db.url, 0);
    let proxy = Proxy::start(&server.base);
    let api = Api::new(&server.base);
    let job = api
        .enqueue("sleep", json!({"ms": 4000, "checkpointEveryMs": 200}))
        .await;
    // Mid-job the proxy answers the job's lease heartbeats with its own
    // 404 page three times (a backend swapped during a deploy), and the
    // result first with a 404 page, then with an auth layer's 401 and 403
    // (until its operator fixes it).
    let heartbeat = format!("/api/queue/jobs/{job}/heartbeat");
    proxy.intercept(&heartbeat, 404, NOT_FOUND_PAGE, 3);
    proxy.intercept("/api/workers/results", 404, NOT_FOUND_PAGE, 1);
    proxy.intercept("/api/workers/results", 401, UNAUTHORIZED_PAGE, 1);
    proxy.intercept("/api/workers/results", 403, FORBIDDEN_PAGE, 1);
    let w = WorkerProc::start(
        &proxy.base,
        "behind-proxy",
        &db.dir.0,
        &["--lease-seconds", "6"],
    );

    let done = api.wait_status(job, Succeeded, secs(30)).await;
    assert_eq!(done.attempts, 1, "the same attempt finished: {done:?}");
    assert_eq!(done.result.as_ref().unwrap()["sleptMs"], 4000, "{done:?}");
    assert_eq!(proxy.intercepted(&heartbeat), 3);
    assert_eq!(proxy.intercepted("/api/workers/results"), 3);
    // The heartbeat failures were retried, the job never abandoned.
    assert!(!w.logs("lease heartbeat failed; retrying").is_empty());
    assert!(!w.logs("lease heartbeat going again").is_empty());
    assert!(
        w.logs("lease lost").is_empty(),
        "{:?}",
        w.logs("lease lost")
    );
    assert!(w.logs("lease heartbeat refused").is_empty());
    // The result was spooled, not filed as refused, and replayed.
    let spooled = w.logs("result not delivered: spooled for replay");
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    w.wait_logs(
        "spooled result replayed and acknowledged",
        1,
        secs(10),
        |_| true,
    )
    .await;
    assert!(w.logs("result refused by the server").is_empty());
    assert!(rejected(&w.spool).is_empty(), "{:?}", rejected(&w.spool));
}

async fn a_result_refused_for_a_revoked_token_stays_spooled(db: Db) {
    let server = Server::start_with(&db.url, 0, &[("LULL_AUTH", "token")]);
    let token = |name: &str, role: &str| {
        let out = lull_cli(
            &server.base,
            &[
                "token",
                "create",
                "--name",
                name,
                "--role",
                role,
                "--database-url",
                &db.url,
            ],
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let ops = token("ops", "operator");
    let worker_token = token("w-auth", "worker");
    let api = Api::with_token(&server.base, &ops);
    let job = api.enqueue("sleep", json!({"ms": 3000})).await;
    let mut w = WorkerProc::start_with_env(
        &server.base,
        "w-auth",
        &db.dir.0,
        &[],
        &[("LULL_TOKEN", &worker_token)],
    );
    api.wait_status(job, Running, secs(15)).await;

    // The token is revoked while the job runs: its result is refused with
    // Lull's own 401. It is kept in the spool (an operator can fix the
    // token), said loudly, and the replay keeps trying.
    let out = lull_cli(
        &server.base,
        &["token", "revoke", "w-auth", "--database-url", &db.url],
    );
    assert!(out.status.success(), "{out:?}");
    let refused = w
        .wait_logs(
            "result not delivered: the server refuses this worker's credential",
            1,
            secs(20),
            |_| true,
        )
        .await;
    assert_eq!(refused[0]["level"], "ERROR", "{refused:?}");
    assert!(
        refused[0]["error"].as_str().unwrap().starts_with("401"),
        "{refused:?}"
    );
    w.wait_logs(
        "spool replay paused: the server refuses this worker's credential",
        1,
        secs(10),
        |_| true,
    )
    .await;
    w.wait_logs("spool replay deferred", 3, secs(10), |_| true)
        .await;
    w.kill9();
    assert!(w.logs("result refused by the server").is_empty());
    assert!(rejected(&w.spool).is_empty(), "{:?}", rejected(&w.spool));
    let kept: Vec<String> = std::fs::read_dir(&w.spool)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(&format!("{job}.json")))
        .collect();
    assert_eq!(kept.len(), 1, "the result waits in the spool: {kept:?}");
    // Nothing got through. (The revoked worker's 401s may have tripped the
    // failure rate limit for this address: ask until it answers.)
    let now = eventually("the job's state", secs(10), || async {
        api.client.job(job).await.ok()
    })
    .await;
    assert_eq!(now.status, Running, "{now:?}");
}

testkit::on_both_stores!(
    a_proxys_error_pages_neither_abort_the_job_nor_lose_its_result,
    a_result_refused_for_a_revoked_token_stays_spooled,
);
