//! `lull`: run the server, check its configuration, manage tokens, or
//! operate a running server (the [`cli`] module).

mod cli;

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
    /// The runbook's commands against a running server (see `cli`).
    #[command(flatten)]
    Remote(cli::RemoteCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed once and never stored.
    Create {
        #[arg(long)]
        name: String,
        /// viewer, worker, operator or producer. A worker token's name is its worker id.
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
            let role = Role::parse(&role).ok_or_else(|| {
                format!("role {role:?}: use viewer, worker, operator or producer")
            })?;
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
        Command::Remote(cmd) => cli::run(cmd).await,
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
                let age = |a: Option<chrono::Duration>| {
                    a.map_or("keep forever".to_string(), |d| {
                        format!("{}s", d.num_seconds())
                    })
                };
                println!("  retain_succeeded:       {}", age(cfg.retention.succeeded));
                println!("  retain_cancelled:       {}", age(cfg.retention.cancelled));
                println!("  retain_failed:          {}", age(cfg.retention.failed));
                println!("  retain_events:          {}", age(cfg.retention.events));
                println!("  retention_interval_ms:  {}", cfg.retention_interval_ms);
                println!(
                    "  statsd:                 {}",
                    cfg.statsd
                        .as_ref()
                        .map_or("off".to_string(), |t| t.to_string())
                );
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
