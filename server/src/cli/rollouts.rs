//! `lull rolling-restart` (optionally following it to the end) and
//! `lull cancel-rolling-restart`.

use std::time::Duration;

use clap::Args;
use wire::{RollingRestartCancelRequest, RollingRestartRequest, RolloutStatus};

use super::output::rollout_progress;
use super::{CliResult, Ctx, Failure};

/// What `lull rolling-restart` asks for.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// Worker ids (or --all).
    pub ids: Vec<String>,
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub max_unavailable: u32,
    #[arg(long)]
    pub reason: String,
    #[arg(long)]
    pub confirm: Option<String>,
    /// How long one worker may take to drain and come back.
    #[arg(long)]
    pub deadline_seconds: Option<u32>,
}

/// How often `--follow` looks at the progress.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

pub async fn start(c: &Ctx, a: RolloutArgs, follow: bool) -> CliResult<()> {
    let req = RollingRestartRequest {
        worker_ids: (!a.all).then_some(a.ids),
        all: a.all.then_some(true),
        max_unavailable: Some(a.max_unavailable),
        reason: Some(a.reason),
        deadline_seconds: a.deadline_seconds,
        confirm: a.confirm,
    };
    let mut r = c.call(c.api.start_rolling_restart(&req)).await?;
    println!("rolling restart {} started", r.id);
    while follow && r.status == RolloutStatus::Running {
        tokio::time::sleep(FOLLOW_EVERY).await;
        r = c.call(c.api.rolling_restart(r.id)).await?;
        println!("{}", rollout_progress(&r));
    }
    match r.status {
        RolloutStatus::Failed => Err(Failure(
            1,
            r.message.unwrap_or_else(|| "failed".to_string()),
        )),
        _ => Ok(()),
    }
}

pub async fn cancel(c: &Ctx, id: &str, reason: Option<String>) -> CliResult<()> {
    let uuid = id
        .parse()
        .map_err(|_| Failure(2, format!("{id:?} is not a rolling restart id (a UUID)")))?;
    let r = c
        .call(
            c.api
                .cancel_rolling_restart(uuid, &RollingRestartCancelRequest { reason }),
        )
        .await?;
    c.print(&r, format!("rolling restart {id}: {}", r.status.as_str()));
    Ok(())
}
