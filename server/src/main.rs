//! `lull`: run the server, or check its configuration.

use clap::{Parser, Subcommand};
use server::config::ConfigArgs;

#[derive(Parser)]
#[command(
    name = "lull",
    version,
    about = "Lull: a job queue and a control plane for the worker fleet that drains it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (REST API, runbook endpoints, dashboard).
    Serve(ConfigArgs),
    /// Validate the configuration (flags, environment, TOML file) without
    /// starting anything; exits non-zero with the reason when it is wrong.
    CheckConfig(ConfigArgs),
    /// Manage API tokens (token mode).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the pause state and drain metrics of a running server.
    Status {
        #[command(flatten)]
        remote: Remote,
    },
    /// Pause the fleet (drain: running jobs finish; quiesce: they stop at
    /// their next checkpoint).
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
        #[arg(long = "for", value_parser = cli::parse_duration)]
        for_: Option<std::time::Duration>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Resume the fleet. Refuses (exit 3) while jobs still run, unless --force.
    Resume {
        #[arg(long)]
        reason: String,
        /// Resume even though the fleet has not drained.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Wait until the fleet has drained, with progress; exit 4 on timeout.
    Wait {
        /// Give up after this long (e.g. 90s, 10m).
        #[arg(long, default_value = "10m", value_parser = server::cli::parse_duration)]
        timeout: std::time::Duration,
        #[arg(long, default_value = "2s", value_parser = server::cli::parse_duration)]
        interval: std::time::Duration,
        /// At the deadline: fail (exit 4), cancel the blocking jobs, or
        /// resume the fleet.
        #[arg(long, value_enum, default_value = "fail")]
        on_timeout: server::cli::OnTimeout,
        #[command(flatten)]
        remote: Remote,
    },
    /// List workers, or pause, resume, drain some.
    Workers {
        #[command(subcommand)]
        command: server::cli::WorkersCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Restart workers a few at a time (drain, exit, come back).
    RollingRestart {
        /// Worker ids (or --all).
        ids: Vec<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        max_unavailable: u32,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        confirm: Option<String>,
        /// How long one worker may take to drain and come back.
        #[arg(long)]
        deadline_seconds: Option<u32>,
        /// Follow progress until it ends.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Cancel the running rolling restart: no further drains.
    CancelRollingRestart {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// The audit log, newest first.
    Events {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        remote: Remote,
    },
}

use server::cli::{self, Remote};

async fn remote_command(command: Command) -> Result<(), cli::Failure> {
    use Command::*;
    match command {
        Status { remote } => cli::status(&cli::Client::new(remote)?).await,
        Pause {
            mode,
            reason,
            expected_version,
            request_id,
            until,
            for_,
            remote,
        } => {
            let c = cli::Client::new(remote)?;
            let until = match (until, for_) {
                (None, Some(d)) => Some(cli::time_after(d)?),
                (until, _) => until,
            };
            cli::pause(&c, &mode, &reason, expected_version, request_id, until).await
        }
        Resume {
            reason,
            force,
            remote,
        } => cli::resume(&cli::Client::new(remote)?, &reason, force).await,
        Wait {
            timeout,
            interval,
            on_timeout,
            remote,
        } => cli::wait(&cli::Client::new(remote)?, timeout, interval, on_timeout).await,
        Workers { command, remote } => cli::workers(&cli::Client::new(remote)?, command).await,
        RollingRestart {
            ids,
            all,
            max_unavailable,
            reason,
            confirm,
            deadline_seconds,
            follow,
            remote,
        } => {
            let req = cli::RolloutArgs {
                ids,
                all,
                max_unavailable,
                reason,
                confirm,
                deadline_seconds,
            };
            cli::rolling_restart(&cli::Client::new(remote)?, req, follow).await
        }
        CancelRollingRestart { id, reason, remote } => {
            cli::cancel_rolling_restart(&cli::Client::new(remote)?, &id, reason).await
        }
        Events { limit, remote } => cli::events(&cli::Client::new(remote)?, limit).await,
        Serve(_) | CheckConfig(_) | Token(_) => Err(cli::Failure(2, "not a remote command".into())),
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed once and never stored.
    Create {
        #[arg(long)]
        name: String,
        /// viewer, worker or operator. A worker token's name is its worker id.
        #[arg(long)]
        role: String,
        #[arg(long, env = "DATABASE_URL", default_value = server::config::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// List tokens (names, roles, when created and revoked; no secrets).
    List {
        #[arg(long, env = "DATABASE_URL", default_value = server::config::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// Revoke a token: every server refuses it from now on.
    Revoke {
        name: String,
        #[arg(long, env = "DATABASE_URL", default_value = server::config::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
}

async fn token_command(cmd: TokenCommand) -> Result<(), String> {
    use server::domain::Role;
    let url = match &cmd {
        TokenCommand::Create { database_url, .. }
        | TokenCommand::List { database_url }
        | TokenCommand::Revoke { database_url, .. } => database_url.clone(),
    };
    let tokens = server::service::tokens::Tokens::open(&url)
        .await
        .map_err(|e| e.to_string())?;
    match cmd {
        TokenCommand::Create { name, role, .. } => {
            let role = Role::parse(&role)
                .ok_or_else(|| format!("role {role:?}: use viewer, worker or operator"))?;
            server::domain::parse_identifier("name", Some(&name)).map_err(|e| e.to_string())?;
            let (rec, token) = tokens
                .create(&name, role)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "created token {:?} (role {}); it is shown only now:",
                rec.name,
                rec.role.as_str()
            );
            println!("{token}");
        }
        TokenCommand::List { .. } => {
            let tokens = tokens.list().await.map_err(|e| e.to_string())?;
            println!("{:<24} {:<9} {:<25} REVOKED", "NAME", "ROLE", "CREATED");
            for t in tokens {
                println!(
                    "{:<24} {:<9} {:<25} {}",
                    t.name,
                    t.role.as_str(),
                    t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    t.revoked_at
                        .map(|r| r.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_else(|| "-".into())
                );
            }
        }
        TokenCommand::Revoke { name, .. } => {
            let t = tokens.revoke(&name).await.map_err(|e| e.to_string())?;
            println!("revoked token {:?} ({})", t.name, t.role.as_str());
        }
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LULL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("LULL_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        c @ (Command::Status { .. }
        | Command::Pause { .. }
        | Command::Resume { .. }
        | Command::Wait { .. }
        | Command::Workers { .. }
        | Command::RollingRestart { .. }
        | Command::CancelRollingRestart { .. }
        | Command::Events { .. }) => match remote_command(c).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(cli::Failure(code, msg)) => {
                eprintln!("lull: {msg}");
                std::process::ExitCode::from(code)
            }
        },
        Command::Token(cmd) => match token_command(cmd).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lull token: {e}");
                std::process::ExitCode::from(2)
            }
        },
        Command::CheckConfig(args) => match args.resolve() {
            Ok(cfg) => {
                println!("configuration OK");
                println!("  listen:                 {}", cfg.listen);
                println!(
                    "  database_url:           {}",
                    server::storage::redact(&cfg.database_url)
                );
                println!("  static_dir:             {}", cfg.static_dir.display());
                println!("  pause_poll_interval_ms: {}", cfg.pause_poll_interval_ms);
                println!("  pause_refresh_ms:       {}", cfg.pause_refresh_ms);
                println!("  worker_stale_seconds:   {}", cfg.worker_stale_seconds);
                println!("  auth:                   {:?}", cfg.auth);
                println!("  min_available_workers:  {}", cfg.min_available_workers);
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("configuration error: {e}");
                std::process::ExitCode::from(2)
            }
        },
        Command::Serve(args) => {
            init_tracing();
            let cfg = match args.resolve() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("configuration error: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            if cfg.auth == server::auth::AuthMode::Disabled {
                if !cfg.listen.ip().is_loopback() {
                    tracing::warn!(
                        listen = %cfg.listen,
                        "AUTHENTICATION IS DISABLED AND LULL LISTENS ON A NON-LOOPBACK ADDRESS \
                         (--allow-insecure-bind): anyone who can reach it can pause, resume and \
                         cancel. Use LULL_AUTH=token outside local development."
                    );
                } else {
                    tracing::info!("authentication disabled (local mode): the actor is `local`");
                }
            }
            match server::start(&cfg, shutdown_signal()).await {
                Ok((addr, svc, handle)) => {
                    tracing::info!(%addr, database = svc.backend(), "lull listening on http://{addr}");
                    match handle.await {
                        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "server failed");
                            std::process::ExitCode::FAILURE
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "server task failed");
                            std::process::ExitCode::FAILURE
                        }
                    }
                }
                Err(e) => {
                    eprintln!("lull: cannot start: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
