//! The built-in handlers: `execute_script` (the seed's script execution)
//! and `sleep` (a checkpointing job for tests and demos).

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, ReadBuf};

use crate::handler::{Checkpoint, Handler, JobContext, JobError};

/// Kept of each of stdout and stderr, so a result stays well under the
/// server's 256 KiB bound.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
const DEFAULT_SCRIPT_TIMEOUT_MS: u64 = 60_000;

/// `{"script": "...", "timeoutMs": N}`: runs `sh -c script` and returns
/// `{exitCode, stdout, stderr}`. A non-zero exit or a timeout fails the job
/// (retryable: the enqueuer bounds retries with `maxAttempts`); on timeout,
/// and when the job is abandoned, the script's whole process group is killed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecuteScript;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScriptPayload {
    script: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// Kills the script's process group when dropped: a shell's children
/// (`sleep 100 &`, pipelines) would otherwise outlive it and keep its output
/// pipes open.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (already gone) is the normal case after a clean exit.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[async_trait]
impl Handler for ExecuteScript {
    async fn run(&self, _ctx: JobContext, payload: Value) -> Result<Value, JobError> {
        let p: ScriptPayload = serde_json::from_value(payload)
            .map_err(|e| JobError::fatal(format!("execute_script payload: {e}")))?;
        let timeout = Duration::from_millis(p.timeout_ms.unwrap_or(DEFAULT_SCRIPT_TIMEOUT_MS));
        run_script(&p.script, timeout).await
    }
}

/// Runs `sh -c script` in its own process group with a deadline.
pub async fn run_script(script: &str, timeout: Duration) -> Result<Value, JobError> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| JobError::retryable(format!("cannot start sh: {e}")))?;
    let mut group = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let stdout = tokio::spawn(read_capped(child.stdout.take()));
    let stderr = tokio::spawn(read_capped(child.stderr.take()));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            Some(status.map_err(|e| JobError::retryable(format!("waiting for sh: {e}")))?)
        }
        Err(_) => None,
    };
    // Also on a clean exit: background children must not linger.
    group.kill();
    let _ = child.wait().await;
    let stdout = stdout.await.unwrap_or_default();
    let stderr = stderr.await.unwrap_or_default();
    match status {
        None => Err(JobError::retryable(format!(
            "script timed out after {} ms and was killed",
            timeout.as_millis()
        ))
        .with_details(
            json!({"exitCode": null, "timedOut": true, "stdout": stdout, "stderr": stderr}),
        )),
        Some(status) => {
            // No code means a signal ended it.
            let code = status.code();
            let out = json!({"exitCode": code, "stdout": stdout, "stderr": stderr});
            if status.success() {
                Ok(out)
            } else {
                let tail: String = stderr
                    .chars()
                    .rev()
                    .take(500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let how = code.map_or_else(
                    || "was killed by a signal".to_string(),
                    |c| format!("exited with code {c}"),
                );
                Err(JobError::retryable(format!("script {how}: {}", tail.trim())).with_details(out))
            }
        }
    }
}

/// Reads a pipe to its end, keeping the first [`OUTPUT_LIMIT`] bytes.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut truncated = false;
    loop {
        // `poll_read` by hand: tokio's `io-util` feature is not enabled in
        // this workspace, and enabling it would rebuild tokio for everyone.
        let read = std::future::poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut buf);
            std::pin::Pin::new(&mut pipe)
                .poll_read(cx, &mut rb)
                .map_ok(|()| rb.filled().len())
        })
        .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    let mut s = String::from_utf8_lossy(&kept).into_owned();
    if truncated {
        s.push_str("\n[output truncated]");
    }
    s
}

/// `{"ms": N, "checkpointEveryMs": M}`: sleeps N ms in total, calling
/// [`JobContext::checkpoint`] every M ms (time held at a checkpoint does not
/// count). Returns `{sleptMs, checkpoints}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SleepPayload {
    ms: u64,
    #[serde(default)]
    checkpoint_every_ms: Option<u64>,
}

#[async_trait]
impl Handler for Sleep {
    async fn run(&self, ctx: JobContext, payload: Value) -> Result<Value, JobError> {
        let p: SleepPayload = serde_json::from_value(payload)
            .map_err(|e| JobError::fatal(format!("sleep payload: {e}")))?;
        let step = match p.checkpoint_every_ms {
            Some(0) => {
                return Err(JobError::fatal(
                    "sleep payload: checkpointEveryMs must be > 0",
                ))
            }
            Some(m) => m,
            None => p.ms.max(1),
        };
        let mut slept = 0;
        let mut checkpoints = 0u64;
        while slept < p.ms {
            let chunk = step.min(p.ms - slept);
            tokio::time::sleep(Duration::from_millis(chunk)).await;
            slept += chunk;
            if p.checkpoint_every_ms.is_some() && slept < p.ms {
                if ctx.checkpoint().await == Checkpoint::Stop {
                    return Err(JobError::retryable("stopped at a checkpoint"));
                }
                checkpoints += 1;
            }
        }
        Ok(json!({"sleptMs": slept, "checkpoints": checkpoints}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn script(payload: Value) -> Result<Value, JobError> {
        ExecuteScript
            .run(JobContext::detached("execute_script"), payload)
            .await
    }

    #[tokio::test]
    async fn a_script_reports_exit_code_and_output() {
        let out = script(json!({"script": "echo hi; echo oops >&2"}))
            .await
            .unwrap();
        assert_eq!(
            out,
            json!({"exitCode": 0, "stdout": "hi\n", "stderr": "oops\n"})
        );
    }

    #[tokio::test]
    async fn a_non_zero_exit_fails_with_the_output_attached() {
        let err = script(json!({"script": "echo bad >&2; exit 3"}))
            .await
            .unwrap_err();
        assert!(
            err.message.contains("exited with code 3"),
            "{}",
            err.message
        );
        assert!(err.message.contains("bad"));
        assert_eq!(err.details.unwrap()["exitCode"], 3);
    }

    #[tokio::test]
    async fn a_timed_out_script_is_killed_with_its_children() {
        let started = Instant::now();
        // The background sleep holds stdout open: only a group kill ends it.
        let err = script(json!({"script": "sleep 30 & sleep 30", "timeoutMs": 300}))
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(err.message.contains("timed out"), "{}", err.message);
        assert_eq!(err.details.unwrap()["timedOut"], true);
    }

    #[tokio::test]
    async fn a_bad_payload_is_not_retryable() {
        let err = script(json!({"cmd": "ls"})).await.unwrap_err();
        assert!(!err.retryable);
    }

    #[tokio::test]
    async fn output_is_capped() {
        let out = script(json!({"script": "head -c 200000 /dev/zero | tr '\\0' a"}))
            .await
            .unwrap();
        let s = out["stdout"].as_str().unwrap();
        assert!(s.len() < OUTPUT_LIMIT + 100 && s.ends_with("[output truncated]"));
    }

    #[tokio::test]
    async fn sleep_checkpoints_every_step() {
        let out = Sleep
            .run(
                JobContext::detached("sleep"),
                json!({"ms": 50, "checkpointEveryMs": 10}),
            )
            .await
            .unwrap();
        assert_eq!(out, json!({"sleptMs": 50, "checkpoints": 4}));
    }
}
