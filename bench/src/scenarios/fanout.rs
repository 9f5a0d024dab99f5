//! Scenario 9: live fan-out (issue 18). One server holds [`LEVELS`] open
//! `GET /api/system/worker-pause/stream` subscribers (started with
//! `--max-streams` above the default 512); the fleet is paused and resumed
//! a few times at each level. Measured per level: the time from a change's
//! answer to each subscriber's `state` event carrying its version (p50,
//! p99; 0 when the event came first), the pause request's own latency
//! against the same with no subscriber, the storage calls per change
//! (`lull_storage_calls_total`: constant when the status is read once per
//! change, not once per subscriber) and the server's resident memory with
//! the streams open. Target: p99 ≤ 200 ms to 3,000 subscribers, the pause
//! answer unaffected by their number.
//!
//! The subscribers read raw chunks and look only for the version of each
//! `state` event (no JSON parse): they share the machine's cores with the
//! server, and parsing 3,000 copies of every status would be measured as
//! fan-out latency.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use client::Client;

use super::{pause, resume, storage_calls};
use crate::db::{Backend, Database};
use crate::proc::{Server, ServerOptions};
use crate::stats::Latency;

/// Open streams measured, in order (the second level adds to the first).
pub const LEVELS: [usize; 2] = [1_000, 3_000];
/// The server's `--max-streams` for the run.
pub const MAX_STREAMS: usize = 4_000;
/// File descriptors asked for (the bench holds one socket per stream, the
/// server another; both inherit this limit).
const NOFILE: u64 = 16_384;

/// One level of open streams.
#[derive(Debug, Clone)]
pub struct Level {
    pub subscribers: usize,
    /// Change answer → `state` event, per subscriber per change.
    pub live_latency: Latency,
    /// Changes a subscriber never saw (must be 0).
    pub missed: usize,
    /// The pause and resume requests' own latency (sent → answer).
    pub answer: Latency,
    /// Storage calls per change (the requests' own and the fan-out's).
    pub storage_calls_per_change: f64,
    /// Server `VmRSS` with the streams open, KiB.
    pub rss_kib: u64,
}

#[derive(Debug, Clone)]
pub struct Fanout {
    pub backend: Backend,
    /// Changes (pauses and resumes) made per level.
    pub changes: usize,
    /// The requests' latency with no stream open.
    pub idle_answer: Latency,
    pub idle_storage_calls_per_change: f64,
    pub idle_rss_kib: u64,
    pub levels: Vec<Level>,
}

/// One subscriber's `state` events: (version, arrival).
type Arrivals = Arc<Mutex<Vec<(i64, Instant)>>>;

/// Raises this process's open-file limit to [`NOFILE`] (at most the hard
/// limit) with `prlimit`, so thousands of sockets fit; the servers it
/// starts inherit it. Best effort: the scenario fails to open its streams
/// with a clear error if the limit stays too low.
fn raise_nofile() {
    let pid = std::process::id().to_string();
    let ok = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={NOFILE}:")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("lull-bench: could not raise the open-file limit (prlimit); `ulimit -n` may be too low for 3,000 streams");
    }
}

/// The version of a `state` event (its first `"version":` is the
/// status's: only scalar fields come before it).
fn state_version(event: &str) -> Option<i64> {
    if !event.starts_with("event: state\n") {
        return None;
    }
    let at = event.find("\"version\":")? + "\"version\":".len();
    let digits: String = event[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Opens one stream, waits for its first event, then records every
/// `state` event's version and arrival until aborted.
async fn subscribe(
    http: &reqwest::Client,
    url: &str,
) -> Result<(Arrivals, tokio::task::JoinHandle<()>)> {
    let mut resp = http.get(url).send().await?.error_for_status()?;
    let first = tokio::time::timeout(Duration::from_secs(30), resp.chunk())
        .await
        .context("no first event within 30 s")??;
    if first.is_none() {
        bail!("the stream ended at once");
    }
    let seen: Arrivals = Arc::default();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let mut text = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let at = Instant::now();
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                if let (Some(v), Ok(mut l)) = (state_version(&event), log.lock()) {
                    l.push((v, at));
                }
            }
        }
    });
    Ok((seen, task))
}

/// Pauses and resumes `cycles` times, `hold` apart; returns each change's
/// (version, answered at) and the requests' latencies.
async fn changes(
    c: &Client,
    cycles: usize,
    hold: Duration,
) -> Result<(Vec<(i64, Instant)>, Vec<Duration>)> {
    let mut out = Vec::new();
    let mut answers = Vec::new();
    for i in 0..cycles {
        let sent = Instant::now();
        let (v, at) = pause(c, &format!("fan-out cycle {i}")).await?;
        answers.push(at - sent);
        out.push((v, at));
        tokio::time::sleep(hold).await;
        let sent = Instant::now();
        let v = resume(c, &format!("fan-out cycle {i} done")).await?;
        let at = Instant::now();
        answers.push(at - sent);
        out.push((v, at));
        tokio::time::sleep(hold).await;
    }
    Ok((out, answers))
}

/// Waits (at most 30 s) until every subscriber has seen `version`, so a
/// late last event is measured as late rather than counted as missed.
async fn settle(subs: &[(Arrivals, tokio::task::JoinHandle<()>)], version: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let all = subs.iter().all(|(seen, _)| {
            seen.lock()
                .is_ok_and(|s| s.iter().any(|&(v, _)| v >= version))
        });
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run(env: &super::Env, backend: Backend) -> Result<Fanout> {
    raise_nofile();
    let db = Database::new(backend, &env.pg_admin).await?;
    let opts = ServerOptions {
        args: vec!["--max-streams".into(), MAX_STREAMS.to_string()],
        ..Default::default()
    };
    let server = Server::start(&env.lull, &db.url, &opts).await?;
    let c = crate::http::client(server.addr)?;
    let cycles = if env.quick { 3 } else { 10 };
    let hold = Duration::from_millis(500);

    // No subscriber: the requests' own latency and storage calls.
    let calls = storage_calls(&c).await?;
    let (_, idle) = changes(&c, cycles, hold).await?;
    let idle_calls = storage_calls(&c).await? - calls;
    let idle_rss_kib = server.rss_kib()?;

    let http = reqwest::Client::new();
    let url = server.url("/api/system/worker-pause/stream");
    let mut subs = Vec::new();
    let mut levels = Vec::new();
    for n in LEVELS {
        while subs.len() < n {
            let sub = subscribe(&http, &url).await.with_context(|| {
                format!(
                    "opening stream {} of {n}:\n{}",
                    subs.len() + 1,
                    server.tail()
                )
            })?;
            subs.push(sub);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_kib = server.rss_kib()?;
        for (seen, _) in &subs {
            seen.lock().map_err(|_| anyhow!("poisoned"))?.clear();
        }
        let calls = storage_calls(&c).await?;
        let (made, answers) = changes(&c, cycles, hold).await?;
        let calls = storage_calls(&c).await? - calls;
        settle(&subs, made.last().map_or(0, |m| m.0)).await;
        let mut samples = Vec::new();
        let mut missed = 0;
        for (seen, _) in &subs {
            let seen = seen.lock().map_err(|_| anyhow!("poisoned"))?;
            for &(v, answered) in &made {
                match seen.iter().find(|(ev, _)| *ev >= v) {
                    Some(&(_, at)) => samples.push(at.saturating_duration_since(answered)),
                    None => missed += 1,
                }
            }
        }
        levels.push(Level {
            subscribers: n,
            live_latency: Latency::of(samples),
            missed,
            answer: Latency::of(answers),
            storage_calls_per_change: calls as f64 / made.len() as f64,
            rss_kib,
        });
    }
    for (_, task) in &subs {
        task.abort();
    }
    let changes = cycles * 2;
    Ok(Fanout {
        backend,
        changes,
        idle_answer: Latency::of(idle),
        idle_storage_calls_per_change: idle_calls as f64 / changes as f64,
        idle_rss_kib,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_of_a_state_event_only() {
        let state = "event: state\ndata: {\"kind\":\"state\",\"status\":{\"workersPaused\":true,\"reason\":\"x\",\"version\":42,\"audit\":{\"version\":7}}}\n\n";
        assert_eq!(state_version(state), Some(42));
        let tick = "event: metrics\ndata: {\"kind\":\"metrics\",\"version\":42}\n\n";
        assert_eq!(state_version(tick), None);
        assert_eq!(state_version(":\n\n"), None);
    }
}
