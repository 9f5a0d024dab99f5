//! The fault scenarios themselves. Each returns a one-line summary when all
//! checks held, or the first broken check as an error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use client::Client;
use wire::{ClaimRequest, PauseMode, PauseRequest};

use super::{
    pause_until_acked, resume_until_acked, status, verify, wait_healthy, FaultEnv, Lcg, Load,
};
use crate::db::{terminate_backends, Backend, Database};
use crate::http::client;
use crate::ledger::{Claim, Ledger};
use crate::proc::{Server, ServerOptions};

fn pg_admin(env: &FaultEnv) -> Result<&str> {
    env.pg_admin
        .as_deref()
        .ok_or_else(|| anyhow!("no PostgreSQL admin URL"))
}

async fn start(env: &FaultEnv, db: &Database, opts: &ServerOptions) -> Result<Server> {
    Server::start(&env.lull, &db.url, opts).await
}

/// A restarted server keeps its address, so the load's connections find it.
fn same_address(s: &Server, mut opts: ServerOptions) -> ServerOptions {
    opts.listen = Some(s.addr);
    opts
}

/// Claims through `c` while the state is known to be paused: none may get
/// a job. Recorded in the ledger too.
async fn claims_refused(c: &Client, ledger: &Ledger, server: usize, n: usize) -> Result<()> {
    for i in 0..n {
        let sent = Instant::now();
        let claim = ClaimRequest {
            worker_id: Some(format!("probe-{i}")),
            ..Default::default()
        };
        let job = c.claim(&claim).await?.job.map(|j| j.id);
        ledger.claim(Claim { sent, job, server });
        if let Some(job) = job {
            bail!("a claim on server {server} got a job while paused: {job}");
        }
    }
    Ok(())
}

/// PostgreSQL restarted mid-load, once while running and once while
/// paused. Claims stay refused through the outage (the paused cache answers
/// them), and the server recovers by itself.
pub async fn postgres_restart(env: &FaultEnv, cluster: &(String, String)) -> Result<String> {
    let admin = pg_admin(env)?;
    let db = Database::postgres(admin).await?;
    let server = start(env, &db, &ServerOptions::default()).await?;
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(&[server.addr], 2, 4, &ledger)?;
    let op = client(server.addr)?;
    let restart = || async {
        let out = tokio::process::Command::new("pg_ctlcluster")
            .args([cluster.0.as_str(), cluster.1.as_str(), "restart"])
            .output()
            .await
            .context("running pg_ctlcluster")?;
        if !out.status.success() {
            bail!(
                "pg_ctlcluster restart failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    restart().await?;
    wait_healthy(&op, &ledger, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    pause_until_acked(&op, &ledger, "fault: before the second restart").await?;
    // Restart while paused, claiming all the way through the outage.
    let probe = client(server.addr)?;
    let probing = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                claims_refused(&probe, &ledger, 0, 1).await?;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            anyhow::Ok(())
        })
    };
    restart().await?;
    probing.await??;
    wait_healthy(&op, &ledger, Duration::from_secs(30)).await?;
    if !status(&op).await?.0 {
        bail!("the pause did not survive the PostgreSQL restart");
    }
    resume_until_acked(&op, &ledger, "fault: after the restarts").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    load.stop().await;
    let pool = db.pool(2).await?;
    let v = verify(&pool, &ledger).await?;
    pool.close().await;
    if ledger.jobs_granted() == 0 {
        bail!("the load never got a job: the scenario tested nothing");
    }
    Ok(format!("2 restarts; {v}"))
}

/// The server's database connections (pool and LISTEN) are terminated
/// every 200 ms while load runs and the operator pauses and resumes.
pub async fn connections_killed(env: &FaultEnv) -> Result<String> {
    let admin = pg_admin(env)?;
    let db = Database::postgres(admin).await?;
    let name = db.pg_name().unwrap_or_default().to_string();
    let server = start(env, &db, &ServerOptions::default()).await?;
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(&[server.addr], 2, 4, &ledger)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (admin, stop) = (admin.to_string(), stop.clone());
        tokio::spawn(async move {
            let mut kills = 0usize;
            let until = Instant::now() + Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < until {
                kills += terminate_backends(&admin, &name, None).await.unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            kills
        })
    };
    let op = client(server.addr)?;
    let cycles = env.size.pick(2, 8);
    for i in 0..cycles {
        tokio::time::sleep(Duration::from_millis(400)).await;
        pause_until_acked(&op, &ledger, &format!("fault: kill connections {i}")).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        resume_until_acked(&op, &ledger, &format!("fault: kill connections {i} done")).await?;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills = killer.await?;
    // After the storm: the server works again without a restart.
    wait_healthy(&op, &ledger, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.stop().await;
    let pool = db.pool(2).await?;
    let v = verify(&pool, &ledger).await?;
    pool.close().await;
    if kills == 0 {
        bail!("no connection was terminated: the scenario tested nothing");
    }
    Ok(format!("{kills} connections terminated; {v}"))
}

/// Two servers under load; one is `kill -9`'d, the other carries on and is
/// paused; the killed one comes back already paused.
pub async fn one_of_two_killed(env: &FaultEnv) -> Result<String> {
    let admin = pg_admin(env)?;
    let db = Database::postgres(admin).await?;
    let a = start(env, &db, &ServerOptions::default()).await?;
    let mut b = start(env, &db, &ServerOptions::default()).await?;
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(&[a.addr, b.addr], 2, 4, &ledger)?;
    let run = Duration::from_millis(env.size.pick(800, 3000));
    tokio::time::sleep(run).await;
    b.kill9();
    tokio::time::sleep(run).await;
    let op_a = client(a.addr)?;
    pause_until_acked(&op_a, &ledger, "fault: one of two killed").await?;
    claims_refused(&op_a, &ledger, 0, 20).await?;
    let b = start(env, &db, &same_address(&b, ServerOptions::default())).await?;
    let op_b = client(b.addr)?;
    claims_refused(&op_b, &ledger, 1, 20).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    resume_until_acked(&op_b, &ledger, "fault: one of two back").await?;
    tokio::time::sleep(run).await;
    load.stop().await;
    let pool = db.pool(2).await?;
    let v = verify(&pool, &ledger).await?;
    pool.close().await;
    if ledger.jobs_granted() == 0 {
        bail!("the load never got a job: the scenario tested nothing");
    }
    Ok(format!("1 kill -9 of 2 servers; {v}"))
}

/// The LISTEN connections are terminated at the moment a pause is issued
/// through server A; server B, whose notification is lost and whose
/// periodic refresh is a minute away, must still refuse every claim sent
/// after the pause answer (its claim re-checks the state in the database).
pub async fn listen_killed_during_pause(env: &FaultEnv) -> Result<String> {
    let admin = pg_admin(env)?;
    let db = Database::postgres(admin).await?;
    let name = db.pg_name().unwrap_or_default().to_string();
    let a = start(env, &db, &ServerOptions::default()).await?;
    let slow_refresh = ServerOptions {
        args: vec!["--pause-refresh-ms".into(), "60000".into()],
        ..Default::default()
    };
    let b = start(env, &db, &slow_refresh).await?;
    let ledger = Arc::new(Ledger::default());
    // Claim load mostly on B: the server that misses the notification.
    let load = Load::start(&[b.addr, b.addr, a.addr], 2, 6, &ledger)?;
    let op = client(a.addr)?;
    let cycles = env.size.pick(3, 10);
    let mut killed = 0;
    for i in 0..cycles {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let kill = terminate_backends(admin, &name, Some("LISTEN%"));
        let reason = format!("fault: LISTEN killed {i}");
        let (k, p) = tokio::join!(kill, pause_until_acked(&op, &ledger, &reason));
        killed += k?;
        p?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        resume_until_acked(&op, &ledger, &format!("fault: LISTEN killed {i} done")).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.stop().await;
    let pool = db.pool(2).await?;
    let v = verify(&pool, &ledger).await?;
    pool.close().await;
    if killed == 0 {
        bail!("no LISTEN connection was found to kill");
    }
    let on_b = ledger.claims_while_paused();
    Ok(format!(
        "{killed} LISTEN connections killed during {cycles} pauses; {on_b} claims sent while paused; {v}"
    ))
}

/// The server is `kill -9`'d over and over, each time a few milliseconds
/// after a pause or resume was sent (before or after it answered). After
/// every restart the state must be consistent with the audit log and hold
/// every acknowledged change, and claims must be refused while paused.
pub async fn killed_during_pause_cycles(env: &FaultEnv, backend: Backend) -> Result<String> {
    let db = match backend {
        Backend::Postgres => Database::postgres(pg_admin(env)?).await?,
        Backend::Sqlite => Database::sqlite()?,
    };
    let mut server = start(env, &db, &ServerOptions::default()).await?;
    {
        let pool = db.pool(1).await?;
        pool.insert_jobs(200, "fault").await?;
        pool.close().await;
    }
    let ledger = Arc::new(Ledger::default());
    // Light job traffic through the kills too: acknowledged enqueues and
    // completions must survive them as well.
    let load = Load::start(&[server.addr], 1, 1, &ledger)?;
    let mut rng = Lcg::new(42);
    let cycles = env.size.pick(6, 24);
    let (mut acked, mut unacked) = (0, 0);
    for i in 0..cycles {
        let pause = i % 2 == 0;
        let reason = format!("fault: cycle {i}");
        let req = if pause {
            PauseRequest::pause(PauseMode::Drain, reason)
        } else {
            PauseRequest::resume(reason, true)
        };
        if !pause {
            ledger.resume_sending(Instant::now());
        }
        // A client (and so a connection) of its own for the request the
        // kill races with.
        let c = client(server.addr)?;
        let req = tokio::spawn(async move {
            let status = c.change_pause(&req).await?;
            anyhow::Ok((status.version, Instant::now()))
        });
        // Kill somewhere between "before the request is read" and "after
        // the answer": on this machine 0–15 ms covers both for a release
        // server, 0–40 ms for the slower debug build the smoke test runs.
        let window_us = env.size.pick(40_000, 15_000);
        tokio::time::sleep(Duration::from_micros(rng.below(window_us))).await;
        server.kill9();
        let mut this_acked = false;
        match req.await? {
            Ok((v, at)) => {
                acked += 1;
                this_acked = true;
                if pause {
                    ledger.pause_acked(at, v);
                } else {
                    ledger.resume_acked(v);
                }
            }
            Err(_) => unacked += 1,
        }
        server = start(env, &db, &same_address(&server, ServerOptions::default())).await?;
        let c = client(server.addr)?;
        let (paused, version) = status(&c).await?;
        let pool = db.pool(1).await?;
        let (row_paused, row_version) = pool.pause_row().await?;
        let audit = pool.audit().await?;
        pool.close().await;
        if (paused, version) != (row_paused, row_version) {
            bail!("after restart {i}: the server says ({paused}, v{version}), the row ({row_paused}, v{row_version})");
        }
        super::check_audit(paused, version, &audit, &ledger.acked_versions())
            .with_context(|| format!("after restart {i}"))?;
        if paused {
            claims_refused(&c, &ledger, 0, 5).await?;
        } else if pause && this_acked {
            bail!(
                "after restart {i}: the acknowledged pause was lost (acked {:?}, audit {audit:?}, state v{version})",
                ledger.acked_versions()
            );
        }
        // Make the next request start from the state the server has now.
        if paused != pause {
            let fix = if paused {
                ledger.resume_sending(Instant::now());
                PauseRequest::resume("fault: realign", true)
            } else {
                PauseRequest::pause(PauseMode::Drain, "fault: realign")
            };
            let v = c.change_pause(&fix).await?.version;
            if paused {
                ledger.resume_acked(v);
            } else {
                ledger.pause_acked(Instant::now(), v);
            }
        }
    }
    load.stop().await;
    let pool = db.pool(1).await?;
    let v = verify(&pool, &ledger).await?;
    let integrity = pool.integrity().await?;
    pool.close().await;
    if integrity != "ok" {
        bail!("integrity_check: {integrity}");
    }
    drop(server);
    Ok(format!(
        "{cycles} kill -9 restarts ({acked} changes answered before the kill, {unacked} not); {v}"
    ))
}

/// SQLite: the server is `kill -9`'d in the middle of a write load
/// (enqueues, claims, completions, a pause) heavy enough that writes share
/// commits (group commit, the default): every acknowledged write survives
/// — none is answered before its group's commit — and the file passes
/// `PRAGMA integrity_check`.
pub async fn sqlite_killed_mid_write(env: &FaultEnv) -> Result<String> {
    let db = Database::sqlite()?;
    let mut server = start(env, &db, &ServerOptions::default()).await?;
    let ledger = Arc::new(Ledger::default());
    let mut rng = Lcg::new(7);
    let kills = env.size.pick(3, 8);
    let load = Load::start(&[server.addr], 12, 8, &ledger)?;
    // Writes and commits just before each kill: proof that the kills landed
    // among groups of several writes, not single ones.
    let (mut writes, mut commits) = (0.0, 0.0);
    for i in 0..kills {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(500))).await;
        let c = client(server.addr)?;
        if let (Ok(w), Ok(n)) = (
            crate::http::metric(&c, "lull_sqlite_committed_writes_total").await,
            crate::http::metric(&c, "lull_sqlite_commits_total").await,
        ) {
            (writes, commits) = (writes + w, commits + n);
        }
        let paused_now = i % 2 == 1;
        if paused_now {
            let op = client(server.addr)?;
            pause_until_acked(&op, &ledger, &format!("fault: mid-write {i}")).await?;
            tokio::time::sleep(Duration::from_millis(rng.below(100))).await;
        }
        server.kill9();
        server = start(env, &db, &same_address(&server, ServerOptions::default())).await?;
        let op = client(server.addr)?;
        if paused_now {
            if !status(&op).await?.0 {
                bail!("kill {i}: the acknowledged pause was lost");
            }
            claims_refused(&op, &ledger, 0, 10).await?;
            resume_until_acked(&op, &ledger, &format!("fault: mid-write {i} done")).await?;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.stop().await;
    drop(server);
    let pool = db.pool(1).await?;
    let integrity = pool.integrity().await?;
    let v = verify(&pool, &ledger).await?;
    pool.close().await;
    if integrity != "ok" {
        bail!("integrity_check: {integrity}");
    }
    if ledger.jobs_granted() == 0 {
        bail!("the load never got a job: the scenario tested nothing");
    }
    if writes <= commits {
        bail!("{writes} writes in {commits} commits: no group formed, the kills tested single commits");
    }
    Ok(format!(
        "{kills} kill -9 mid-write ({:.1} writes per commit), integrity ok; {v}",
        writes / commits
    ))
}

/// The PostgreSQL cluster to restart for [`postgres_restart`]: found with
/// `pg_lsclusters` by the admin URL's port, only when running as root.
/// `Err(reason)` says why the scenario must be skipped.
pub fn restartable_cluster(admin_url: &str) -> Result<(String, String), String> {
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not running as root: cannot restart PostgreSQL".into());
    }
    let port = admin_url
        .rsplit_once('@')
        .map(|x| x.1)
        .unwrap_or(admin_url)
        .split(['/', '?'])
        .next()
        .and_then(|hp| hp.rsplit_once(':'))
        .map(|x| x.1.to_string())
        .unwrap_or_else(|| "5432".into());
    let out = std::process::Command::new("pg_lsclusters")
        .arg("-h")
        .output()
        .map_err(|_| "pg_ctlcluster/pg_lsclusters not found".to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[2] == port && f[3] == "online")
        .map(|f| (f[0].to_string(), f[1].to_string()))
        .ok_or_else(|| format!("no online cluster on port {port} in pg_lsclusters"))
}
