//! `lull-bench`: runs every performance scenario of issue 7 against freshly
//! started release servers on SQLite and PostgreSQL, scenario 7 (pause time
//! against history), scenario 8 (Lull against graphile-worker) and scenario
//! 9 (the live stream's fan-out to 1,000 and 3,000 subscribers), then the
//! full fault scenarios, and writes `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p bench -- --out BENCHMARKS.md
//! ```
//!
//! It builds `target/release/lull` first (or takes `--lull PATH`), creates a
//! throwaway PostgreSQL database per scenario through `--postgres-url`
//! (default: trust auth on 127.0.0.1:5432), and stays on loopback. Exits
//! non-zero when a fault scenario fails; a missed performance target is
//! reported in the file, not as a failure.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bench::db::Backend;
use bench::faults::{self, FaultEnv, FaultOutcome, Size};
use bench::report::{self, Machine, Results};
use bench::scenarios::{self, Env};
use clap::Parser;
use sqlx::Connection;

#[derive(Parser, Debug)]
#[command(
    name = "lull-bench",
    about = "Lull's benchmarks and fault scenarios; writes BENCHMARKS.md"
)]
struct Args {
    /// Where to write the results.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The `lull` binary to test [default: build target/release/lull].
    #[arg(long)]
    lull: Option<PathBuf>,
    /// PostgreSQL admin URL; a throwaway database is created per scenario.
    #[arg(long, env = "LULL_BENCH_POSTGRES_URL", default_value = bench::DEFAULT_POSTGRES_URL)]
    postgres_url: String,
    /// Shorter windows: a trial run, not for the record.
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios (comma-separated: 1,2,3,4,5,7,8,9,10,faults).
    /// `--only 7` (or 8, 9, 10, or a list of them) rewrites only those
    /// scenarios' sections.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run only this store (sqlite or postgres).
    #[arg(long)]
    store: Option<String>,
    /// Skip the fault scenario that restarts the PostgreSQL cluster (it
    /// disturbs anything else using that cluster).
    #[arg(long)]
    no_pg_restart: bool,
}

impl Args {
    fn wants(&self, s: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == s)
    }

    fn stores(&self) -> Vec<Backend> {
        [Backend::Sqlite, Backend::Postgres]
            .into_iter()
            .filter(|b| match self.store.as_deref() {
                Some("sqlite") => *b == Backend::Sqlite,
                Some("postgres") => *b == Backend::Postgres,
                _ => true,
            })
            .collect()
    }
}

async fn versions(pg_admin: &str) -> (String, String) {
    let pg = match sqlx::PgConnection::connect(pg_admin).await {
        Ok(mut c) => sqlx::query_scalar::<_, String>("SELECT version()")
            .fetch_one(&mut c)
            .await
            .unwrap_or_default(),
        Err(e) => format!("unreachable ({e})"),
    };
    let sqlite = match sqlx::SqliteConnection::connect("sqlite::memory:").await {
        Ok(mut c) => sqlx::query_scalar::<_, String>("SELECT sqlite_version()")
            .fetch_one(&mut c)
            .await
            .unwrap_or_default(),
        Err(e) => format!("unavailable ({e})"),
    };
    (pg, sqlite)
}

/// Runs one scenario, logging it, and keeps going when it fails to run.
async fn step<T>(
    name: String,
    errors: &mut Vec<(String, String)>,
    f: impl std::future::Future<Output = Result<T>>,
) -> Option<T> {
    eprintln!("lull-bench: {name} …");
    let t = Instant::now();
    match f.await {
        Ok(v) => {
            eprintln!(
                "lull-bench: {name} done in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            Some(v)
        }
        Err(e) => {
            eprintln!("lull-bench: {name} FAILED: {e:#}");
            errors.push((name, format!("{e:#}")));
            None
        }
    }
}

async fn fault(
    name: &'static str,
    backend: Backend,
    f: impl std::future::Future<Output = Result<String>>,
) -> FaultOutcome {
    eprintln!("lull-bench: fault {name} ({}) …", backend.name());
    let t = Instant::now();
    let result = f.await.map_err(|e| format!("{e:#}"));
    match &result {
        Ok(s) => eprintln!("lull-bench: fault {name} passed: {s}"),
        Err(e) => eprintln!("lull-bench: fault {name} FAILED: {e}"),
    }
    FaultOutcome {
        name,
        backend,
        result,
        skipped: None,
        took: t.elapsed(),
    }
}

async fn run_faults(args: &Args, env: &FaultEnv) -> Vec<FaultOutcome> {
    let mut out = Vec::new();
    let stores = args.stores();
    if stores.contains(&Backend::Postgres) {
        match faults::restartable_cluster(&args.postgres_url) {
            Ok(_) if args.no_pg_restart => out.push(skipped(
                "PostgreSQL restarted mid-load",
                "--no-pg-restart given",
            )),
            Ok(cluster) => out.push(
                fault(
                    "PostgreSQL restarted mid-load",
                    Backend::Postgres,
                    faults::postgres_restart(env, &cluster),
                )
                .await,
            ),
            Err(why) => out.push(skipped("PostgreSQL restarted mid-load", &why)),
        }
        out.push(
            fault(
                "server DB connections killed repeatedly",
                Backend::Postgres,
                faults::connections_killed(env),
            )
            .await,
        );
        out.push(
            fault(
                "one of two servers kill -9'd mid-load",
                Backend::Postgres,
                faults::one_of_two_killed(env),
            )
            .await,
        );
        out.push(
            fault(
                "LISTEN connection killed while a pause is issued",
                Backend::Postgres,
                faults::listen_killed_during_pause(env),
            )
            .await,
        );
    }
    for &b in &stores {
        out.push(
            fault(
                "server kill -9'd during pause/resume cycles",
                b,
                faults::killed_during_pause_cycles(env, b),
            )
            .await,
        );
    }
    if stores.contains(&Backend::Sqlite) {
        out.push(
            fault(
                "server kill -9'd mid-write",
                Backend::Sqlite,
                faults::sqlite_killed_mid_write(env),
            )
            .await,
        );
    }
    out
}

fn skipped(name: &'static str, why: &str) -> FaultOutcome {
    eprintln!("lull-bench: fault {name} SKIPPED: {why}");
    FaultOutcome {
        name,
        backend: Backend::Postgres,
        result: Ok(String::new()),
        skipped: Some(why.to_string()),
        took: Duration::ZERO,
    }
}

/// Scenario 8: installs the peer (skipping, as a scenario that could not
/// run, when node or npm is missing), then measures.
async fn peer(env: &Env) -> Result<scenarios::peer::PeerComparison> {
    let graphile = bench::peer::Graphile::install()?
        .map_err(|missing| anyhow::anyhow!("graphile-worker cannot run here: {missing}"))?;
    let size = if env.quick {
        scenarios::peer::Size::quick()
    } else {
        scenarios::peer::Size::full()
    };
    scenarios::peer::run(env, &graphile, size).await
}

/// `previous` with the sections of the scenarios this run measured
/// replaced.
fn sections_only(r: &Results, previous: &str) -> String {
    use bench::scenarios::{group_commit, pause_history, peer_report};
    let mut text = previous.to_string();
    if let Some(h) = &r.pause_history {
        text = pause_history::splice(
            &text,
            &pause_history::section(h, &r.date, &r.machine.commit),
        );
    }
    if let Some(g) = &r.group_commit {
        text = bench::sections::splice(
            &text,
            group_commit::SECTION_BEGIN,
            group_commit::SECTION_END,
            &format!("{}\n", group_commit::section(g, &r.date, &r.machine.commit)),
        );
    }
    if let Some(p) = &r.peer {
        text = bench::sections::splice(
            &text,
            peer_report::SECTION_BEGIN,
            peer_report::SECTION_END,
            &format!(
                "{}\n",
                peer_report::section(p, &r.machine, &r.command, &r.date)
            ),
        );
    }
    if !r.fanout.is_empty() {
        use bench::scenarios::fanout_report;
        text = bench::sections::splice(
            &text,
            fanout_report::SECTION_BEGIN,
            fanout_report::SECTION_END,
            &format!(
                "{}\n",
                fanout_report::section(&r.fanout, &r.date, &r.machine.commit)
            ),
        );
    }
    text
}

/// The scenarios with sections of their own.
const SECTIONED: [&str; 4] = ["7", "8", "9", "10"];

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let lull = match &args.lull {
        Some(p) => p.clone(),
        None => {
            eprintln!("lull-bench: building target/release/lull …");
            bench::proc::build_lull(true)?
        }
    };
    let lull = lull
        .canonicalize()
        .with_context(|| format!("{}", lull.display()))?;
    let env = Env {
        lull: lull.clone(),
        pg_admin: args.postgres_url.clone(),
        quick: args.quick,
    };
    let mut machine = Machine::probe();
    (machine.postgres, machine.sqlite) = versions(&args.postgres_url).await;
    let mut r = Results {
        machine,
        command: std::iter::once("cargo run --release -p bench --".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        quick: args.quick,
        ..Default::default()
    };
    let stores = args.stores();
    let mut errors = Vec::new();
    for &b in &stores {
        if args.wants("1") {
            let name = format!("1. paused claim cost ({})", b.name());
            if let Some(v) = step(name, &mut errors, scenarios::paused_claim::run(&env, b)).await {
                r.paused_claim.push(v);
            }
        }
        if args.wants("2") {
            let name = format!("2. claim throughput ({})", b.name());
            if let Some(v) = step(name, &mut errors, scenarios::throughput::run(&env, b)).await {
                r.throughput.push(v);
            }
        }
        if args.wants("3") {
            let name = format!("3. enqueue → start latency ({})", b.name());
            if let Some(v) = step(name, &mut errors, scenarios::latency::run(&env, b)).await {
                r.latency.push(v);
            }
        }
        if args.wants("4") {
            let name = format!("4. heartbeats ({})", b.name());
            if let Some(v) = step(name, &mut errors, scenarios::heartbeats::run(&env, b)).await {
                r.heartbeats.push(v);
            }
        }
        if args.wants("5") {
            let name = format!("5. pause propagation ({})", b.name());
            if let Some(v) = step(name, &mut errors, scenarios::propagation::run(&env, b)).await {
                r.propagation.push(v);
            }
        }
    }
    if args.wants("7") && stores.contains(&Backend::Postgres) {
        let name = "7. pause time with 0 and 1,000,000 finished jobs (PostgreSQL)".to_string();
        r.pause_history = step(name, &mut errors, scenarios::pause_history::run(&env)).await;
    }
    if args.wants("8") && stores.contains(&Backend::Postgres) {
        let name = "8. Lull vs graphile-worker (PostgreSQL)".to_string();
        r.peer = step(name, &mut errors, peer(&env)).await;
    }
    if args.wants("9") {
        for &b in &stores {
            let name = format!("9. live fan-out to 1,000 and 3,000 streams ({})", b.name());
            if let Some(v) = step(name, &mut errors, scenarios::fanout::run(&env, b)).await {
                r.fanout.push(v);
            }
        }
    }
    if args.wants("10") && stores.contains(&Backend::Sqlite) {
        let name = "10. SQLite group commit vs a commit per write".to_string();
        r.group_commit = step(name, &mut errors, scenarios::group_commit::run(&env)).await;
    }
    if args.wants("faults") {
        let fenv = FaultEnv {
            lull,
            pg_admin: Some(args.postgres_url.clone()),
            size: Size::Full,
        };
        r.faults = run_faults(&args, &fenv).await;
    }
    r.errors = errors;
    r.took = started.elapsed();
    r.load_at_end = report::load_average();
    let previous = std::fs::read_to_string(&args.out).ok();
    let text = match previous.as_deref() {
        // Only scenarios with their own sections (7, 8, 9, 10): only those
        // sections change; the rest of the file stays as the last full run
        // wrote it.
        Some(prev)
            if !args.only.is_empty()
                && args.only.iter().all(|o| SECTIONED.contains(&o.as_str())) =>
        {
            sections_only(&r, prev)
        }
        _ => report::render(&r, previous.as_deref()),
    };
    std::fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "lull-bench: wrote {} in {:.0} s",
        args.out.display(),
        r.took.as_secs_f64()
    );
    let failed = r
        .faults
        .iter()
        .filter(|f| f.skipped.is_none() && f.result.is_err())
        .count();
    if failed > 0 || !r.errors.is_empty() {
        anyhow::bail!(
            "{failed} fault scenarios failed, {} scenarios could not run",
            r.errors.len()
        );
    }
    Ok(())
}
