//! Real processes failing: the server goes away (results wait in the spool
//! and are replayed newest-first, applied once, when it comes back), a
//! worker is `kill -9`ed mid-job (another finishes the job after the lease
//! expires), and SIGTERM drains a worker (exit 0 after the running job). On
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use common::procs::free_port;
use common::{Api, Db, Server, WorkerProc};
use nix::sys::signal::Signal;
use serde_json::json;
use uuid::Uuid;
use wire::JobStatus::{Queued, Running, Succeeded};
use wire::{ObservedState, ResultEnvelope};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The `.json` files waiting in a spool directory, by name.
fn spooled(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `execution_result-<yyyymmddThhmmssmmmZ>-<job id>.json`
fn is_spool_name(name: &str, job: Uuid) -> bool {
    let Some(rest) = name.strip_prefix("execution_result-") else {
        return false;
    };
    let Some(stamp) = rest.strip_suffix(&format!("-{job}.json")) else {
        return false;
    };
    stamp.len() == 19
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp[..8]
            .chars()
            .chain(stamp[9..18].chars())
            .all(|c| c.is_ascii_digit())
}

/// Two jobs running on one worker when the server is killed: both results
/// wait in the worker's spool (`names`), for a server restarted on `port`.
struct Spooled {
    w: WorkerProc,
    port: u16,
    older: Uuid,
    newer: Uuid,
    names: Vec<String>,
}

impl Spooled {
    async fn start(db: &Db, worker: &str) -> Spooled {
        let port = free_port();
        let server = Server::start(&db.url, port);
        let api = Api::new(&server.base);
        let w = WorkerProc::start(&server.base, worker, &db.dir.0, &["--concurrency", "2"]);
        let older = api.enqueue("sleep", json!({"ms": 1200})).await;
        let newer = api.enqueue("sleep", json!({"ms": 2400})).await;
        api.wait_status(older, Running, secs(15)).await;
        api.wait_status(newer, Running, secs(15)).await;
        server.kill();
        let names = common::eventually("two spooled results", secs(20), || {
            let n = spooled(&w.spool);
            std::future::ready((n.len() == 2).then_some(n))
        })
        .await;
        Spooled {
            w,
            port,
            older,
            newer,
            names,
        }
    }

    /// The spool file holding this job's result.
    fn file_of(&self, job: Uuid) -> std::path::PathBuf {
        let name = self
            .names
            .iter()
            .find(|n| n.ends_with(&format!("{job}.json")));
        self.w.spool.join(name.unwrap())
    }
}

async fn results_wait_in_the_spool_while_the_server_is_down(db: Db) {
    let sp = Spooled::start(&db, "spooler").await;
    let Spooled {
        ref w,
        port,
        older,
        newer,
        ref names,
    } = sp;

    // Both results land in the spool, named as the runbook says.
    assert!(names.iter().any(|n| is_spool_name(n, older)), "{names:?}");
    assert!(names.iter().any(|n| is_spool_name(n, newer)), "{names:?}");
    let file_of = |job: Uuid| sp.file_of(job);
    let older_env: ResultEnvelope =
        serde_json::from_slice(&std::fs::read(file_of(older)).unwrap()).unwrap();
    assert!(
        file_of(older) < file_of(newer),
        "timestamps sort: {names:?}"
    );

    // Back on the same port and database: replayed, newest first, deleted.
    let server = Server::start(&db.url, port);
    let api = Api::new(&server.base);
    common::eventually("the spool to empty", secs(20), || {
        std::future::ready(spooled(&w.spool).is_empty().then_some(()))
    })
    .await;
    // The worker deletes a file, then logs its replay: wait for both lines
    // (the spool can be empty a moment before the last one is read).
    let replayed: Vec<String> = w
        .wait_logs(
            "spooled result replayed and acknowledged",
            2,
            secs(10),
            |_| true,
        )
        .await
        .iter()
        .map(|l| l["idempotency_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(replayed.len(), 2, "{replayed:?}");
    assert!(
        replayed[0].starts_with(&newer.to_string()),
        "newest first: {replayed:?}"
    );
    assert!(replayed[1].starts_with(&older.to_string()), "{replayed:?}");
    assert!(spooled(&w.spool.join("rejected")).is_empty());
    for job in [older, newer] {
        let j = api.job(job).await;
        assert_eq!((j.status, j.attempts), (Succeeded, 1), "{j:?}");
    }
    // Applied exactly once: sending the file again is only acknowledged.
    let ack = api.client.submit_result(&older_env).await.unwrap();
    assert!(!ack.applied_now, "{ack:?}");
}

/// Issue #15, finding 6: a spooled result the server finally refuses (here
/// one holding a NUL, which PostgreSQL cannot store) is moved to
/// `rejected/`, and the replay goes on with the older files — it used to be
/// a 500 on PostgreSQL, "temporary", and the replay stalled behind it.
async fn a_refused_spool_file_does_not_stall_the_replay(db: Db) {
    let sp = Spooled::start(&db, "nul").await;
    let Spooled {
        ref w,
        port,
        older,
        newer,
        ..
    } = sp;
    // The newest file (replayed first) now carries a NUL in its result.
    let newer_file = sp.file_of(newer);
    let mut env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&newer_file).unwrap()).unwrap();
    env["payload"]["result"] = json!({"note": "a\u{0}b"});
    std::fs::write(&newer_file, serde_json::to_vec(&env).unwrap()).unwrap();

    let server = Server::start(&db.url, port);
    let api = Api::new(&server.base);
    common::eventually("the spool to empty", secs(20), || {
        std::future::ready(spooled(&w.spool).is_empty().then_some(()))
    })
    .await;
    let rejected = spooled(&w.spool.join("rejected"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(is_spool_name(&rejected[0], newer), "{rejected:?}");
    let j = api.wait_status(older, Succeeded, secs(10)).await;
    assert_eq!(j.attempts, 1, "{j:?}");
    assert_eq!(api.job(newer).await.status, Running, "refused: not applied");
    drop(server);
}

async fn a_killed_workers_job_is_finished_by_another_after_its_lease_expires(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let lease = ["--lease-seconds", "5"];
    let mut a = WorkerProc::start(&server.base, "crasher", &db.dir.0, &lease);
    let job = api
        .enqueue("sleep", json!({"ms": 2500, "checkpointEveryMs": 250}))
        .await;
    let running = api.wait_status(job, Running, secs(15)).await;
    assert_eq!(running.worker_id.as_deref(), Some("crasher"));
    a.kill9();

    let _b = WorkerProc::start(
        &server.base,
        "survivor",
        &db.dir.0,
        &[&lease[..], &["--wait-ms", "1000"]].concat(),
    );
    let done = api.wait_status(job, Succeeded, secs(30)).await;
    assert_eq!(done.worker_id.as_deref(), Some("survivor"), "{done:?}");
    assert_eq!(
        done.attempts, 2,
        "requeued once after the lease expired: {done:?}"
    );
}

async fn sigterm_drains_then_exits_0(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut w = WorkerProc::start(&server.base, "terminated", &db.dir.0, &[]);
    let running = api.enqueue("sleep", json!({"ms": 1500})).await;
    api.wait_status(running, Running, secs(15)).await;
    let next = api.enqueue("sleep", json!({"ms": 1})).await;

    w.signal(Signal::SIGTERM);
    let status = w.wait_exit(secs(20)).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    let done = api.job(running).await;
    assert_eq!(done.status, Succeeded, "the running job finished: {done:?}");
    assert_eq!(api.job(next).await.status, Queued, "nothing new claimed");
    assert_eq!(w.logs("draining: finishing").len(), 1);
    let workers = api.workers().await;
    assert_eq!(
        workers[0].observed_state,
        ObservedState::Stopped,
        "{workers:?}"
    );
}

async fn a_second_sigterm_stops_at_once(db: Db) {
    let server = Server::start(&db.url, 0);
    let api = Api::new(&server.base);
    let mut w = WorkerProc::start(&server.base, "impatient", &db.dir.0, &[]);
    let job = api.enqueue("sleep", json!({"ms": 60000})).await;
    api.wait_status(job, Running, secs(15)).await;
    w.signal(Signal::SIGTERM);
    w.wait_logs("draining: finishing", 1, secs(5), |_| true)
        .await;
    w.signal(Signal::SIGTERM);
    let status = w.wait_exit(secs(10)).await;
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
    assert_eq!(
        api.job(job).await.status,
        Running,
        "abandoned, not reported"
    );
}

testkit::on_both_stores!(
    results_wait_in_the_spool_while_the_server_is_down,
    a_refused_spool_file_does_not_stall_the_replay,
    a_killed_workers_job_is_finished_by_another_after_its_lease_expires,
    sigterm_drains_then_exits_0,
    a_second_sigterm_stops_at_once,
);
