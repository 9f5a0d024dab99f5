//! `lull-worker`: the reference worker, running the built-in handlers.
//!
//! Exit codes: 0 after a drain (directive, SIGTERM or SIGINT); 1 for a
//! configuration or registration error; 128 + signal when a second signal
//! stopped it at once (running jobs abandoned).

use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;
use worker::shutdown::StopLevel;
use worker::{Cli, Exit, LogFormat, Registry, ShutdownHandle, Worker};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let config = match cli.resolve(std::env::var("LULL_TOKEN").ok()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let worker = match Worker::new(config, Registry::with_builtins()) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::from(1);
            }
        };
        let stopped_by = tokio::spawn(on_signals(worker.shutdown_handle()));
        match worker.run().await {
            Ok(Exit::Drained) => ExitCode::SUCCESS,
            Ok(Exit::Stopped) => {
                let code = if stopped_by.is_finished() {
                    stopped_by.await.unwrap_or(15)
                } else {
                    15
                };
                ExitCode::from(128 + code)
            }
            Err(e) => {
                tracing::error!(error = %e, "worker failed");
                ExitCode::from(1)
            }
        }
    })
}

/// First SIGTERM/SIGINT: drain. Second: stop at once. Returns the number of
/// the signal that stopped the worker at once.
async fn on_signals(handle: ShutdownHandle) -> u8 {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for signals; stop the worker with a drain directive");
        return std::future::pending().await;
    };
    loop {
        let (name, number) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 15),
            _ = int.recv() => ("SIGINT", 2),
        };
        match handle.escalate() {
            StopLevel::Drain => tracing::info!(
                signal = name,
                "draining: finishing running jobs, claiming no more (signal again to stop at once)"
            ),
            _ => {
                tracing::warn!(signal = name, "stopping at once");
                return number;
            }
        }
    }
}

/// `LULL_LOG` filters (default `info`); `--log-format json` writes one JSON
/// object per line with the fields at the top level.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("LULL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder
            .with_ansi(std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
}
