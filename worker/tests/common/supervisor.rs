//! A tiny process supervisor, as systemd's `Restart=always` or a shell loop
//! would be in production: it keeps one `lull-worker` per id running and
//! starts it again, with the same `--worker-id`, whenever it exits — which
//! is what brings a worker back after a rolling restart drained it.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::WorkerProc;

/// How often the supervisor looks for exited workers (systemd's default
/// `RestartSec` is 100 ms).
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// One supervised worker id and every process started for it.
struct Slot {
    id: String,
    /// The current process last.
    runs: Vec<WorkerProc>,
    /// Exit statuses of the finished runs, in order.
    exits: Vec<ExitStatus>,
}

struct Shared {
    server: String,
    dir: PathBuf,
    extra: Vec<String>,
    slots: Mutex<Vec<Slot>>,
    /// Set by [`Supervisor::stop`]: restart nothing more.
    stopping: AtomicBool,
}

impl Shared {
    fn spawn(&self, id: &str) -> WorkerProc {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        WorkerProc::start(&self.server, id, &self.dir, &extra)
    }

    /// Records each exit and starts the worker again (unless stopping).
    fn check(&self) {
        let mut slots = self.slots.lock().unwrap();
        for slot in slots.iter_mut() {
            if slot.exits.len() == slot.runs.len() {
                continue; // stopped for good
            }
            let Some(status) = slot.runs.last_mut().unwrap().try_exit() else {
                continue;
            };
            eprintln!(
                "[supervisor] {} exited ({status}); {}",
                slot.id,
                if self.stopping.load(Ordering::SeqCst) {
                    "stopping"
                } else {
                    "restarting"
                }
            );
            slot.exits.push(status);
            if !self.stopping.load(Ordering::SeqCst) {
                let next = self.spawn(&slot.id);
                slot.runs.push(next);
            }
        }
    }
}

/// Supervised `lull-worker`s; all are killed on drop.
pub struct Supervisor {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervisor {
    /// Starts one worker per id (flags as [`WorkerProc::start`]) and keeps
    /// them running.
    pub fn start(server: &str, ids: &[&str], dir: &Path, extra: &[&str]) -> Supervisor {
        let shared = Arc::new(Shared {
            server: server.to_string(),
            dir: dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            slots: Mutex::default(),
            stopping: AtomicBool::new(false),
        });
        let slots = ids
            .iter()
            .map(|id| Slot {
                id: id.to_string(),
                runs: vec![shared.spawn(id)],
                exits: Vec::new(),
            })
            .collect();
        *shared.slots.lock().unwrap() = slots;
        let watcher = shared.clone();
        let task = tokio::spawn(async move {
            while !watcher.stopping.load(Ordering::SeqCst) {
                watcher.check();
                tokio::time::sleep(CHECK_EVERY).await;
            }
        });
        Supervisor { shared, task }
    }

    fn with_slot<T>(&self, id: &str, f: impl FnOnce(&Slot) -> T) -> T {
        let slots = self.shared.slots.lock().unwrap();
        f(slots
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id} is not supervised")))
    }

    /// How many processes were started for `id`.
    pub fn starts(&self, id: &str) -> usize {
        self.with_slot(id, |s| s.runs.len())
    }

    /// The exit statuses of `id`'s finished processes, in order.
    pub fn exits(&self, id: &str) -> Vec<ExitStatus> {
        self.with_slot(id, |s| s.exits.clone())
    }

    /// Log lines of every process `id` ran as, whose message starts with
    /// `message`.
    pub fn logs(&self, id: &str, message: &str) -> Vec<Value> {
        self.with_slot(id, |s| {
            s.runs.iter().flat_map(|r| r.logs(message)).collect()
        })
    }

    /// Restarts nothing more and drains every running worker (SIGTERM, as
    /// `systemctl stop` does), waiting for each to exit.
    pub async fn stop(&mut self, timeout: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // After this, nothing restarts a worker behind our back.
        let _ = (&mut self.task).await;
        let mut slots = std::mem::take(&mut *self.shared.slots.lock().unwrap());
        for slot in &mut slots {
            if slot.exits.len() < slot.runs.len() {
                slot.runs
                    .last()
                    .unwrap()
                    .signal(nix::sys::signal::Signal::SIGTERM);
            }
        }
        for slot in &mut slots {
            if slot.exits.len() < slot.runs.len() {
                let status = slot.runs.last_mut().unwrap().wait_exit(timeout).await;
                slot.exits.push(status);
            }
        }
        *self.shared.slots.lock().unwrap() = slots;
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.task.abort();
        // Dropping a WorkerProc kills its process.
        let slots = std::mem::take(
            &mut *self
                .shared
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        drop(slots);
    }
}
