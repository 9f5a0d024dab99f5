//! `lull queues` (list, pause, resume one queue) and `lull enqueue` (a job
//! with its queue, schedule and unique key).

use clap::{Args, Subcommand};
use wire::{EnqueueRequest, Enqueued, QueueInfo, QueueList, QueuePauseRequest, QueueResumeRequest};

use super::duration::{parse_duration, time_after};
use super::output::timestamp;
use super::{CliResult, Ctx, Failure};

#[derive(Debug, Subcommand)]
pub enum QueuesCommand {
    /// Every queue that has jobs or a pause: state and live counts (the
    /// default).
    #[command(after_help = "Example:\n  lull queues list")]
    List,
    /// Pause one queue: no claim on any server hands out its jobs (drain:
    /// running ones finish; quiesce: they hold at their next checkpoint).
    #[command(
        after_help = "Example:\n  lull queues pause mail --mode drain --reason \"provider outage\" --for 1h"
    )]
    Pause {
        name: String,
        #[arg(long, value_parser = ["drain", "quiesce"])]
        mode: String,
        #[arg(long)]
        reason: String,
        /// A timed pause: the queue resumes by itself after this long (e.g.
        /// 30m), counted from this machine's clock.
        #[arg(long = "for", value_parser = parse_duration, conflicts_with = "until")]
        for_: Option<std::time::Duration>,
        /// A timed pause: the queue resumes by itself at this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Refuse (exit 3) unless the queue's pause is still at this version.
        #[arg(long)]
        expected_version: Option<i64>,
        /// Idempotency key: retries with the same id are applied once.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Resume one queue. Refuses (exit 3) while its jobs still run, unless
    /// --force.
    #[command(after_help = "Example:\n  lull queues resume mail --reason \"provider back\"")]
    Resume {
        name: String,
        #[arg(long)]
        reason: String,
        /// Resume even though the queue has not drained.
        #[arg(long)]
        force: bool,
    },
}

/// `lull enqueue TYPE`: one job.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The job type.
    pub job_type: String,
    /// The payload, as JSON [default: {}].
    #[arg(long)]
    pub payload: Option<String>,
    /// The queue [default: default].
    #[arg(long)]
    pub queue: Option<String>,
    /// Not claimable before this RFC 3339 time.
    #[arg(long, conflicts_with = "delay")]
    pub run_at: Option<String>,
    /// Not claimable for this long (e.g. 90s, 10m).
    #[arg(long, value_parser = parse_duration)]
    pub delay: Option<std::time::Duration>,
    /// De-duplication: while a job with this key is queued, scheduled or
    /// running, nothing new is created.
    #[arg(long)]
    pub unique_key: Option<String>,
    #[arg(long)]
    pub priority: Option<i32>,
    #[arg(long)]
    pub max_attempts: Option<i32>,
}

pub async fn run(c: &Ctx, cmd: Option<QueuesCommand>) -> CliResult<()> {
    match cmd.unwrap_or(QueuesCommand::List) {
        QueuesCommand::List => {
            let list = c.call(c.api.queues()).await?;
            c.print(&list, queues_table(&list));
        }
        QueuesCommand::Pause {
            name,
            mode,
            reason,
            for_,
            until,
            expected_version,
            request_id,
        } => {
            let until = match (until, for_) {
                (None, Some(d)) => Some(time_after(d)?),
                (until, _) => until,
            };
            let req = QueuePauseRequest {
                mode: Some(mode),
                reason: Some(reason),
                until,
                expected_version,
                request_id,
                dry_run: None,
            };
            let q = c.call(c.api.pause_queue(&name, &req)).await?;
            c.print(&q, queue_line(&q));
        }
        QueuesCommand::Resume {
            name,
            reason,
            force,
        } => {
            if !force {
                let q = c.call(c.api.queue(&name)).await?;
                if !q.is_drained {
                    return Err(Failure(
                        3,
                        format!(
                            "queue {name} has not drained: {} running, {} stale; resume anyway with --force",
                            q.running, q.stale_running
                        ),
                    ));
                }
            }
            let req = QueueResumeRequest {
                reason: Some(reason),
                force_resume: Some(force),
                ..Default::default()
            };
            let q = c.call(c.api.resume_queue(&name, &req)).await?;
            let mut line = queue_line(&q);
            if let Some(w) = &q.warning {
                line.push_str(&format!("\nwarning: {w}"));
            }
            c.print(&q, line);
        }
    }
    Ok(())
}

pub async fn enqueue(c: &Ctx, args: EnqueueArgs) -> CliResult<()> {
    let payload = match args.payload.as_deref() {
        None => None,
        Some(raw) => Some(
            serde_json::from_str(raw)
                .map_err(|e| Failure(2, format!("--payload is not JSON: {e}")))?,
        ),
    };
    let req = EnqueueRequest {
        job_type: Some(args.job_type),
        payload,
        priority: args.priority,
        max_attempts: args.max_attempts,
        queue: args.queue,
        run_at: args.run_at,
        delay_seconds: args.delay.map(|d| d.as_secs()),
        unique_key: args.unique_key,
    };
    let e = c.call(c.api.enqueue_job(&req)).await?;
    c.print(&e, enqueued_line(&e));
    Ok(())
}

/// `lull queues`: one queue a line.
fn queues_table(list: &QueueList) -> String {
    let mut out = format!(
        "{:<24} {:<18} {:>7} {:>9} {:>7} {:>5}  REASON",
        "QUEUE", "STATE", "QUEUED", "SCHEDULED", "RUNNING", "STALE"
    );
    for q in &list.queues {
        out.push_str(&format!(
            "\n{:<24} {:<18} {:>7} {:>9} {:>7} {:>5}  {}",
            q.name,
            state(q),
            q.queued,
            q.scheduled,
            q.running,
            q.stale_running,
            if q.paused {
                q.reason.as_deref().unwrap_or("-")
            } else {
                ""
            }
        ));
    }
    out
}

fn state(q: &QueueInfo) -> String {
    match (q.paused, q.mode) {
        (true, Some(m)) => format!("paused ({})", m.as_str()),
        (true, None) => "paused".into(),
        _ => "running".into(),
    }
}

/// A queue after a pause or resume, like `lull status` says the fleet.
fn queue_line(q: &QueueInfo) -> String {
    let until = q
        .until
        .map(|u| format!(" · resumes by itself at {}", timestamp(u)))
        .unwrap_or_default();
    format!(
        "Queue {}: {}{until} · version {} · reason: {} · by {}\nqueued {} · scheduled {} · running {} · stale {} · {}",
        q.name,
        state(q),
        q.version,
        q.reason.as_deref().unwrap_or("-"),
        q.actor.as_deref().unwrap_or("-"),
        q.queued,
        q.scheduled,
        q.running,
        q.stale_running,
        if q.is_drained { "drained" } else { "not drained" }
    )
}

fn enqueued_line(e: &Enqueued) -> String {
    let j = &e.job;
    if e.duplicate {
        return format!(
            "duplicate: job {} ({}) already holds unique key {}; nothing enqueued",
            j.id,
            j.status.as_str(),
            j.unique_key.as_deref().unwrap_or("-")
        );
    }
    format!(
        "enqueued job {} (type {}, queue {}, {}{})",
        j.id,
        j.job_type,
        j.queue,
        j.status.as_str(),
        if j.status == wire::JobStatus::Scheduled {
            format!(" until {}", timestamp(j.run_after))
        } else {
            String::new()
        }
    )
}
