//! The operator CLI: `lull status`, `pause`, `resume`, `wait`, `workers`,
//! `rolling-restart`, `events` — the runbook's steps as commands, over the
//! REST API of a running server (`--server` / `LULL_SERVER`, token from
//! `LULL_TOKEN`).
//!
//! Exit codes: 0 done, 1 failed (network, server error), 2 bad usage,
//! 3 refused (a conflict: not drained, version moved, safety rule),
//! 4 timed out.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

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

/// What `wait` does when the deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnTimeout {
    /// Exit 4, leaving everything as it is.
    Fail,
    /// Cancel the jobs that still block the drain, then exit 0.
    Cancel,
    /// Resume the fleet (force), then exit 4.
    Resume,
}

pub struct Client {
    http: reqwest::Client,
    remote: Remote,
}

/// A failed command, with its exit code.
pub struct Failure(pub u8, pub String);

type CliResult<T> = Result<T, Failure>;

impl Client {
    pub fn new(remote: Remote) -> CliResult<Client> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Failure(1, e.to_string()))?;
        Ok(Client { http, remote })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> CliResult<Value> {
        let url = format!("{}{path}", self.remote.server.trim_end_matches('/'));
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.remote.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure(1, format!("cannot reach {}: {e}", self.remote.server)))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or("request failed")
            .to_string();
        let code = match status.as_u16() {
            409 => 3,
            400 | 404 | 422 => 2,
            _ => 1,
        };
        let mut text = format!(
            "{} {}: {msg}",
            status.as_u16(),
            v["error"]["code"].as_str().unwrap_or("")
        );
        if let Some(p) = v["confirmPhrase"].as_str() {
            text.push_str(&format!("\nto override, repeat with --confirm {p:?}"));
        }
        Err(Failure(code, text))
    }

    pub async fn get(&self, path: &str) -> CliResult<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> CliResult<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    fn print(&self, v: &Value, summary: String) {
        if self.remote.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            println!("{summary}");
        }
    }
}

fn status_line(s: &Value) -> String {
    let m = &s["metrics"];
    let state = if s["workersPaused"] == true {
        format!("Workers: Paused ({})", s["mode"].as_str().unwrap_or("?"))
    } else {
        "Workers: Running".to_string()
    };
    let state = match s["until"].as_str() {
        Some(until) => format!("{state} · resumes by itself at {until}"),
        None => state,
    };
    format!(
        "{state} · version {} · reason: {} · by {}\nqueued {} · running {} · stale {} · {}",
        s["version"],
        s["reason"].as_str().unwrap_or("-"),
        s["requestedBy"].as_str().unwrap_or("-"),
        m["queued"],
        m["running"],
        m["staleRunning"],
        if m["isDrained"] == true {
            "drained"
        } else {
            "not drained"
        }
    )
}

/// `--for 30m`: the RFC 3339 time that long from now.
pub fn time_after(d: Duration) -> CliResult<String> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_add_signed(d))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .ok_or_else(|| Failure(2, format!("--for {d:?} is too long")))
}

pub async fn status(c: &Client) -> CliResult<()> {
    let s = c.get("/api/system/worker-pause").await?;
    c.print(&s, status_line(&s));
    Ok(())
}

pub async fn pause(
    c: &Client,
    mode: &str,
    reason: &str,
    expected_version: Option<i64>,
    request_id: Option<String>,
    until: Option<String>,
) -> CliResult<()> {
    let s = c
        .post(
            "/api/system/worker-pause",
            json!({"action": "pause", "mode": mode, "reason": reason, "expectedVersion": expected_version, "requestId": request_id, "until": until}),
        )
        .await?;
    c.print(&s, status_line(&s));
    Ok(())
}

/// Resumes; without `force` it refuses (exit 3) while jobs still run.
pub async fn resume(c: &Client, reason: &str, force: bool) -> CliResult<()> {
    if !force {
        let s = c.get("/api/system/worker-pause").await?;
        if s["metrics"]["isDrained"] != true {
            return Err(Failure(
                3,
                format!(
                    "not drained: {} running, {} stale; wait (`lull wait`) or resume anyway with --force",
                    s["metrics"]["running"], s["metrics"]["staleRunning"]
                ),
            ));
        }
    }
    let s = c
        .post(
            "/api/system/worker-pause",
            json!({"action": "resume", "reason": reason, "forceResume": force}),
        )
        .await?;
    let mut line = status_line(&s);
    if let Some(w) = s["warning"].as_str() {
        line.push_str(&format!("\nwarning: {w}"));
    }
    c.print(&s, line);
    Ok(())
}

/// Waits until drained, printing progress; on timeout does `on_timeout`.
pub async fn wait(
    c: &Client,
    timeout: Duration,
    interval: Duration,
    on_timeout: OnTimeout,
) -> CliResult<()> {
    let started = Instant::now();
    loop {
        let d = c.get("/api/system/worker-pause/drain").await?;
        let m = &d["metrics"];
        if m["isDrained"] == true {
            println!("drained after {:.0?}", started.elapsed());
            return Ok(());
        }
        let eta = d["etaSeconds"]
            .as_f64()
            .map(|e| format!("~{e:.0} s"))
            .unwrap_or_else(|| "unknown".into());
        println!(
            "waiting: {} running, {} stale, ETA {eta} ({:.0?} elapsed)",
            m["running"],
            m["staleRunning"],
            started.elapsed()
        );
        if started.elapsed() >= timeout {
            let blocking: Vec<String> = d["blocking"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|j| j["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            return match on_timeout {
                OnTimeout::Fail => Err(Failure(
                    4,
                    format!(
                        "not drained after {timeout:?}: {} job(s) still block it",
                        blocking.len()
                    ),
                )),
                OnTimeout::Cancel => {
                    for id in &blocking {
                        c.post(&format!("/api/queue/jobs/{id}/cancel"), json!(null))
                            .await?;
                        println!("cancelled job {id}");
                    }
                    println!("drained by cancelling {} job(s)", blocking.len());
                    Ok(())
                }
                OnTimeout::Resume => {
                    c.post(
                        "/api/system/worker-pause",
                        json!({"action": "resume", "reason": format!("drain deadline of {timeout:?} passed"), "forceResume": true}),
                    )
                    .await?;
                    Err(Failure(
                        4,
                        format!("not drained after {timeout:?}; the fleet was resumed"),
                    ))
                }
            };
        }
        tokio::time::sleep(
            interval
                .min(timeout.saturating_sub(started.elapsed()))
                .max(Duration::from_millis(50)),
        )
        .await;
    }
}

pub async fn workers(c: &Client, cmd: WorkersCommand) -> CliResult<()> {
    let (action, t) = match cmd {
        WorkersCommand::List => {
            let v = c.get("/api/workers").await?;
            let mut out = format!(
                "{:<20} {:<10} {:<10} {:<25} JOBS",
                "ID", "DESIRED", "OBSERVED", "LAST HEARTBEAT"
            );
            for w in v["workers"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "\n{:<20} {:<10} {:<10} {:<25} {}",
                    w["id"].as_str().unwrap_or(""),
                    w["desiredState"].as_str().unwrap_or(""),
                    w["observedState"].as_str().unwrap_or(""),
                    w["lastHeartbeatAt"].as_str().unwrap_or(""),
                    w["activeJobs"].as_array().map(|a| a.len()).unwrap_or(0)
                ));
            }
            c.print(&v, out);
            return Ok(());
        }
        WorkersCommand::Pause(t) => ("pause", t),
        WorkersCommand::Resume(t) => ("resume", t),
        WorkersCommand::Drain(t) => ("drain", t),
    };
    let v = c
        .post(
            "/api/workers/actions",
            json!({"action": action, "workerIds": t.ids, "reason": t.reason, "confirm": t.confirm}),
        )
        .await?;
    let mut out = String::new();
    for r in v["results"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{}: {} → {} ({} running job(s))\n",
            r["workerId"].as_str().unwrap_or(""),
            r["previousDesiredState"].as_str().unwrap_or(""),
            r["desiredState"].as_str().unwrap_or(""),
            r["runningJobs"]
        ));
    }
    if let Some(eta) = v["etaSeconds"].as_f64() {
        out.push_str(&format!("idle in about {eta:.0} s\n"));
    }
    c.print(&v, out.trim_end().to_string());
    Ok(())
}

/// What `lull rolling-restart` asks for.
pub struct RolloutArgs {
    pub ids: Vec<String>,
    pub all: bool,
    pub max_unavailable: u32,
    pub reason: String,
    pub confirm: Option<String>,
    pub deadline_seconds: Option<u32>,
}

pub async fn rolling_restart(c: &Client, a: RolloutArgs, follow: bool) -> CliResult<()> {
    let mut body = json!({"maxUnavailable": a.max_unavailable, "reason": a.reason,
                          "confirm": a.confirm, "deadlineSeconds": a.deadline_seconds});
    if a.all {
        body["all"] = json!(true);
    } else {
        body["workerIds"] = json!(a.ids);
    }
    let mut r = c.post("/api/workers/rolling-restarts", body).await?;
    let id = r["id"].as_str().unwrap_or("").to_string();
    println!("rolling restart {id} started");
    while follow && r["status"] == "running" {
        tokio::time::sleep(Duration::from_secs(1)).await;
        r = c
            .get(&format!("/api/workers/rolling-restarts/{id}"))
            .await?;
        let states: Vec<String> = r["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| {
                format!(
                    "{}={}",
                    w["workerId"].as_str().unwrap_or(""),
                    w["state"].as_str().unwrap_or("")
                )
            })
            .collect();
        println!(
            "{}: {}",
            r["status"].as_str().unwrap_or(""),
            states.join(" ")
        );
    }
    match r["status"].as_str() {
        Some("failed") => Err(Failure(
            1,
            r["message"].as_str().unwrap_or("failed").to_string(),
        )),
        _ => Ok(()),
    }
}

pub async fn cancel_rolling_restart(c: &Client, id: &str, reason: Option<String>) -> CliResult<()> {
    let r = c
        .post(
            &format!("/api/workers/rolling-restarts/{id}/cancel"),
            json!({"reason": reason}),
        )
        .await?;
    c.print(
        &r,
        format!(
            "rolling restart {id}: {}",
            r["status"].as_str().unwrap_or("")
        ),
    );
    Ok(())
}

pub async fn events(c: &Client, limit: u32) -> CliResult<()> {
    let v = c
        .get(&format!("/api/system/worker-pause/events?limit={limit}"))
        .await?;
    let mut out = String::new();
    for e in v["events"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{} v{:<4} {:<24} {:<8} by {:<16} {}{}{}\n",
            e["createdAt"].as_str().unwrap_or(""),
            e["version"],
            e["action"].as_str().unwrap_or(""),
            e["mode"].as_str().unwrap_or("-"),
            e["actor"].as_str().unwrap_or(""),
            e["reason"].as_str().unwrap_or(""),
            if e["forceResume"] == true {
                " [force resume]"
            } else {
                ""
            },
            if e["success"] == false {
                " [refused]"
            } else {
                ""
            }
        ));
    }
    c.print(&v, out.trim_end().to_string());
    Ok(())
}

/// `10m`, `30s`, `500ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 90s, 10m, 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("bad duration unit in {s:?}: use ms, s, m or h")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn status_line_reads_like_the_banner() {
        let s = json!({"workersPaused": true, "mode": "drain", "version": 3, "reason": "deploy", "requestedBy": "alice",
                       "metrics": {"queued": 1, "running": 2, "staleRunning": 0, "isDrained": false}});
        let line = status_line(&s);
        assert!(line.starts_with("Workers: Paused (drain) · version 3"));
        assert!(line.contains("running 2") && line.contains("not drained"));
    }
}
