//! Scenario 10: SQLite with group commit (the default) against a commit per
//! write (`--sqlite-commit each`), in the same run.
//!
//! Each round runs both modes, alternating, each on a fresh database and a
//! fresh server: [`throughput::WORKERS`] REST workers claim one job and
//! complete it as fast as the server answers (the figure is jobs/s); then
//! scenario 4's heartbeat load (its fleet and connections); then scenario
//! 3's enqueue → start latency, one job at a time (group commit must not
//! slow a write down when nobody shares its commit). The mean group size
//! comes from the server's own counters
//! (`lull_sqlite_committed_writes_total` / `lull_sqlite_commits_total`).
//! Targets: claim + complete ≥ 5× the per-commit path; heartbeats ≥
//! 10,000/s.

use std::time::Duration;

use anyhow::{bail, Result};

use super::throughput::{self, Mode, WORKERS};
use super::{heartbeats, latency, secs, Env};
use crate::db::Backend;
use crate::proc::ServerOptions;
use crate::stats::Latency;

const ROUNDS: usize = 2;

/// One commit mode's figures, summed over the rounds.
#[derive(Debug, Clone)]
pub struct ModeFigures {
    /// `group` or `each`.
    pub mode: &'static str,
    /// REST single claim + complete, jobs/s.
    pub jobs_per_sec: f64,
    /// Heartbeats/s (scenario 4's load).
    pub beats_per_sec: f64,
    pub beat_latency: Latency,
    /// Enqueue → start, one job at a time.
    pub start_latency: Latency,
    /// Writes per commit under the claim load (`None` with `each`).
    pub mean_group: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct GroupCommit {
    pub rounds: usize,
    pub workers: usize,
    pub window: Duration,
    pub group: ModeFigures,
    pub each: ModeFigures,
    /// One 4 KiB write + fsync on the databases' disk, mean: what a commit
    /// per write pays every time and a group shares.
    pub fsync: Duration,
}

impl GroupCommit {
    /// Group commit's claim + complete rate over the per-commit path's.
    pub fn ratio(&self) -> f64 {
        self.group.jobs_per_sec / self.each.jobs_per_sec.max(1e-9)
    }
}

fn options(mode: &str) -> ServerOptions {
    ServerOptions {
        args: vec!["--sqlite-commit".into(), mode.into()],
        ..Default::default()
    }
}

/// REST single claim + complete on a fresh server in `mode`: jobs, elapsed,
/// and the mean group size over the window.
async fn claims(env: &Env, mode: &str, length: Duration) -> Result<(u64, Duration, Option<f64>)> {
    let (db, server) = env.fresh_with(Backend::Sqlite, &options(mode)).await?;
    let pool = db.pool(1).await?;
    // More than the fastest mode drains in a window at a generous upper
    // bound of this machine's rate (the window bails if the queue runs dry).
    pool.insert_jobs(6_000 * length.as_secs().max(1) as usize + 2_000, "bench")
        .await?;
    let c = crate::http::client(server.addr)?;
    throughput::window(&c, &pool, Mode::Rest, Duration::from_millis(500)).await?;
    let counts = |c: client::Client| async move {
        let commits = crate::http::metric(&c, "lull_sqlite_commits_total").await?;
        let writes = crate::http::metric(&c, "lull_sqlite_committed_writes_total").await?;
        anyhow::Ok((commits, writes))
    };
    let before = counts(c.clone()).await?;
    let (n, took) = throughput::window(&c, &pool, Mode::Rest, length).await?;
    let after = counts(c.clone()).await?;
    pool.close().await;
    let commits = after.0 - before.0;
    let mean_group = (commits > 0.0).then(|| (after.1 - before.1) / commits);
    Ok((n, took, mean_group))
}

/// One mode's sums over the rounds.
#[derive(Default)]
struct Acc {
    jobs: u64,
    took: Duration,
    groups: Vec<f64>,
    beats_per_sec: Vec<f64>,
    beat_latency: Vec<Latency>,
    start_latency: Vec<Latency>,
}

impl Acc {
    fn figures(self, mode: &'static str) -> ModeFigures {
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        ModeFigures {
            mode,
            jobs_per_sec: self.jobs as f64 / secs(self.took),
            beats_per_sec: mean(&self.beats_per_sec).unwrap_or(0.0),
            beat_latency: worst(&self.beat_latency),
            start_latency: worst(&self.start_latency),
            mean_group: mean(&self.groups),
        }
    }
}

/// The worst of each percentile over the rounds (percentiles of separate
/// runs cannot be merged; the worse round is the honest figure).
fn worst(rounds: &[Latency]) -> Latency {
    rounds.iter().fold(Latency::default(), |w, l| Latency {
        count: w.count + l.count,
        p50: w.p50.max(l.p50),
        p99: w.p99.max(l.p99),
        max: w.max.max(l.max),
    })
}

/// The mean time of a 4 KiB write + fsync in `dir`, over `n` of them.
fn fsync_time(dir: &std::path::Path, n: u32) -> Result<Duration> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let block = [0u8; 4096];
    let start = std::time::Instant::now();
    for _ in 0..n {
        f.write_all(&block)?;
        f.sync_all()?;
    }
    let took = start.elapsed() / n;
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(took)
}

pub async fn run(env: &Env) -> Result<GroupCommit> {
    let length = env.window(Duration::from_secs(4));
    let probe = crate::db::Database::sqlite()?;
    let fsync = fsync_time(probe.scratch_dir(), 200)?;
    const MODES: [&str; 2] = ["group", "each"];
    let mut acc = [Acc::default(), Acc::default()];
    for round in 0..ROUNDS {
        // Alternate which mode goes first, so neither always runs on a
        // machine warmed (or tired) by the other.
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let opts = options(MODES[k]);
            let (n, took, group) = claims(env, MODES[k], length).await?;
            let a = &mut acc[k];
            a.jobs += n;
            a.took += took;
            a.groups.extend(group);
            let hb = heartbeats::run_with(env, Backend::Sqlite, &opts).await?;
            a.beats_per_sec.push(hb.per_sec);
            a.beat_latency.push(hb.latency);
            let start = latency::run_with(env, Backend::Sqlite, &opts).await?;
            a.start_latency.push(start.latency);
        }
    }
    let [group, each] = acc;
    if group.jobs == 0 || each.jobs == 0 {
        bail!("a mode completed no job");
    }
    Ok(GroupCommit {
        rounds: ROUNDS,
        workers: WORKERS,
        window: length,
        group: group.figures(MODES[0]),
        each: each.figures(MODES[1]),
        fsync,
    })
}

pub const SECTION_BEGIN: &str = "<!-- group-commit:begin -->";
pub const SECTION_END: &str = "<!-- group-commit:end -->";
/// Issue 18's targets.
pub const CLAIM_TARGET: f64 = 5.0;
pub const BEATS_TARGET: f64 = 10_000.0;

/// Scenario 10's section of `BENCHMARKS.md`, between its markers.
pub fn section(g: &GroupCommit, date: &str, commit: &str) -> String {
    use crate::report::at_least;
    use crate::stats::{ms, per_sec};
    use std::fmt::Write;
    let mut out = format!("{SECTION_BEGIN}\n## 10. SQLite: group commit vs a commit per write\n\n");
    let _ = writeln!(
        out,
        "Measured {date} at `{commit}`: {} rounds, each mode on a fresh database and server, \
         alternating; claim windows of {:.1} s with {} REST workers (claim one job, complete it); \
         heartbeats as scenario 4; enqueue → start as scenario 3 (worst round's percentiles). \
         An fsync on this disk (a 4 KiB write + `fsync`, mean of 200, beside the databases) took \
         {}: what a commit per write pays each time and a group shares. The smaller it is, the \
         more the per-commit path is bound by CPU instead, and the less sharing it can gain.\n",
        g.rounds,
        g.window.as_secs_f64(),
        g.workers,
        ms(g.fsync),
    );
    let _ = writeln!(
        out,
        "| `--sqlite-commit` | claim + complete | writes per commit | heartbeats | heartbeat p99 | enqueue → start p50 / p99 |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for f in [&g.group, &g.each] {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} / {} |",
            f.mode,
            per_sec(f.jobs_per_sec),
            f.mean_group
                .map_or_else(|| "1 (each)".into(), |m| format!("{m:.1}")),
            per_sec(f.beats_per_sec),
            ms(f.beat_latency.p99),
            ms(f.start_latency.p50),
            ms(f.start_latency.p99),
        );
    }
    let _ = writeln!(
        out,
        "\n| Target | Measured | Result |\n|---|---|---|\n\
         | claim + complete, group ≥ {CLAIM_TARGET}× each | {:.2}× | {} |\n\
         | heartbeats on SQLite ≥ {} | {} | {} |\n\
         | enqueue → start p50 ≤ 5 ms (group) | {} | {} |",
        g.ratio(),
        at_least(g.ratio(), CLAIM_TARGET),
        per_sec(BEATS_TARGET),
        per_sec(g.group.beats_per_sec),
        at_least(g.group.beats_per_sec, BEATS_TARGET),
        ms(g.group.start_latency.p50),
        crate::report::at_most(g.group.start_latency.p50.as_secs_f64() * 1000.0, 5.0),
    );
    out.push_str(SECTION_END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(mode: &'static str, jobs: f64, beats: f64, group: Option<f64>) -> ModeFigures {
        let lat = Latency::of(vec![Duration::from_millis(2), Duration::from_millis(4)]);
        ModeFigures {
            mode,
            jobs_per_sec: jobs,
            beats_per_sec: beats,
            beat_latency: lat,
            start_latency: lat,
            mean_group: group,
        }
    }

    #[test]
    fn the_section_states_each_target_and_its_gap() {
        let g = GroupCommit {
            rounds: 2,
            workers: 16,
            window: Duration::from_secs(4),
            group: figures("group", 2_000.0, 8_000.0, Some(7.5)),
            each: figures("each", 250.0, 1_600.0, None),
            fsync: Duration::from_micros(180),
        };
        assert!((g.ratio() - 8.0).abs() < 1e-9);
        let s = section(&g, "today", "abc");
        assert!(
            s.starts_with(SECTION_BEGIN) && s.ends_with(SECTION_END),
            "{s}"
        );
        assert!(s.contains("| 8.00× | met |"), "{s}");
        assert!(s.contains("| 8,000/s | **not met** (20% short) |"), "{s}");
        assert!(s.contains("| `group` | 2,000/s | 7.5 |"), "{s}");
        assert!(s.contains("beside the databases) took 0.18 ms"), "{s}");
    }

    #[test]
    fn worst_round_percentiles() {
        let a = Latency::of(vec![Duration::from_millis(1); 10]);
        let b = Latency::of(vec![Duration::from_millis(3); 10]);
        let w = worst(&[a, b]);
        assert_eq!(
            (w.count, w.p50, w.p99),
            (20, Duration::from_millis(3), Duration::from_millis(3))
        );
    }
}
