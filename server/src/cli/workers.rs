//! `lull workers`: the fleet list, and pause, resume or drain workers.

use clap::{Args, Subcommand};
use wire::{WorkerActionKind, WorkerActionRequest};

use super::output::{action_summary, workers_table};
use super::{CliResult, Ctx};

#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// The fleet: desired and observed state, heartbeat, active jobs.
    List,
    /// Stop claiming (resumable); the workers keep heartbeating.
    Pause(WorkerTargets),
    /// Claim again.
    Resume(WorkerTargets),
    /// Stop claiming, finish current jobs, exit.
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
