//! `lull workers`: the fleet list, and pause, resume or drain workers.

use clap::{Args, Subcommand};
use wire::{WorkerActionKind, WorkerActionRequest};

use super::output::{action_summary, workers_table};
use super::{CliResult, Ctx};

#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// The fleet: desired and observed state, heartbeat, active jobs.
    #[command(after_help = "Example:\n  lull workers list --json")]
    List,
    /// Stop claiming (resumable); the workers keep heartbeating.
    #[command(
        after_help = "Example:\n  lull workers pause worker-1 worker-2 --reason \"disk full\""
    )]
    Pause(WorkerTargets),
    /// Claim again.
    #[command(after_help = "Example:\n  lull workers resume worker-1 --reason \"disk cleaned\"")]
    Resume(WorkerTargets),
    /// Stop claiming, finish current jobs, exit.
    #[command(after_help = "Example:\n  lull workers drain worker-3 --reason \"host reboot\"")]
    Drain(WorkerTargets),
}

#[derive(Debug, Args)]
pub struct WorkerTargets {
    /// Worker ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    #[arg(long)]
    pub reason: String,
    /// The phrase a safety refusal names, to override it.
    #[arg(long)]
    pub confirm: Option<String>,
}

pub async fn run(c: &Ctx, cmd: WorkersCommand) -> CliResult<()> {
    let (action, t) = match cmd {
        WorkersCommand::List => {
            let list = c.call(c.api.list_workers()).await?;
            c.print(&list, workers_table(&list));
            return Ok(());
        }
        WorkersCommand::Pause(t) => (WorkerActionKind::Pause, t),
        WorkersCommand::Resume(t) => (WorkerActionKind::Resume, t),
        WorkersCommand::Drain(t) => (WorkerActionKind::Drain, t),
    };
    let req = WorkerActionRequest {
        action: Some(action.as_str().into()),
        worker_ids: Some(t.ids),
        reason: Some(t.reason),
        confirm: t.confirm,
        dry_run: None,
    };
    let r = c.call(c.api.worker_action(&req)).await?;
    c.print(&r, action_summary(&r));
    Ok(())
}
