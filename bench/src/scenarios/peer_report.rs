//! Scenario 8's section of `BENCHMARKS.md`: Lull against graphile-worker,
//! with the ratio of each figure to the peer's and issue 18's targets. It
//! sits between its own markers, so `--only 8` rewrites only this section.

use std::fmt::Write;

use super::peer::{Drain, Fill, PeerComparison, CLAIM_BATCH, CONCURRENCY, ENQUEUE_BATCH};
use crate::report::{at_least, at_most, Machine};
use crate::stats::per_sec;

pub const SECTION_BEGIN: &str = "<!-- peer:begin -->";
pub const SECTION_END: &str = "<!-- peer:end -->";

/// Issue 18's targets, as ratios to the peer.
pub const BATCH_TARGET: f64 = 1.0;
pub const SINGLE_TARGET: f64 = 0.8;
/// Lull's batch enqueue of N jobs may take at most this many times as long
/// as one `addJobs` call.
pub const ENQUEUE_TIME_TARGET: f64 = 2.0;

fn count(n: usize) -> String {
    per_sec(n as f64).trim_end_matches("/s").to_string()
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), per_sec)
}

fn spread(v: Option<(f64, f64)>) -> String {
    v.map_or_else(
        || "—".into(),
        |(lo, hi)| {
            format!(
                "{}–{}",
                per_sec(lo).trim_end_matches("/s"),
                per_sec(hi).trim_end_matches("/s")
            )
        },
    )
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |r| format!("{r:.2}×"))
}

fn drain_label(d: Drain, r: &PeerComparison) -> String {
    match d {
        Drain::Peer => format!(
            "graphile-worker {}: `run()`, concurrency {CONCURRENCY}, no-op task",
            r.peer_version
        ),
        Drain::RestSingle => {
            format!("Lull REST: {CONCURRENCY} workers, claim one job + complete it")
        }
        Drain::RestClaimNext => format!(
            "Lull REST: {CONCURRENCY} workers, one job at a time, each complete with `claimNext` \
             (one request per job)"
        ),
        Drain::RestBatch => format!(
            "Lull REST: {CONCURRENCY} workers, batch claim (`limit` {CLAIM_BATCH}) + `batch-complete`"
        ),
        Drain::Runtime => format!(
            "`lull-worker` runtime (`worker` crate), concurrency {CONCURRENCY}, no-op handler"
        ),
    }
}

fn fill_label(f: Fill, r: &PeerComparison) -> String {
    match f {
        Fill::PeerAddJobs => "graphile-worker: one `addJobs` call".into(),
        Fill::PeerAddJob => format!(
            "graphile-worker: `addJob` per job, {CONCURRENCY} producers (timed over {} jobs)",
            count(r.size.single_timed.min(r.size.jobs))
        ),
        Fill::RestSingle => {
            format!("Lull REST: `POST /api/queue/jobs` per job, {CONCURRENCY} producers")
        }
        Fill::RestBatch => format!(
            "Lull REST: `POST /api/queue/jobs/batch`, {} per request, one after another",
            count(ENQUEUE_BATCH)
        ),
    }
}

/// The section, between its markers.
pub fn section(r: &PeerComparison, m: &Machine, command: &str, date: &str) -> String {
    let mut out = String::new();
    let n = count(r.size.jobs);
    let _ = writeln!(
        out,
        "{SECTION_BEGIN}\n## 8. Lull vs graphile-worker on PostgreSQL (issue 18)\n"
    );
    let _ = writeln!(
        out,
        "Measured {date} at `{}` by `{command}` (a run of this scenario alone, `--only 8`, \
         rewrites only this section), on {} × {}, {}. The peer: graphile-worker {} from npm \
         (pinned in `bench/peer/package-lock.json`, installed into `target/bench-peer/`), on \
         Node.js {}, with its defaults (no local queue, no batched completion). \
         **Load average** (1, 5, 15 min): {} before the first run, {} after the last — this \
         machine is shared and other work may run beside the bench, so read the ratios, which \
         come from alternating runs, rather than the absolute figures. Took {:.0} s.\n",
        m.commit,
        m.cores,
        m.cpu,
        m.postgres.split(" on ").next().unwrap_or(&m.postgres),
        r.peer_version,
        r.node,
        r.load_before,
        r.load_after,
        r.took.as_secs_f64(),
    );
    let _ = writeln!(
        out,
        "Every run: a fresh PostgreSQL database, {n} no-op jobs enqueued, then drained with \
         {CONCURRENCY} jobs at a time, timed from the start of the drain to the commit of the \
         last completion; each run checks that every one of the {n} jobs succeeded exactly once. \
         Rounds: {}, each of six runs in this order: graphile-worker (`addJobs`), Lull REST \
         single (single enqueue), Lull REST batch (batch enqueue), graphile-worker (`addJob`), \
         Lull REST single with `claimNext` (batch enqueue), Lull runtime (batch enqueue). Lull runs as its users run it: a release `lull serve` \
         on loopback, the load generator and the runtime in the bench process, over the typed \
         client.\n",
        r.size.rounds
    );
    let _ = writeln!(
        out,
        "### Drain: jobs/s\n\n| How | Jobs/s (all runs) | Runs | vs graphile-worker | Target | Result |\n|---|---|---|---|---|---|"
    );
    for d in [
        Drain::Peer,
        Drain::RestSingle,
        Drain::RestClaimNext,
        Drain::RestBatch,
        Drain::Runtime,
    ] {
        let got = r.drain_ratio(d);
        let (target, result) = match (d, got) {
            (Drain::RestSingle | Drain::RestClaimNext, Some(x)) => {
                (format!("≥ {SINGLE_TARGET}×"), at_least(x, SINGLE_TARGET))
            }
            (Drain::RestBatch, Some(x)) => {
                (format!("≥ {BATCH_TARGET:.1}×"), at_least(x, BATCH_TARGET))
            }
            (Drain::Peer, _) => ("(the peer)".into(), "—".into()),
            _ => ("none set".into(), "—".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {target} | {result} |",
            drain_label(d, r),
            rate(r.drain_rate(d)),
            spread(r.drain_range(d)),
            if d == Drain::Peer {
                "1.00×".into()
            } else {
                ratio(got)
            },
        );
    }
    let _ = writeln!(
        out,
        "\n### Enqueue\n\n| How | Jobs/s (all runs) | Runs | Time for {n} jobs | vs `addJobs` time | Target | Result |\n|---|---|---|---|---|---|---|"
    );
    for f in [
        Fill::PeerAddJobs,
        Fill::RestBatch,
        Fill::PeerAddJob,
        Fill::RestSingle,
    ] {
        let time_ratio = r.fill_time_ratio(f);
        let (target, result) = match (f, time_ratio) {
            (Fill::RestBatch, Some(x)) => (
                format!("≤ {ENQUEUE_TIME_TARGET:.0}×"),
                at_most(x, ENQUEUE_TIME_TARGET),
            ),
            (Fill::PeerAddJobs, _) => ("(the peer)".into(), "—".into()),
            _ => ("none set".into(), "—".into()),
        };
        let time = r.fill_rate(f).map_or_else(
            || "—".into(),
            |v| format!("{:.2} s", r.size.jobs as f64 / v),
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {time} | {} | {target} | {result} |",
            fill_label(f, r),
            rate(r.fill_rate(f)),
            spread(r.fill_range(f)),
            if f == Fill::PeerAddJobs {
                "1.00×".into()
            } else {
                ratio(time_ratio)
            },
        );
    }
    let _ = write!(
        out,
        "\nA time for {n} jobs is N ÷ the pooled rate (for graphile-worker's `addJob`, \
         extrapolated from the jobs it was timed over); \"vs `addJobs` time\" is that time over \
         `addJobs`' (lower is better). Both single-job REST loops are held to the single-claim \
         target: the plain one (two requests per job) and the one a worker that runs one job at \
         a time would use, completing each job with `claimNext` (one request per job). The \
         runtime has no target of its own in the issue: it fills its free slots with one batch \
         claim and completes each job by its own request.\n{SECTION_END}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::peer::{Sample, Size};
    use super::*;

    fn sample(jobs: usize, seconds: f64) -> Sample {
        Sample { jobs, seconds }
    }

    #[test]
    fn ratios_and_verdicts_come_from_the_pooled_runs() {
        let r = PeerComparison {
            size: Size {
                jobs: 1_000,
                rounds: 1,
                single_timed: 100,
            },
            peer_version: "0.17.3".into(),
            node: "v20".into(),
            drains: vec![
                (Drain::Peer, sample(1_000, 0.2)),
                (Drain::Peer, sample(1_000, 0.3)),
                (Drain::RestSingle, sample(1_000, 0.32)),
                (Drain::RestBatch, sample(1_000, 0.2)),
                (Drain::Runtime, sample(1_000, 0.4)),
            ],
            fills: vec![
                (Fill::PeerAddJobs, sample(1_000, 0.1)),
                (Fill::RestBatch, sample(1_000, 0.3)),
                (Fill::PeerAddJob, sample(100, 0.5)),
                (Fill::RestSingle, sample(1_000, 0.4)),
            ],
            load_before: "1 1 1".into(),
            load_after: "2 2 2".into(),
            took: std::time::Duration::from_secs(3),
        };
        // The peer: 2,000 jobs in 0.5 s = 4,000/s; its runs 5,000 and 3,333.
        let close = |got: Option<f64>, want: f64| {
            let got = got.unwrap();
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        };
        close(r.drain_rate(Drain::Peer), 4_000.0);
        close(r.drain_ratio(Drain::RestSingle), 0.781_25);
        close(r.drain_ratio(Drain::RestBatch), 1.25);
        // addJobs: 10,000/s; batch REST 3,333/s: 3× the time.
        close(r.fill_time_ratio(Fill::RestBatch), 3.0);
        let s = section(&r, &Machine::default(), "cmd", "today");
        assert!(
            s.starts_with(SECTION_BEGIN) && s.ends_with(SECTION_END),
            "{s}"
        );
        assert!(s.contains("| 4,000/s | 3,333–5,000 | 1.00× |"), "{s}");
        assert!(
            s.contains("| 0.78× | ≥ 0.8× | **not met** (2% short) |"),
            "{s}"
        );
        assert!(s.contains("| 1.25× | ≥ 1.0× | met |"), "{s}");
        assert!(
            s.contains("| 3.00× | ≤ 2× | **not met** (50% over) |"),
            "{s}"
        );
        assert!(s.contains("2 2 2 after the last"), "{s}");
    }
}
