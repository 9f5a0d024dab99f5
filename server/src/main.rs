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
            match server::start(&cfg, shutdown_signal()).await {
                Ok((addr, svc, handle)) => {
                    tracing::info!(%addr, database = svc.store().backend(), "lull listening on http://{addr}");
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
