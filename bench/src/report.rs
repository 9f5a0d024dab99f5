//! Renders `BENCHMARKS.md`: the machine, the command, the date, every
//! figure with its baseline, ratio and target, and whether the target was
//! met (with the gap when not), then the fault scenarios.
//!
//! A hand-written section between `<!-- notes:begin -->` and
//! `<!-- notes:end -->` (what was changed in the server for these figures,
//! and why) is carried over from the previous file on every run.

use std::fmt::Write;
use std::time::Duration;

use crate::db::Backend;
use crate::faults::FaultOutcome;
use crate::scenarios::fanout::Fanout;
use crate::scenarios::fanout_report;
use crate::scenarios::group_commit::{self, GroupCommit};
use crate::scenarios::heartbeats::Heartbeats;
use crate::scenarios::latency::StartLatency;
use crate::scenarios::pause_history::{self, PauseHistory};
use crate::scenarios::paused_claim::PausedClaim;
use crate::scenarios::peer::PeerComparison;
use crate::scenarios::peer_report;
use crate::scenarios::propagation::Propagation;
use crate::scenarios::throughput::Throughput;
use crate::stats::{ms, per_sec};

pub const NOTES_BEGIN: &str = "<!-- notes:begin -->";
pub const NOTES_END: &str = "<!-- notes:end -->";

/// Facts about the machine the figures come from.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub postgres: String,
    pub sqlite: String,
    pub commit: String,
    /// `/proc/loadavg` when the run started (other work on the machine
    /// shows up here, and in the figures).
    pub load_at_start: String,
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

impl Machine {
    /// Reads `/proc/cpuinfo`, `free -m` (falling back to `/proc/meminfo`),
    /// the kernel release and `git describe`; database versions are filled
    /// in by the caller.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let run = |cmd: &str, args: &[&str]| {
            std::process::Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let memory = run("free", &["-m"])
            .and_then(|f| {
                f.lines().find(|l| l.starts_with("Mem:")).map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    format!(
                        "{} MiB total, {} MiB available (free -m)",
                        f.get(1).unwrap_or(&"?"),
                        f.get(6).unwrap_or(&"?")
                    )
                })
            })
            .or_else(|| {
                std::fs::read_to_string("/proc/meminfo")
                    .ok()?
                    .lines()
                    .next()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let commit = run("git", &["describe", "--always", "--dirty"]).unwrap_or_default();
        Machine {
            cpu,
            cores,
            memory,
            kernel,
            commit,
            load_at_start: load_average(),
            ..Default::default()
        }
    }
}

/// Everything one bench run measured.
#[derive(Debug, Default)]
pub struct Results {
    pub machine: Machine,
    pub command: String,
    pub date: String,
    pub quick: bool,
    pub paused_claim: Vec<PausedClaim>,
    pub throughput: Vec<Throughput>,
    pub latency: Vec<StartLatency>,
    pub heartbeats: Vec<Heartbeats>,
    pub propagation: Vec<Propagation>,
    /// Scenario 7 (issue 13), PostgreSQL only.
    pub pause_history: Option<PauseHistory>,
    /// Scenario 8 (issue 18), PostgreSQL only.
    pub peer: Option<PeerComparison>,
    /// Scenario 10 (issue 18), SQLite only.
    pub group_commit: Option<GroupCommit>,
    /// Scenario 9 (issue 18), per store.
    pub fanout: Vec<Fanout>,
    pub faults: Vec<FaultOutcome>,
    /// Scenarios that failed to run at all: (name, error).
    pub errors: Vec<(String, String)>,
    pub took: Duration,
    /// `/proc/loadavg` when the run ended.
    pub load_at_end: String,
}

/// "met", or "**not met**" with the gap.
pub(crate) fn verdict(met: bool, gap: impl FnOnce() -> String) -> String {
    if met {
        "met".into()
    } else {
        format!("**not met** ({})", gap())
    }
}

pub(crate) fn at_least(value: f64, target: f64) -> String {
    verdict(value >= target, || {
        format!("{:.0}% short", (1.0 - value / target) * 100.0)
    })
}

/// For a figure where lower is better (a time, or a ratio of times).
pub(crate) fn at_most(value: f64, target: f64) -> String {
    verdict(value <= target, || {
        format!("{:.0}% over", (value / target - 1.0) * 100.0)
    })
}

fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

fn store(b: Backend) -> &'static str {
    b.name()
}

/// The summary table: one row per figure.
fn summary(r: &Results, out: &mut String) {
    let _ = writeln!(
        out,
        "| # | Figure | Store | Measured | Baseline (same run) | Ratio | Target | Result |\n|---|---|---|---|---|---|---|---|"
    );
    for p in &r.paused_claim {
        let _ = writeln!(
            out,
            "| 1 | paused claim, req/s | {} | {} | `GET /livez` {} | {:.2}× | ≥ 0.95× | {} |",
            store(p.backend),
            per_sec(p.claim_per_sec),
            per_sec(p.livez_per_sec),
            p.ratio(),
            at_least(p.ratio(), 0.95)
        );
        let _ = writeln!(
            out,
            "| 1 | database queries by {} paused claims | {} | {} | — | — | 0 | {} |",
            p.claims,
            store(p.backend),
            p.claim_queries(),
            verdict(p.claim_queries() <= 0, || format!(
                "{} queries",
                p.claim_queries()
            ))
        );
    }
    for t in &r.throughput {
        let _ = writeln!(
            out,
            "| 2 | claim + complete, jobs/s, REST | {} | {} | direct SQL {} | {:.2}× | ≥ 0.5× | {} |",
            store(t.backend),
            per_sec(t.rest_per_sec),
            per_sec(t.direct_per_sec),
            t.ratio(),
            at_least(t.ratio(), 0.5)
        );
        if let (Some(b), Some(ratio)) = (t.batch_per_sec, t.batch_ratio()) {
            let _ = writeln!(
                out,
                "| 2 | claim + complete, jobs/s, REST batch claim | {} | {} | direct SQL {} | {:.2}× | ≥ 0.5× | {} |",
                store(t.backend),
                per_sec(b),
                per_sec(t.direct_per_sec),
                ratio,
                at_least(ratio, 0.5)
            );
        }
    }
    for l in &r.latency {
        let p50 = l.latency.p50.as_secs_f64() * 1000.0;
        let _ = writeln!(
            out,
            "| 3 | enqueue → start, long poll | {} | p50 {}, p99 {} | — | — | p50 ≤ 5 ms | {} |",
            store(l.backend),
            ms(l.latency.p50),
            ms(l.latency.p99),
            verdict(p50 <= 5.0, || format!("{:.2} ms over", p50 - 5.0))
        );
    }
    for h in &r.heartbeats {
        // Both stores: issue 18 set SQLite's target too (group commit).
        let (target, result) = ("≥ 10,000/s".to_string(), at_least(h.per_sec, 10_000.0));
        let _ = writeln!(
            out,
            "| 4 | heartbeats, {} workers | {} | {}, p99 {} | — | — | {} | {} |",
            h.fleet,
            store(h.backend),
            per_sec(h.per_sec),
            ms(h.latency.p99),
            target,
            result
        );
    }
    for p in &r.propagation {
        let _ = writeln!(
            out,
            "| 5a | claims granted after the pause answer ({} server{}) | {} | {} of {} | — | — | 0 | {} |",
            p.servers,
            if p.servers == 1 { "" } else { "s" },
            store(p.backend),
            p.violations,
            p.claims_while_paused,
            verdict(p.violations == 0, || format!("{} violations", p.violations))
        );
        let p99 = p.live_latency.p99.as_secs_f64() * 1000.0;
        let _ = writeln!(
            out,
            "| 5b | pause answer → live-update subscriber | {} | p50 {}, p99 {} | — | — | p99 ≤ 200 ms | {} |",
            store(p.backend),
            ms(p.live_latency.p50),
            ms(p.live_latency.p99),
            verdict(p99 <= 200.0 && p.live_missed == 0, || if p.live_missed > 0 {
                format!("{} changes never seen", p.live_missed)
            } else {
                format!("{:.0} ms over", p99 - 200.0)
            })
        );
    }
    for t in &r.throughput {
        let _ = writeln!(
            out,
            "| 6 | server RSS idle → after scenario 2 | {} | {} → {} | — | — | (reported) | reported |",
            store(t.backend),
            kib(t.rss_idle_kib),
            kib(t.rss_after_kib)
        );
    }
}

fn details(r: &Results, out: &mut String) {
    let _ = writeln!(out, "## Details\n");
    if !r.paused_claim.is_empty() {
        let _ = writeln!(out, "### 1. Paused claim cost\n");
        let p0 = &r.paused_claim[0];
        let _ = writeln!(
            out,
            "Fleet paused; {} kept-alive connections alternate {}-long windows of `GET /livez` and of `POST /api/queue/jobs/claim` (3 of each). Storage calls are read from `lull_storage_calls_total` around every window; the livez windows (which make no query) measure the server's background timers, so the claims' own queries are the difference.\n",
            p0.connections,
            ms(p0.window)
        );
        let _ = writeln!(out, "| Store | livez req/s | claim req/s | ratio | paused claims | storage calls in claim windows | in livez windows (background) |\n|---|---|---|---|---|---|---|");
        for p in &r.paused_claim {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.3}× | {} | {} | {} |",
                store(p.backend),
                per_sec(p.livez_per_sec),
                per_sec(p.claim_per_sec),
                p.ratio(),
                p.claims,
                p.calls_claim_windows,
                p.calls_livez_windows
            );
        }
        let _ = writeln!(out);
    }
    if !r.throughput.is_empty() {
        let t0 = &r.throughput[0];
        let _ = writeln!(out, "### 2. Claim throughput, and 6. memory\n");
        let _ = writeln!(
            out,
            "{} workers, each claim → complete in a loop; windows of {} alternate between the kinds (3 rounds) on one server and one database. Direct SQL on PostgreSQL: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` + fenced `UPDATE`, one connection per worker; on SQLite: the same single `UPDATE … RETURNING` on one writer connection (WAL, synchronous FULL, like the server). Batch claim asks for up to {} jobs per request.\n",
            t0.workers,
            ms(t0.window),
            crate::scenarios::throughput::BATCH
        );
        let _ = writeln!(out, "| Store | direct SQL jobs/s | REST jobs/s | ratio | REST batch jobs/s | ratio | RSS idle | RSS after |\n|---|---|---|---|---|---|---|---|");
        for t in &r.throughput {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2}× | {} | {} | {} | {} |",
                store(t.backend),
                per_sec(t.direct_per_sec),
                per_sec(t.rest_per_sec),
                t.ratio(),
                t.batch_per_sec.map(per_sec).unwrap_or_else(|| "—".into()),
                t.batch_ratio()
                    .map(|b| format!("{b:.2}×"))
                    .unwrap_or_else(|| "—".into()),
                kib(t.rss_idle_kib),
                kib(t.rss_after_kib)
            );
        }
        let _ = writeln!(out);
    }
    if !r.latency.is_empty() {
        let _ = writeln!(out, "### 3. Enqueue → start latency\n");
        let _ = writeln!(
            out,
            "{} workers wait in long-poll claims (`waitMs`); one producer enqueues a job, waits until a worker has it, and repeats. Latency: enqueue request sent → claim answer with that job received.\n",
            crate::scenarios::latency::CLAIMERS
        );
        let _ = writeln!(
            out,
            "| Store | jobs | p50 | p99 | max |\n|---|---|---|---|---|"
        );
        for l in &r.latency {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                store(l.backend),
                l.latency.count,
                ms(l.latency.p50),
                ms(l.latency.p99),
                ms(l.latency.max)
            );
        }
        let _ = writeln!(out);
    }
    if !r.heartbeats.is_empty() {
        let h0 = &r.heartbeats[0];
        let _ = writeln!(out, "### 4. Worker heartbeats\n");
        let _ = writeln!(
            out,
            "{} registered workers; {} kept-alive connections send `POST /api/workers/{{id}}/heartbeat` back to back, each cycling through its share of the fleet, for {}.\n",
            h0.fleet,
            h0.connections,
            ms(h0.window)
        );
        let _ = writeln!(
            out,
            "| Store | heartbeats/s | p50 | p99 | max | samples |\n|---|---|---|---|---|---|"
        );
        for h in &r.heartbeats {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                store(h.backend),
                per_sec(h.per_sec),
                ms(h.latency.p50),
                ms(h.latency.p99),
                ms(h.latency.max),
                h.latency.count
            );
        }
        let _ = writeln!(out);
    }
    if !r.propagation.is_empty() {
        let _ = writeln!(out, "### 5. Pause propagation\n");
        let _ = writeln!(
            out,
            "{} workers claim back to back, spread over the server processes; each cycle pauses through one server (alternating), holds, and resumes. A violation is a claim *sent* after the pause answer *arrived* (and before the resume was sent) that returned a job. Live-update subscribers ({} per server) hold the SSE stream open; latency is pause/resume answer → `state` event carrying that version.\n",
            crate::scenarios::propagation::CLAIMERS,
            crate::scenarios::propagation::SUBSCRIBERS_PER_SERVER
        );
        let _ = writeln!(out, "| Store | servers | cycles | claims | granted a job | sent while paused | violations | live p50 | live p99 | live max | changes missed |\n|---|---|---|---|---|---|---|---|---|---|---|");
        for p in &r.propagation {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                store(p.backend),
                p.servers,
                p.cycles,
                p.claims,
                p.jobs_granted,
                p.claims_while_paused,
                p.violations,
                ms(p.live_latency.p50),
                ms(p.live_latency.p99),
                ms(p.live_latency.max),
                p.live_missed
            );
        }
        let _ = writeln!(out);
    }
}

fn faults(r: &Results, out: &mut String) {
    if r.faults.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Fault scenarios\n");
    let _ = writeln!(out, "Each asserts: no acknowledged job lost (every 201 enqueue stored, every 200 completion stored as succeeded), no job granted to a claim sent after a pause answer, and the pause state and audit log intact (versions without gaps, the state row agreeing with the last event, every acknowledged change present).\n");
    let _ = writeln!(
        out,
        "| Scenario | Store | Result | Time | What happened |\n|---|---|---|---|---|"
    );
    for f in &r.faults {
        let (result, what) = match (&f.skipped, &f.result) {
            (Some(why), _) => ("skipped".to_string(), why.clone()),
            (None, Ok(s)) => ("passed".to_string(), s.clone()),
            (None, Err(e)) => ("**FAILED**".to_string(), e.clone()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} s | {} |",
            f.name,
            store(f.backend),
            result,
            f.took.as_secs_f64(),
            what.replace('|', "\\|").replace('\n', " ")
        );
    }
    let _ = writeln!(out);
}

/// The whole file. `previous` is the old file's text (for the notes).
pub fn render(r: &Results, previous: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `lull-bench` (crate `bench/`); regenerate with the command below. Figures are from one run on the machine described; every comparison is a ratio of two figures measured in the same run, because this machine is noisy.{}\n",
        if r.quick {
            " **This was a `--quick` trial run: shorter windows, not for the record.**"
        } else {
            ""
        }
    );
    let m = &r.machine;
    let _ = writeln!(out, "- **Command**: `{}`", r.command);
    let _ = writeln!(out, "- **Date**: {}", r.date);
    let _ = writeln!(out, "- **Commit**: `{}`", m.commit);
    let _ = writeln!(out, "- **CPU**: {} × {}", m.cores, m.cpu);
    let _ = writeln!(out, "- **Memory**: {}", m.memory);
    let _ = writeln!(out, "- **Kernel**: {}", m.kernel);
    let _ = writeln!(out, "- **PostgreSQL**: {}", m.postgres);
    let _ = writeln!(out, "- **SQLite**: {}", m.sqlite);
    let _ = writeln!(
        out,
        "- **Set-up**: release `lull` processes on 127.0.0.1, the load generator in the same machine (it shares the 2 cores with the server and the database), a fresh database per scenario, auth disabled (local mode).",
    );
    let _ = writeln!(
        out,
        "- **Load average** (1, 5, 15 min): {} at the start, {} at the end",
        m.load_at_start, r.load_at_end
    );
    let _ = writeln!(out, "- **Run time**: {:.0} s\n", r.took.as_secs_f64());
    let _ = writeln!(out, "## Summary\n");
    summary(r, &mut out);
    let _ = writeln!(out);
    if !r.errors.is_empty() {
        let _ = writeln!(out, "**Scenarios that could not run:**\n");
        for (name, e) in &r.errors {
            let _ = writeln!(out, "- {name}: {}", e.replace('\n', " "));
        }
        let _ = writeln!(out);
    }
    details(r, &mut out);
    faults(r, &mut out);
    // Scenario 7's own section: this run's, else the previous file's.
    let history = match &r.pause_history {
        Some(h) => Some(pause_history::section(h, &r.date, &r.machine.commit)),
        None => previous
            .and_then(pause_history::carried)
            .map(|s| format!("{s}\n")),
    };
    if let Some(h) = history {
        let _ = writeln!(out, "{h}");
    }
    // Scenario 8's own section, likewise.
    let peer = match &r.peer {
        Some(p) => Some(peer_report::section(p, &r.machine, &r.command, &r.date)),
        None => previous
            .and_then(|prev| {
                crate::sections::carried(prev, peer_report::SECTION_BEGIN, peer_report::SECTION_END)
            })
            .map(str::to_string),
    };
    if let Some(p) = peer {
        let _ = writeln!(out, "{p}\n");
    }
    // Scenario 9's own section, likewise.
    let fanout = if r.fanout.is_empty() {
        previous
            .and_then(|prev| {
                crate::sections::carried(
                    prev,
                    fanout_report::SECTION_BEGIN,
                    fanout_report::SECTION_END,
                )
            })
            .map(str::to_string)
    } else {
        Some(fanout_report::section(
            &r.fanout,
            &r.date,
            &r.machine.commit,
        ))
    };
    if let Some(f) = fanout {
        let _ = writeln!(out, "{f}\n");
    }
    // Scenario 10's own section, likewise.
    let group = match &r.group_commit {
        Some(g) => Some(group_commit::section(g, &r.date, &r.machine.commit)),
        None => previous
            .and_then(|prev| {
                crate::sections::carried(
                    prev,
                    group_commit::SECTION_BEGIN,
                    group_commit::SECTION_END,
                )
            })
            .map(str::to_string),
    };
    if let Some(g) = group {
        let _ = writeln!(out, "{g}\n");
    }
    let notes = previous
        .and_then(|p| {
            let b = p.find(NOTES_BEGIN)?;
            let e = p.find(NOTES_END)?;
            (e > b).then(|| p[b + NOTES_BEGIN.len()..e].trim().to_string())
        })
        .unwrap_or_else(|| "## Notes\n\n(Server changes made for these figures go here.)".into());
    let _ = writeln!(out, "{NOTES_BEGIN}\n{notes}\n{NOTES_END}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_survive_a_rewrite() {
        let r = Results::default();
        let first = render(&r, None);
        let edited = first.replace(
            "(Server changes made for these figures go here.)",
            "We changed X.",
        );
        let second = render(&r, Some(&edited));
        assert!(second.contains("We changed X."));
        assert_eq!(second.matches(NOTES_BEGIN).count(), 1);
    }

    #[test]
    fn gaps_are_stated() {
        assert_eq!(at_least(1.0, 0.95), "met");
        assert_eq!(at_least(0.4, 0.5), "**not met** (20% short)");
        assert_eq!(at_most(2.0, 2.0), "met");
        assert_eq!(at_most(3.0, 2.0), "**not met** (50% over)");
    }
}
