//! The benchmark peer: graphile-worker (Node.js), installed from npm into a
//! scratch folder and driven by `bench/peer/graphile.mjs`, one process per
//! run, on a database the bench created.
//!
//! The version is pinned by `bench/peer/package.json` and, with every
//! transitive package, by its `package-lock.json`: the install is `npm ci`
//! of those two files into `target/bench-peer/`, done only when that folder
//! does not already hold the pinned version (so it is idempotent, and a
//! second run costs nothing). Nothing is installed globally.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// The committed folder: the pinned manifest, its lockfile, the script.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// The longest one peer run (enqueue + drain) may take before it counts as
/// failed; the script bounds its own drain too.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Why the peer cannot run here (no `node`/`npm` on PATH): the caller skips
/// with this message instead of failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An installed graphile-worker, ready to run.
#[derive(Debug, Clone)]
pub struct Graphile {
    /// The scratch folder holding `node_modules/graphile-worker`.
    pub dir: PathBuf,
    /// graphile-worker's version (the pinned one).
    pub version: String,
    /// `node --version`.
    pub node: String,
}

/// How a peer run enqueues its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueue {
    /// One `addJobs` call with every job.
    Batch,
    /// One `addJob` per job from concurrent producers, timed over the first
    /// `timed` jobs (the rest are added with `addJobs`, untimed).
    Single { timed: usize },
}

/// What one peer run printed (see `bench/peer/graphile.mjs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerRun {
    pub version: String,
    pub jobs: usize,
    /// The jobs the enqueue timing covers.
    pub enqueued: usize,
    pub enqueue_seconds: f64,
    pub drain_seconds: f64,
    pub queued_before_drain: usize,
    /// Distinct jobs that graphile-worker reported succeeded.
    pub succeeded: usize,
    /// Failed attempts (none expected: the task does nothing).
    pub errors: usize,
    /// Jobs left in graphile-worker's table at the end (it deletes a job
    /// when it succeeds).
    pub remaining: usize,
}

impl PeerRun {
    /// Every job enqueued, run once, succeeded, and gone from the table.
    pub fn check(&self, jobs: usize) -> Result<()> {
        if self.queued_before_drain != jobs
            || self.succeeded != jobs
            || self.errors != 0
            || self.remaining != 0
        {
            bail!(
                "graphile-worker did not run every job once: {jobs} expected, {} queued, {} \
                 succeeded, {} errors, {} left",
                self.queued_before_drain,
                self.succeeded,
                self.errors,
                self.remaining
            );
        }
        Ok(())
    }
}

/// `program --version`, or `None` when it is not on PATH.
fn version_of(program: &str) -> Option<String> {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The version `package.json` pins (`dependencies.graphile-worker`).
pub fn pinned_version() -> Result<String> {
    let manifest = source_dir().join("package.json");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    json["dependencies"]["graphile-worker"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} pins no graphile-worker", manifest.display()))
}

/// The graphile-worker version installed in `dir`, if any.
fn installed_version(dir: &Path) -> Option<String> {
    let text =
        std::fs::read_to_string(dir.join("node_modules/graphile-worker/package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["version"].as_str().map(str::to_string)
}

impl Graphile {
    /// Installs the pinned graphile-worker into `target/bench-peer` unless
    /// it is there already. `Ok(Err(Missing))` when node or npm is absent.
    pub fn install() -> Result<std::result::Result<Graphile, Missing>> {
        let Some(node) = version_of("node") else {
            return Ok(Err(Missing("node is not on PATH".into())));
        };
        if version_of("npm").is_none() {
            return Ok(Err(Missing("npm is not on PATH".into())));
        }
        let version = pinned_version()?;
        let dir = crate::proc::target_dir().join("bench-peer");
        if installed_version(&dir).as_deref() != Some(version.as_str()) {
            std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
            for f in ["package.json", "package-lock.json"] {
                std::fs::copy(source_dir().join(f), dir.join(f))
                    .with_context(|| format!("copying bench/peer/{f}"))?;
            }
            eprintln!(
                "lull-bench: installing graphile-worker {version} into {} (npm ci) …",
                dir.display()
            );
            let out = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .context("running npm ci")?;
            if !out.status.success() {
                bail!(
                    "npm ci in {} failed ({}): {}",
                    dir.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            match installed_version(&dir) {
                Some(v) if v == version => {}
                other => bail!("npm ci installed graphile-worker {other:?}, not {version}"),
            }
        }
        Ok(Ok(Graphile { dir, version, node }))
    }

    /// One run on the database at `url`: enqueue `jobs` no-op jobs, then
    /// drain them with `concurrency` concurrent jobs; checked (every job
    /// succeeded exactly once) before it is returned.
    pub async fn run(
        &self,
        url: &str,
        jobs: usize,
        concurrency: usize,
        enqueue: Enqueue,
    ) -> Result<PeerRun> {
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(source_dir().join("graphile.mjs"))
            .args(["--url", url])
            .args(["--jobs", &jobs.to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--producers", &concurrency.to_string()])
            .env("LULL_PEER_DIR", &self.dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match enqueue {
            Enqueue::Batch => cmd.args(["--enqueue", "batch"]),
            Enqueue::Single { timed } => cmd
                .args(["--enqueue", "single"])
                .args(["--single-jobs", &timed.to_string()]),
        };
        let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output())
            .await
            .map_err(|_| anyhow!("graphile-worker run took over {RUN_TIMEOUT:?}"))?
            .context("running node bench/peer/graphile.mjs")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("graphile.mjs failed ({}): {}", out.status, stderr.trim());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().unwrap_or_default();
        let run: PeerRun = serde_json::from_str(line)
            .with_context(|| format!("graphile.mjs printed {stdout:?} (stderr: {stderr})"))?;
        run.check(jobs)?;
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(queued: usize, succeeded: usize, errors: usize, remaining: usize) -> PeerRun {
        PeerRun {
            version: "0.17.3".into(),
            jobs: 10,
            enqueued: 10,
            enqueue_seconds: 0.1,
            drain_seconds: 0.2,
            queued_before_drain: queued,
            succeeded,
            errors,
            remaining,
        }
    }

    #[test]
    fn a_run_passes_only_when_every_job_succeeded_once_and_is_gone() {
        assert!(run(10, 10, 0, 0).check(10).is_ok());
        assert!(run(9, 9, 0, 0).check(10).is_err(), "a job was not enqueued");
        assert!(run(10, 9, 0, 1).check(10).is_err(), "a job did not run");
        assert!(run(10, 10, 1, 0).check(10).is_err(), "an attempt failed");
        assert!(run(10, 10, 0, 1).check(10).is_err(), "a job is left");
    }

    #[test]
    fn the_pinned_version_is_an_exact_one() {
        let v = pinned_version().unwrap();
        assert!(
            v.split('.').count() == 3 && v.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "bench/peer/package.json must pin an exact version, not {v:?}"
        );
    }
}
