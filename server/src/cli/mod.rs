//! The operator CLI: `lull status`, `pause`, `resume`, `wait`, `workers`,
//! `rolling-restart`, `events`, `queues`, `enqueue` — the runbook's steps
//! as commands — and `tui`, the same controls in a terminal UI; all over the
//! REST API of a running server (`--server` / `LULL_SERVER`, token from
//! `LULL_TOKEN`), through the typed [`client::Client`].
//!
//! Exit codes: 0 done, 1 failed (network, server error), 2 bad usage,
//! 3 refused (a conflict: not drained, version moved, safety rule),
//! 4 timed out.
//!
//! Modules by command group: [`pause`] (status, pause, resume, wait),
//! [`workers`], [`rollouts`], [`events`], [`queues`] (queues, enqueue),
//! [`tui`]; [`output`] formats what they print, [`duration`] reads durations.

mod duration;
mod events;
pub mod manual;
mod output;
mod pause;
mod queues;
mod rollouts;
mod service;
mod tui;
mod workers;

use std::future::Future;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use client::{ApiError, Client};
use serde::Serialize;

pub use duration::parse_duration;
pub use pause::OnTimeout;
pub use service::{run as install_service, InstallService};
pub use workers::WorkersCommand;

/// How to reach the server.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The server's base URL.
    #[arg(
        long,
        env = "LULL_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// A bearer token (token mode).
    #[arg(long, env = "LULL_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the server's JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands that talk to a running server.
#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Show the pause state and drain metrics of a running server.
    #[command(after_help = "Example:\n  lull status --server http://127.0.0.1:8080")]
    Status {
        #[command(flatten)]
        remote: Remote,
    },
    /// Pause the fleet (drain: running jobs finish; quiesce: they stop at
    /// their next checkpoint).
    #[command(
        after_help = "Example:\n  lull pause --mode drain --reason \"deploy 4.2\" --for 30m"
    )]
    Pause {
        #[arg(long, default_value = "drain", value_parser = ["drain", "quiesce"])]
        mode: String,
        #[arg(long)]
        reason: String,
        /// Refuse (exit 3) unless the state is still at this version.
        #[arg(long)]
        expected_version: Option<i64>,
        /// Idempotency key: retries with the same id are applied once.
        #[arg(long)]
        request_id: Option<String>,
        /// A timed pause: the fleet resumes by itself at this RFC 3339 time
        /// (e.g. 2026-11-22T18:00:00Z).
        #[arg(long, conflicts_with = "for_")]
        until: Option<String>,
        /// A timed pause: the fleet resumes by itself after this long (e.g.
        /// 30m, 2h), counted from this machine's clock.
        #[arg(long = "for", value_parser = parse_duration)]
        for_: Option<std::time::Duration>,
        /// Show what the pause would do (workers, running and queued jobs)
        /// and change nothing.
        #[arg(long, conflicts_with = "wait_applied")]
        dry_run: bool,
        /// After pausing, wait until every online worker has applied the
        /// pause (exit 4 on timeout, naming the pending workers).
        #[arg(long)]
        wait_applied: bool,
        /// How long --wait-applied waits (e.g. 90s, 2m).
        #[arg(long, default_value = "2m", value_parser = parse_duration, requires = "wait_applied")]
        timeout: std::time::Duration,
        #[command(flatten)]
        remote: Remote,
    },
    /// Resume the fleet. Refuses (exit 3) while jobs still run, unless --force.
    #[command(after_help = "Example:\n  lull resume --reason \"deploy done\"")]
    Resume {
        #[arg(long)]
        reason: String,
        /// Resume even though the fleet has not drained.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Wait until the fleet has drained (or, with --applied, until every
    /// online worker has applied the current pause), with progress; exit 4
    /// on timeout.
    #[command(after_help = "Example:\n  lull wait --timeout 10m --on-timeout fail")]
    Wait {
        /// Wait for the workers to apply the current pause version instead
        /// of for the drain (exit 4 on timeout, naming the pending ones).
        #[arg(long, conflicts_with = "on_timeout")]
        applied: bool,
        /// Give up after this long (e.g. 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: std::time::Duration,
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        interval: std::time::Duration,
        /// At the deadline: fail (exit 4), cancel the blocking jobs, or
        /// resume the fleet.
        #[arg(long, value_enum, default_value = "fail")]
        on_timeout: OnTimeout,
        #[command(flatten)]
        remote: Remote,
    },
    /// List workers, or pause, resume, drain some.
    #[command(after_help = "Example:\n  lull workers list")]
    Workers {
        #[command(subcommand)]
        command: WorkersCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Restart workers a few at a time (drain, exit, come back).
    #[command(
        after_help = "Example:\n  lull rolling-restart --all --max-unavailable 1 --reason \"new config\" --follow"
    )]
    RollingRestart {
        #[command(flatten)]
        args: rollouts::RolloutArgs,
        /// Follow progress until it ends.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Cancel the running rolling restart: no further drains.
    #[command(
        after_help = "Example:\n  lull cancel-rolling-restart 0b5e7c1e-3f0a-4a57-9f43-2a8c1d2e4f60 --reason \"bad build\""
    )]
    CancelRollingRestart {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Named queues: list them, or pause or resume one.
    #[command(after_help = "Example:\n  lull queues")]
    Queues {
        #[command(subcommand)]
        command: Option<queues::QueuesCommand>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Enqueue one job (its queue, schedule and unique key optional).
    #[command(
        after_help = "Example:\n  lull enqueue send-email --payload '{\"to\":\"a@example.com\"}' --queue mail --delay 5m"
    )]
    Enqueue {
        #[command(flatten)]
        args: queues::EnqueueArgs,
        #[command(flatten)]
        remote: Remote,
    },
    /// The fleet control plane in the terminal: watch the workers live,
    /// pause, resume, drain, rolling-restart, pause the fleet; every
    /// change confirmed with its impact (see docs/tui.md).
    #[command(
        after_help = "Example:\n  LULL_TOKEN=... lull tui --server https://lull.internal:8080"
    )]
    Tui {
        #[command(flatten)]
        remote: Remote,
    },
    /// The audit log, newest first.
    #[command(after_help = "Example:\n  lull events --limit 50 --json")]
    Events {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        remote: Remote,
    },
}

/// A failed command, with its exit code.
#[derive(Debug)]
pub struct Failure(pub u8, pub String);

type CliResult<T> = Result<T, Failure>;

/// Runs a command; prints a failure to stderr and exits with its code.
pub async fn run(command: RemoteCommand) -> ExitCode {
    match dispatch(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, msg)) => {
            eprintln!("lull: {msg}");
            ExitCode::from(code)
        }
    }
}

async fn dispatch(command: RemoteCommand) -> CliResult<()> {
    use RemoteCommand::*;
    match command {
        Status { remote } => pause::status(&Ctx::new(remote)?).await,
        Pause {
            mode,
            reason,
            expected_version,
            request_id,
            until,
            for_,
            dry_run,
            wait_applied,
            timeout,
            remote,
        } => {
            let c = Ctx::new(remote)?;
            let until = match (until, for_) {
                (None, Some(d)) => Some(duration::time_after(d)?),
                (until, _) => until,
            };
            let req = wire::PauseRequest {
                action: Some("pause".into()),
                mode: Some(mode),
                reason: Some(reason),
                expected_version,
                request_id,
                until,
                force_resume: None,
                dry_run: None,
            };
            if dry_run {
                return pause::dry_run(&c, &req).await;
            }
            pause::pause(&c, &req).await?;
            if wait_applied {
                pause::wait_applied(&c, timeout, std::time::Duration::from_secs(2)).await?;
            }
            Ok(())
        }
        Resume {
            reason,
            force,
            remote,
        } => pause::resume(&Ctx::new(remote)?, &reason, force).await,
        Wait {
            applied: true,
            timeout,
            interval,
            remote,
            ..
        } => pause::wait_applied(&Ctx::new(remote)?, timeout, interval).await,
        Wait {
            timeout,
            interval,
            on_timeout,
            remote,
            ..
        } => pause::wait(&Ctx::new(remote)?, timeout, interval, on_timeout).await,
        Workers { command, remote } => workers::run(&Ctx::new(remote)?, command).await,
        RollingRestart {
            args,
            follow,
            remote,
        } => rollouts::start(&Ctx::new(remote)?, args, follow).await,
        CancelRollingRestart { id, reason, remote } => {
            rollouts::cancel(&Ctx::new(remote)?, &id, reason).await
        }
        Events { limit, remote } => events::list(&Ctx::new(remote)?, limit).await,
        Queues { command, remote } => queues::run(&Ctx::new(remote)?, command).await,
        Enqueue { args, remote } => queues::enqueue(&Ctx::new(remote)?, args).await,
        Tui { remote } => tui::run(remote).await,
    }
}

/// What every command works with: the client, and how to print.
pub(crate) struct Ctx {
    api: Client,
    /// As given, for messages.
    server: String,
    json: bool,
}

impl Ctx {
    fn new(remote: Remote) -> CliResult<Ctx> {
        let api = Client::builder(&remote.server)
            .token_opt(remote.token)
            .build()
            .map_err(|e| failure(&remote.server, e))?;
        Ok(Ctx {
            api,
            server: remote.server,
            json: remote.json,
        })
    }

    /// Awaits a client call; a failure becomes the command's exit code and
    /// message.
    async fn call<T>(&self, call: impl Future<Output = client::Result<T>>) -> CliResult<T> {
        call.await.map_err(|e| failure(&self.server, e))
    }

    /// With `--json` the answer itself, pretty-printed; else the summary.
    /// A reader that went away (`lull queues | head -1`) is not an error:
    /// the write is dropped instead of panicking on the broken pipe.
    fn print<T: Serialize>(&self, answer: &T, summary: String) {
        use std::io::Write;
        let text = if self.json {
            serde_json::to_string_pretty(answer).unwrap_or_default()
        } else {
            summary
        };
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// A failed call as the operator reads it: the status, code and message,
/// and for a safety refusal the flag that overrides it.
fn failure(server: &str, e: client::Error) -> Failure {
    let api = match e {
        client::Error::Api(ApiError::Unreachable { message }) | client::Error::Setup(message) => {
            return Failure(1, format!("cannot reach {server}: {message}"))
        }
        client::Error::Decode { .. } => return Failure(1, e.to_string()),
        client::Error::Api(api) => api,
    };
    let mut text = format!("{} {}: {}", api.status(), api.code(), api.message());
    if let ApiError::SafetyRefused {
        confirm_phrase: Some(p),
        ..
    } = &api
    {
        text.push_str(&format!("\nto override, repeat with --confirm {p:?}"));
    }
    Failure(exit_code(&api), text)
}

/// 3 for a refusal the state explains (a conflict), 2 for a request the
/// server could not accept or whose target does not exist, else 1.
fn exit_code(e: &ApiError) -> u8 {
    match e {
        ApiError::VersionConflict { .. }
        | ApiError::LeaseLost { .. }
        | ApiError::ResultInFlight { .. }
        | ApiError::SafetyRefused { .. }
        | ApiError::Conflict { .. } => 3,
        ApiError::Invalid { .. } | ApiError::NotFound { .. } => 2,
        ApiError::Other { status, .. } => match status {
            409 => 3,
            400 | 404 | 422 => 2,
            _ => 1,
        },
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str) -> ApiError {
        ApiError::from_parts(
            status,
            wire::ErrorBody {
                error: wire::ErrorDetail {
                    code: code.into(),
                    message: "m".into(),
                    field: None,
                },
                current: None,
                impact: None,
                confirm_phrase: Some("drain 2 workers".into()),
            },
        )
    }

    #[test]
    fn exit_codes_say_refused_bad_usage_or_failed() {
        for (status, code, exit) in [
            (409, "version_conflict", 3),
            (409, "safety_check", 3),
            (409, "conflict", 3),
            (409, "lease_lost", 3),
            (422, "validation_failed", 2),
            (400, "invalid_json", 2),
            (404, "not_found", 2),
            (401, "unauthorized", 1),
            (403, "forbidden", 1),
            (503, "unavailable", 1),
            (502, "http_502", 1),
        ] {
            assert_eq!(exit_code(&answer(status, code)), exit, "{status} {code}");
        }
    }

    #[test]
    fn a_safety_refusal_names_the_override() {
        let Failure(code, text) = failure("s", client::Error::Api(answer(409, "safety_check")));
        assert_eq!(code, 3);
        assert_eq!(
            text,
            "409 safety_check: m\nto override, repeat with --confirm \"drain 2 workers\""
        );
        let Failure(code, text) = failure(
            "http://h:1",
            client::Error::Api(ApiError::Unreachable {
                message: "refused".into(),
            }),
        );
        assert_eq!(
            (code, text.as_str()),
            (1, "cannot reach http://h:1: refused")
        );
    }
}
