//! Scenario 7 (issue 13): the time of a pause does not grow with the number
//! of finished jobs.
//!
//! On one PostgreSQL server with a few live jobs (queued and running),
//! pause/resume cycles of the fleet and of a queue are timed twice: with no
//! finished jobs, then after one `INSERT … SELECT generate_series` has
//! added [`FINISHED`] succeeded jobs (and `VACUUM ANALYZE`, as autovacuum
//! would have). Each pause answers with the drain metrics counted inside
//! its transaction; those counts read only live jobs through a partial
//! index, so the two figures should be alike. For scale, the same run times
//! the count that pauses made before (over the whole table) on that table.
//!
//! The result is its own section of `BENCHMARKS.md`, between markers, so a
//! run of this scenario alone (`--only 7`) replaces just that section.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use client::Client;
use wire::{PauseMode, PauseRequest, QueuePauseRequest, QueueResumeRequest};

use super::Env;
use crate::db::{Backend, Database, Pool};
use crate::proc::{Server, ServerOptions};
use crate::stats::{ms, Latency};

/// Finished jobs added between the two measurements.
pub const FINISHED: u64 = 1_000_000;
/// Live jobs present during both: queued, and running (claimed).
const QUEUED: usize = 1_000;
const RUNNING: usize = 50;

pub const SECTION_BEGIN: &str = "<!-- pause-history:begin -->";
pub const SECTION_END: &str = "<!-- pause-history:end -->";

/// Pause and resume round trips at one size of history.
#[derive(Debug, Clone)]
pub struct Timings {
    pub finished_jobs: u64,
    pub fleet_pause: Latency,
    pub fleet_resume: Latency,
    pub queue_pause: Latency,
    pub queue_resume: Latency,
}

#[derive(Debug, Clone)]
pub struct PauseHistory {
    pub cycles: usize,
    pub empty: Timings,
    pub full: Timings,
    /// The pre-#13 count (every status, whole table) on the full table,
    /// run directly: what each pause used to do inside its transaction.
    pub whole_table_count: Latency,
    pub seed_time: Duration,
}

/// Times `cycles` pause/resume cycles of the fleet and of queue `emails`.
async fn time_cycles(c: &Client, cycles: usize, finished_jobs: u64, tag: &str) -> Result<Timings> {
    let (mut fp, mut fr, mut qp, mut qr) = (vec![], vec![], vec![], vec![]);
    for i in 0..cycles {
        let t = Instant::now();
        c.change_pause(&PauseRequest::pause(PauseMode::Drain, format!("{tag} {i}")))
            .await?;
        fp.push(t.elapsed());
        let t = Instant::now();
        c.change_pause(&PauseRequest::resume(format!("{tag} {i}"), true))
            .await?;
        fr.push(t.elapsed());
        let t = Instant::now();
        let pause = QueuePauseRequest {
            mode: Some("drain".into()),
            reason: Some(format!("{tag} {i}")),
            ..Default::default()
        };
        c.pause_queue("emails", &pause).await?;
        qp.push(t.elapsed());
        let t = Instant::now();
        let resume = QueueResumeRequest {
            reason: Some(format!("{tag} {i}")),
            force_resume: Some(true),
            ..Default::default()
        };
        c.resume_queue("emails", &resume).await?;
        qr.push(t.elapsed());
    }
    Ok(Timings {
        finished_jobs,
        fleet_pause: Latency::of(fp),
        fleet_resume: Latency::of(fr),
        queue_pause: Latency::of(qp),
        queue_resume: Latency::of(qr),
    })
}

/// The count a pause ran before issue 13, timed directly.
async fn time_whole_table_count(pool: &sqlx::PgPool, runs: usize) -> Result<Latency> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE status = 'queued'), \
               COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at >= now()), \
               COUNT(*) FILTER (WHERE status = 'running' AND lease_expires_at < now()), \
               COUNT(*) FILTER (WHERE status = 'succeeded'), \
               COUNT(*) FILTER (WHERE status = 'failed'), \
               COUNT(*) FILTER (WHERE status = 'cancelled') FROM jobs",
        )
        .execute(pool)
        .await?;
        samples.push(t.elapsed());
    }
    Ok(Latency::of(samples))
}

pub async fn run(env: &Env) -> Result<PauseHistory> {
    let db = Database::new(Backend::Postgres, &env.pg_admin).await?;
    // Retention off: the million rows must stay for the measurement.
    let opts = ServerOptions {
        args: vec!["--retain-succeeded".into(), "0".into()],
        ..Default::default()
    };
    let server = Server::start(&env.lull, &db.url, &opts).await?;
    let c = Client::new(format!("http://{}", server.addr))?;
    let Pool::Pg(pool) = db.pool(2).await? else {
        anyhow::bail!("scenario 7 runs on PostgreSQL");
    };
    // Live jobs in the queue being paused, some of them running.
    for _ in 0..QUEUED {
        let req = wire::EnqueueRequest {
            job_type: Some("t".into()),
            queue: Some("emails".into()),
            ..Default::default()
        };
        c.enqueue(&req).await?;
    }
    let claim = wire::ClaimManyRequest {
        worker_id: Some("bench".into()),
        lease_seconds: Some(3600),
        limit: Some(RUNNING as u32),
        ..Default::default()
    };
    c.claim_many(&claim).await?;
    let cycles = if env.quick { 10 } else { 40 };
    // Warm-up: connections, prepared statements, plans.
    time_cycles(&c, 3, 0, "warm-up").await?;
    let empty = time_cycles(&c, cycles, 0, "no history").await?;

    let seeded = Instant::now();
    sqlx::query(
        "INSERT INTO jobs (id, type, payload, priority, status, attempts, max_attempts, \
           worker_id, run_after, created_at, updated_at, started_at, finished_at, queue) \
         SELECT gen_random_uuid(), 't', '{}'::jsonb, 0, 'succeeded', 1, 3, 'bench', \
           now() - make_interval(secs => i % 86400 + 2), \
           now() - make_interval(secs => i % 86400 + 2), \
           now() - make_interval(secs => i % 86400), \
           now() - make_interval(secs => i % 86400 + 1), \
           now() - make_interval(secs => i % 86400), \
           (ARRAY['default', 'emails', 'reports'])[i % 3 + 1] \
         FROM generate_series(1, $1) AS i",
    )
    .bind(FINISHED as i64)
    .execute(&pool)
    .await
    .context("seeding the finished jobs")?;
    sqlx::query("VACUUM ANALYZE jobs").execute(&pool).await?;
    let seed_time = seeded.elapsed();
    time_cycles(&c, 3, FINISHED, "warm-up").await?;
    let full = time_cycles(&c, cycles, FINISHED, "a million finished").await?;
    let whole_table_count = time_whole_table_count(&pool, 5).await?;
    pool.close().await;
    drop(server);
    Ok(PauseHistory {
        cycles,
        empty,
        full,
        whole_table_count,
        seed_time,
    })
}

fn row(out: &mut String, what: &str, t: &Timings, l: &Latency) {
    out.push_str(&format!(
        "| {what} | {} | {} | {} | {} |\n",
        crate::stats::per_sec(t.finished_jobs as f64).trim_end_matches("/s"),
        ms(l.p50),
        ms(l.p99),
        ms(l.max)
    ));
}

/// The scenario's section of `BENCHMARKS.md`, between its markers.
pub fn section(r: &PauseHistory, date: &str, commit: &str) -> String {
    let mut out = format!(
        "{SECTION_BEGIN}\n## 7. Pause time and finished-job history (PostgreSQL)\n\n\
         Measured {date} at `{commit}` by `cargo run --release -p bench -- --only 7` \
         (a run of this scenario alone rewrites only this section). One release server on a \
         fresh database with {QUEUED} queued jobs in queue `emails`, {RUNNING} of them running; \
         {} cycles of pause (drain) and resume of the fleet and of queue `emails`, each request \
         timed by the client over loopback — first with no finished jobs, then after one \
         `INSERT … SELECT generate_series` added {} succeeded jobs (seeded and `VACUUM ANALYZE`d \
         in {:.1} s). A pause counts its drain metrics inside its transaction; those counts \
         read only live jobs through the partial index `jobs_live`.\n\n\
         | Request | Finished jobs | p50 | p99 | max |\n|---|---|---|---|---|\n",
        r.cycles,
        crate::stats::per_sec(FINISHED as f64).trim_end_matches("/s"),
        r.seed_time.as_secs_f64()
    );
    for t in [&r.empty, &r.full] {
        row(&mut out, "fleet pause", t, &t.fleet_pause);
        row(&mut out, "fleet resume", t, &t.fleet_resume);
        row(&mut out, "queue pause", t, &t.queue_pause);
        row(&mut out, "queue resume", t, &t.queue_resume);
    }
    out.push_str(&format!(
        "\nFor scale: the count a pause ran before issue 13 (every status, over the whole \
         table) takes p50 {} on the same {}-row table, timed directly on the database.\n{SECTION_END}\n",
        ms(r.whole_table_count.p50),
        crate::stats::per_sec((FINISHED as usize + QUEUED) as f64).trim_end_matches("/s"),
    ));
    out
}

/// `previous` with its scenario 7 section replaced by `section` (see
/// [`crate::sections::splice`]).
pub fn splice(previous: &str, section: &str) -> String {
    crate::sections::splice(previous, SECTION_BEGIN, SECTION_END, section)
}

/// The scenario 7 section of a previous file, to carry over a run that did
/// not measure it.
pub fn carried(previous: &str) -> Option<&str> {
    crate::sections::carried(previous, SECTION_BEGIN, SECTION_END)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_spliced_in_once_and_replaced_in_place() {
        let file = "# Benchmarks\n\n## Fault scenarios\n\nx\n\n<!-- notes:begin -->\n## Notes\n\nkeep me\n<!-- notes:end -->\n";
        let one = splice(file, &format!("{SECTION_BEGIN}\nfirst\n{SECTION_END}\n"));
        assert!(
            one.contains("x\n\n<!-- pause-history:begin -->\nfirst\n"),
            "{one}"
        );
        assert!(
            one.ends_with("<!-- notes:begin -->\n## Notes\n\nkeep me\n<!-- notes:end -->\n"),
            "{one}"
        );
        let two = splice(&one, &format!("{SECTION_BEGIN}\nsecond\n{SECTION_END}\n"));
        assert!(two.contains("second") && !two.contains("first"), "{two}");
        assert_eq!(two.matches(SECTION_BEGIN).count(), 1);
        assert!(
            two.ends_with("## Notes\n\nkeep me\n<!-- notes:end -->\n"),
            "{two}"
        );
        let bare = splice("# B\n\n## Notes\n\nn\n", "S\n");
        assert_eq!(bare, "# B\n\nS\n\n## Notes\n\nn\n");
        assert_eq!(carried(&two).map(|s| s.contains("second")), Some(true));
    }
}
