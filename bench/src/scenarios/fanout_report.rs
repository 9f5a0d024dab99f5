//! Scenario 9's section of `BENCHMARKS.md`: the live stream's fan-out to
//! 1,000 and 3,000 subscribers on each store, against issue 18's targets.
//! It sits between its own markers, so `--only 9` rewrites only this
//! section.

use std::fmt::Write;

use super::fanout::{Fanout, MAX_STREAMS};
use crate::report::{at_most, verdict};
use crate::stats::ms;

pub const SECTION_BEGIN: &str = "<!-- fanout:begin -->";
pub const SECTION_END: &str = "<!-- fanout:end -->";

/// Pause answer → live subscriber, p99.
pub const LIVE_P99_TARGET_MS: f64 = 200.0;
/// "The pause answer unaffected by their number": its p50 with the most
/// subscribers at most this many times its p50 with none (a ratio, as the
/// machine is shared; a read per subscriber made it 38×).
pub const ANSWER_RATIO_TARGET: f64 = 2.0;

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The pause answer's p50 with the most subscribers over its p50 with none.
pub fn answer_ratio(f: &Fanout) -> Option<f64> {
    let last = f.levels.last()?;
    let idle = f.idle_answer.p50.as_secs_f64().max(1e-6);
    Some(last.answer.p50.as_secs_f64() / idle)
}

/// The section, markers included.
pub fn section(runs: &[Fanout], date: &str, commit: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{SECTION_BEGIN}\n## 9. Live fan-out (issue 18)\n\n\
         Measured {date} at `{commit}`. One server (`--max-streams {MAX_STREAMS}`) holds open \
         `GET /api/system/worker-pause/stream` subscribers (the bench reads raw chunks and only \
         the version of each `state` event); the fleet is paused and resumed at each level, \
         500 ms apart. The server builds one `state` event per version (one status read, one \
         serialization) and every subscriber sends the same buffer, so the storage calls per \
         change stay flat and the pause request's answer does not wait for the fan-out.\n"
    );
    let _ = writeln!(
        out,
        "| Store | Streams | Changes | Answer → `state` p50 | p99 | max | Missed | Pause answer p50 | p99 | Storage calls / change | Server RSS |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for f in runs {
        let _ = writeln!(
            out,
            "| {} | 0 | {} | — | — | — | — | {} | {} | {:.1} | {} |",
            f.backend.name(),
            f.changes,
            ms(f.idle_answer.p50),
            ms(f.idle_answer.p99),
            f.idle_storage_calls_per_change,
            mib(f.idle_rss_kib)
        );
        for l in &f.levels {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
                f.backend.name(),
                l.subscribers,
                f.changes,
                ms(l.live_latency.p50),
                ms(l.live_latency.p99),
                ms(l.live_latency.max),
                l.missed,
                ms(l.answer.p50),
                ms(l.answer.p99),
                l.storage_calls_per_change,
                mib(l.rss_kib)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n| Target | Store | Measured | Result |\n|---|---|---|---|"
    );
    for f in runs {
        let Some(last) = f.levels.last() else {
            continue;
        };
        let p99 = last.live_latency.p99.as_secs_f64() * 1000.0;
        let _ = writeln!(
            out,
            "| pause → live subscriber p99 ≤ {LIVE_P99_TARGET_MS:.0} ms, {} streams | {} | {} | {} |",
            last.subscribers,
            f.backend.name(),
            ms(last.live_latency.p99),
            verdict(p99 <= LIVE_P99_TARGET_MS && last.missed == 0, || {
                if last.missed > 0 {
                    format!("{} changes missed", last.missed)
                } else {
                    format!("{:.0}% over", (p99 / LIVE_P99_TARGET_MS - 1.0) * 100.0)
                }
            })
        );
        if let Some(r) = answer_ratio(f) {
            let _ = writeln!(
                out,
                "| pause answer p50 with {} streams ≤ {ANSWER_RATIO_TARGET:.0}× with none | {} | {r:.2}× ({} vs {}) | {} |",
                last.subscribers,
                f.backend.name(),
                ms(last.answer.p50),
                ms(f.idle_answer.p50),
                at_most(r, ANSWER_RATIO_TARGET)
            );
        }
    }
    let _ = write!(out, "{SECTION_END}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Backend;
    use crate::scenarios::fanout::Level;
    use crate::stats::Latency;
    use std::time::Duration;

    fn lat(ms: u64) -> Latency {
        let d = Duration::from_millis(ms);
        Latency {
            count: 1,
            p50: d,
            p99: d,
            max: d,
        }
    }

    #[test]
    fn the_section_states_each_target_and_its_gap() {
        let run = Fanout {
            backend: Backend::Postgres,
            changes: 6,
            idle_answer: lat(3),
            idle_storage_calls_per_change: 8.0,
            idle_rss_kib: 20_480,
            levels: vec![Level {
                subscribers: 3_000,
                live_latency: lat(300),
                missed: 0,
                answer: lat(4),
                storage_calls_per_change: 12.0,
                rss_kib: 61_440,
            }],
        };
        let s = section(&[run], "today", "abc");
        assert!(
            s.starts_with(SECTION_BEGIN) && s.ends_with(SECTION_END),
            "{s}"
        );
        assert!(s.contains("**not met** (50% over)"), "{s}");
        assert!(s.contains("1.33× (4.00 ms vs 3.00 ms) | met"), "{s}");
        assert!(s.contains("| 60.0 MiB |"), "{s}");
    }
}
