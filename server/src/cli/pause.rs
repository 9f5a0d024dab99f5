//! `lull status`, `pause`, `resume` and `wait`: the global pause and the
//! drain, the runbook's core.

use std::time::{Duration, Instant};

use wire::PauseRequest;

use super::output::status_line;
use super::{CliResult, Ctx, Failure};

/// What `wait` does when the deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnTimeout {
    /// Exit 4, leaving everything as it is.
    Fail,
    /// Cancel the jobs that still block the drain, round after round, until
    /// drained (exit 0) or the cancel bound passes (exit 4).
    Cancel,
    /// Resume the fleet (force), then exit 4.
    Resume,
}

pub async fn status(c: &Ctx) -> CliResult<()> {
    let s = c.call(c.api.pause_status()).await?;
    c.print(&s, status_line(&s));
    Ok(())
}

pub async fn pause(c: &Ctx, req: &PauseRequest) -> CliResult<()> {
    let s = c.call(c.api.change_pause(req)).await?;
    c.print(&s, status_line(&s));
    Ok(())
}

/// `lull pause --dry-run`: what the pause would do; nothing changes.
pub async fn dry_run(c: &Ctx, req: &PauseRequest) -> CliResult<()> {
    let s = c.call(c.api.pause_dry_run(req)).await?;
    let summary = s
        .impact
        .as_ref()
        .map(|i| format!("dry run (nothing changed): {}", i.summary))
        .unwrap_or_else(|| status_line(&s));
    c.print(&s, summary);
    Ok(())
}

/// The longest single long poll `wait --applied` makes: progress is
/// printed at least this often.
const APPLIED_POLL_MAX: Duration = Duration::from_secs(10);

/// Waits until every online worker has applied the current pause version
/// (long polls on `?waitApplied=`), printing progress when it moves; exit
/// 4 on timeout, naming the pending workers.
pub async fn wait_applied(c: &Ctx, timeout: Duration, interval: Duration) -> CliResult<()> {
    let started = Instant::now();
    let mut last = None;
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let poll = interval
            .clamp(Duration::from_millis(100), APPLIED_POLL_MAX)
            .min(left);
        let s = c.call(c.api.pause_status_applied(poll)).await?;
        let Some(ack) = s.acknowledgement else {
            return Err(Failure(
                1,
                "the server does not report acknowledgements".into(),
            ));
        };
        let names = |list: &[wire::AcknowledgingWorker]| {
            list.iter()
                .map(|w| match w.name == w.worker_id {
                    true => w.worker_id.clone(),
                    false => format!("{} ({})", w.worker_id, w.name),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if ack.complete {
            let offline = match ack.offline.is_empty() {
                true => String::new(),
                false => format!("; offline, not counted: {}", names(&ack.offline)),
            };
            println!(
                "applied by all {} online workers (version {}) after {:.1?}{offline}",
                ack.total,
                ack.version,
                started.elapsed()
            );
            return Ok(());
        }
        let line = format!(
            "waiting: applied by {} of {} workers (version {}); pending: {}",
            ack.applied,
            ack.total,
            ack.version,
            names(&ack.pending)
        );
        if last.as_ref() != Some(&line) {
            println!("{line}");
            last = Some(line);
        }
        if started.elapsed() >= timeout {
            return Err(Failure(
                4,
                format!(
                    "not applied after {timeout:?}: applied by {} of {} workers (version {}); pending: {}",
                    ack.applied,
                    ack.total,
                    ack.version,
                    names(&ack.pending)
                ),
            ));
        }
    }
}

/// Resumes; without `force` it refuses (exit 3) while jobs still run.
pub async fn resume(c: &Ctx, reason: &str, force: bool) -> CliResult<()> {
    if !force {
        let m = c.call(c.api.pause_status()).await?.metrics;
        if !m.is_drained {
            return Err(Failure(
                3,
                format!(
                    "not drained: {} running, {} stale; wait (`lull wait`) or resume anyway with --force",
                    m.running, m.stale_running
                ),
            ));
        }
    }
    let s = c
        .call(c.api.change_pause(&PauseRequest::resume(reason, force)))
        .await?;
    let mut line = status_line(&s);
    if let Some(w) = &s.warning {
        line.push_str(&format!("\nwarning: {w}"));
    }
    c.print(&s, line);
    Ok(())
}

/// How long `wait --on-timeout cancel` goes on cancelling after the
/// deadline: jobs claimed meanwhile (the fleet is not paused, or a worker
/// ignores the pause) keep the drain from ending, and the command must end.
const CANCEL_BOUND: Duration = Duration::from_secs(60);

/// Cancels what blocks the drain until it is drained. The drain view names
/// at most 50 blocking jobs (oldest lease first), so one pass is not
/// enough: cancel them, look again, repeat. "drained" is printed only when
/// the server says so; otherwise exit 4 with what still runs.
async fn cancel_until_drained(c: &Ctx, timeout: Duration, interval: Duration) -> CliResult<()> {
    let started = Instant::now();
    let mut cancelled = std::collections::HashSet::new();
    loop {
        let d = c.call(c.api.drain_view()).await?;
        if d.metrics.is_drained {
            println!("drained by cancelling {} job(s)", cancelled.len());
            return Ok(());
        }
        let mut this_round = 0;
        for job in &d.blocking {
            if cancelled.contains(&job.id) {
                continue;
            }
            match c.api.cancel_job(job.id).await {
                Ok(_) => {
                    println!("cancelled job {}", job.id);
                    cancelled.insert(job.id);
                    this_round += 1;
                }
                // It finished (or was cancelled by someone else) since the
                // view was read: it no longer blocks the drain.
                Err(e)
                    if matches!(
                        e.api(),
                        Some(client::ApiError::Conflict { .. } | client::ApiError::NotFound { .. })
                    ) => {}
                Err(e) => return Err(super::failure(&c.server, e)),
            }
        }
        if started.elapsed() >= CANCEL_BOUND {
            return Err(Failure(
                4,
                format!(
                    "not drained after {timeout:?} and {CANCEL_BOUND:?} of cancelling: cancelled {} job(s), {} running and {} stale still block it",
                    cancelled.len(),
                    d.metrics.running,
                    d.metrics.stale_running
                ),
            ));
        }
        if this_round == 0 {
            // Nothing new to cancel: what blocks it is not in the view yet
            // (or is finishing); look again after the interval.
            tokio::time::sleep(interval.max(Duration::from_millis(50))).await;
        }
    }
}

/// Waits until drained, printing progress; on timeout does `on_timeout`.
pub async fn wait(
    c: &Ctx,
    timeout: Duration,
    interval: Duration,
    on_timeout: OnTimeout,
) -> CliResult<()> {
    let started = Instant::now();
    loop {
        let d = c.call(c.api.drain_view()).await?;
        let m = &d.metrics;
        if m.is_drained {
            println!("drained after {:.0?}", started.elapsed());
            return Ok(());
        }
        let eta = d
            .eta_seconds
            .map(|e| format!("~{e:.0} s"))
            .unwrap_or_else(|| "unknown".into());
        println!(
            "waiting: {} running, {} stale, ETA {eta} ({:.0?} elapsed)",
            m.running,
            m.stale_running,
            started.elapsed()
        );
        if started.elapsed() >= timeout {
            return match on_timeout {
                OnTimeout::Fail => Err(Failure(
                    4,
                    format!(
                        "not drained after {timeout:?}: {} job(s) still block it",
                        d.blocking.len()
                    ),
                )),
                OnTimeout::Cancel => cancel_until_drained(c, timeout, interval).await,
                OnTimeout::Resume => {
                    let req =
                        PauseRequest::resume(format!("drain deadline of {timeout:?} passed"), true);
                    c.call(c.api.change_pause(&req)).await?;
                    Err(Failure(
                        4,
                        format!("not drained after {timeout:?}; the fleet was resumed"),
                    ))
                }
            };
        }
        tokio::time::sleep(
            interval
                .min(timeout.saturating_sub(started.elapsed()))
                .max(Duration::from_millis(50)),
        )
        .await;
    }
}
