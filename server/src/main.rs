//! `lull`: run the server, check its configuration, manage tokens, or
//! operate a running server (the [`cli`] module).

mod cli;

use clap::{CommandFactory, Parser, Subcommand};
use server::config::ConfigArgs;

/// `lull --version`: the crate version and the commit it was built from
/// (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LULL_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "lull",
    version = VERSION,
    about = "Lull: a job queue and a control plane for the worker fleet that drains it",
    after_help = "Examples:\n  \
        lull serve --listen 127.0.0.1:8080 --database-url sqlite://./data/lull.db\n  \
        lull status\n  \
        lull pause --reason \"maintenance\" && lull wait --timeout 10m\n\n\
        Every command's --help has an example; `lull man` prints the manual."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (REST API, runbook endpoints, dashboard).
    #[command(after_help = "Example:\n  \
        lull serve --listen 127.0.0.1:8080 --database-url postgres://postgres@127.0.0.1:5432/lull")]
    Serve(ConfigArgs),
    /// Validate the configuration (flags, environment, TOML file) without
    /// starting anything; exits non-zero with the reason when it is wrong.
    #[command(after_help = "Example:\n  \
        set -a; . /etc/lull/lull.env; set +a; lull check-config")]
    CheckConfig(ConfigArgs),
    /// Manage API tokens (token mode).
    #[command(
        subcommand,
        after_help = "Example:\n  lull token create --name deploy-bot --role operator"
    )]
    Token(TokenCommand),
    /// Write and enable the systemd unit (or print it with --print).
    InstallService(cli::InstallService),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:\n  \
        lull completions bash > /etc/bash_completion.d/lull\n  \
        lull completions zsh > \"${fpath[1]}/_lull\"\n  \
        lull completions fish > ~/.config/fish/completions/lull.fish")]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page lull(1), or write one page per subcommand.
    #[command(after_help = "Examples:\n  \
        lull man | man -l -\n  \
        lull man --out-dir /usr/local/share/man/man1")]
    Man {
        /// Write lull.1 and lull-SUBCOMMAND.1 for every subcommand here.
        #[arg(long)]
        out_dir: Option<std::path::PathBuf>,
    },
    /// The runbook's commands against a running server (see `cli`).
    #[command(flatten)]
    Remote(cli::RemoteCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed once and never stored.
    #[command(after_help = "Example:\n  lull token create --name worker-1 --role worker")]
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
    #[command(after_help = "Example:\n  lull token list --database-url sqlite://./data/lull.db")]
    List {
        #[arg(long, env = "DATABASE_URL", default_value = server::config::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// Revoke a token: every server refuses it from now on.
    #[command(after_help = "Example:\n  lull token revoke deploy-bot")]
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Remote(cmd) => cli::run(cmd).await,
        Command::InstallService(args) => cli::install_service(args),
        Command::Completions { shell } => {
            cli::manual::completions(&mut Cli::command(), shell, &mut std::io::stdout());
            std::process::ExitCode::SUCCESS
        }
        Command::Man { out_dir } => {
            let done = match &out_dir {
                Some(dir) => cli::manual::man_pages(Cli::command(), dir),
                None => cli::manual::man_page(Cli::command(), &mut std::io::stdout()),
            };
            match done {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lull man: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
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
                println!(
                    "  static_dir:             {}",
                    match &cfg.static_dir {
                        Some(dir) => dir.display().to_string(),
                        None if server::http::assets::embedded_available() =>
                            "(none: the dashboard embedded in this binary)".into(),
                        None => format!(
                            "(none, and this binary embeds no dashboard: {} if present)",
                            server::config::DEFAULT_STATIC_DIR
                        ),
                    }
                );
                println!("  pause_poll_interval_ms: {}", cfg.pause_poll_interval_ms);
                println!("  pause_refresh_ms:       {}", cfg.pause_refresh_ms);
                println!("  worker_stale_seconds:   {}", cfg.worker_stale_seconds);
                println!("  ack_warn_after_ms:      {}", cfg.ack_warn_after_ms);
                println!("  auth:                   {:?}", cfg.auth);
                println!("  min_available_workers:  {}", cfg.min_available_workers);
                println!(
                    "  max_streams:            {} ({} per token)",
                    cfg.streams.total, cfg.streams.per_token
                );
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
            let readiness = server::lifecycle::Readiness::default();
            match server::start_with(&cfg, readiness, server::lifecycle::shutdown_signal()).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand shows an example in its `--help`.
    #[test]
    fn every_subcommand_help_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>, seen: &mut usize) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                *seen += 1;
                let help = sub
                    .get_after_help()
                    .or(sub.get_after_long_help())
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                if !(help.starts_with("Example") && help.contains("\n  ") && help.contains("lull "))
                {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing, seen);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let (mut missing, mut seen) = (Vec::new(), 0);
        walk(&cmd, "lull", &mut missing, &mut seen);
        assert!(seen > 20, "walked only {seen} subcommands");
        assert!(missing.is_empty(), "no example in --help of: {missing:?}");
    }

    #[test]
    fn version_names_the_commit() {
        let v = Cli::command().render_version();
        assert!(
            v.starts_with(&format!("lull {} (", env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
        assert!(!v.contains("()"), "{v}");
    }

    #[test]
    fn the_clap_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
