//! Getting results to the server exactly once: submit with an idempotency
//! key; if the server cannot take it now, spool it; replay the spool
//! newest-first until each file is acknowledged (then delete it) or finally
//! refused (then move it to `rejected/`, with a warning). Which failures
//! are final is [`client::Error::is_final`]'s call: a proxy's error page or
//! a refused credential (401/403) is not — the result stays spooled until
//! the proxy recovers or an operator fixes the token. Nothing is dropped
//! silently.

use std::path::Path;

use client::{Client, ErrorKind};
use wire::{ResultAck, ResultEnvelope};

use crate::spool::Spool;

/// Delivers results for one worker.
#[derive(Debug, Clone)]
pub(crate) struct Results {
    pub(crate) api: Client,
    pub(crate) spool: Spool,
}

/// What one pass over the spool did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplayPass {
    pub(crate) acknowledged: usize,
    pub(crate) rejected: usize,
    /// Why the pass stopped early, the rest waiting for the next one: the
    /// server could not take results now ([`ErrorKind::Transient`]), or it
    /// refuses this worker's credential ([`ErrorKind::Credential`]).
    pub(crate) interrupted: Option<ErrorKind>,
}

impl Results {
    /// Submits one envelope now; spools it when the failure is transient.
    pub(crate) async fn deliver(&self, env: ResultEnvelope) {
        let key = env.idempotency_key.clone().unwrap_or_default();
        match self.submit(&env).await {
            Ok(ack) => tracing::info!(
                idempotency_key = %key,
                applied_now = ack.map(|a| a.applied_now),
                "result acknowledged"
            ),
            Err(e) if !e.is_final() => match self.spool.write(&env, chrono::Utc::now()).await {
                Ok(path) if e.kind() == ErrorKind::Credential => tracing::error!(
                    idempotency_key = %key,
                    file = %path.display(),
                    error = %e,
                    "result not delivered: the server refuses this worker's credential (fix LULL_TOKEN); spooled for replay"
                ),
                Ok(path) => tracing::warn!(
                    idempotency_key = %key,
                    file = %path.display(),
                    error = %e,
                    "result not delivered: spooled for replay"
                ),
                Err(io) => tracing::error!(
                    idempotency_key = %key,
                    error = %e,
                    spool_error = %io,
                    "result not delivered and cannot be spooled: it is lost"
                ),
            },
            Err(e) => {
                let kept = self.spool.write_rejected(&env, chrono::Utc::now()).await;
                tracing::warn!(
                    idempotency_key = %key,
                    status = e.status(),
                    error = %e,
                    kept = %kept.as_ref().map_or_else(|io| format!("not kept: {io}"), |p| p.display().to_string()),
                    "result refused by the server"
                );
            }
        }
    }

    /// Submits once. Any 2xx is an acknowledgement, so a 2xx whose body
    /// cannot be read still counts (`Ok(None)`): re-sending would only be a
    /// repeat.
    async fn submit(&self, env: &ResultEnvelope) -> Result<Option<ResultAck>, client::Error> {
        match self.api.submit_result(env).await {
            Ok(ack) => Ok(Some(ack)),
            Err(client::Error::Decode { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One pass over the spool, newest first.
    pub(crate) async fn replay_once(&self) -> ReplayPass {
        let mut pass = ReplayPass::default();
        let files = match self.spool.list_newest_first() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(dir = %self.spool.dir().display(), error = %e, "cannot read the spool");
                pass.interrupted = Some(ErrorKind::Transient);
                return pass;
            }
        };
        for path in files {
            match self.replay_file(&path).await {
                Replayed::Acknowledged => pass.acknowledged += 1,
                Replayed::Rejected => pass.rejected += 1,
                Replayed::Later(why) => {
                    pass.interrupted = Some(why);
                    break;
                }
            }
        }
        pass
    }

    async fn replay_file(&self, path: &Path) -> Replayed {
        let env = match Spool::read(path).await {
            Ok(env) => env,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Replayed::Acknowledged,
            Err(e) => {
                // Unreadable: it can never be sent; keep it for a human.
                self.reject(path, &format!("unreadable spool file: {e}"))
                    .await;
                return Replayed::Rejected;
            }
        };
        let key = env.idempotency_key.clone().unwrap_or_default();
        match self.submit(&env).await {
            Ok(ack) => {
                if let Err(e) = Spool::remove(path).await {
                    tracing::error!(file = %path.display(), error = %e, "acknowledged but cannot delete the spool file");
                    return Replayed::Later(ErrorKind::Transient);
                }
                tracing::info!(
                    idempotency_key = %key,
                    file = %path.display(),
                    applied_now = ack.map(|a| a.applied_now),
                    "spooled result replayed and acknowledged"
                );
                Replayed::Acknowledged
            }
            Err(e) if !e.is_final() => {
                tracing::debug!(file = %path.display(), error = %e, "spool replay deferred");
                Replayed::Later(e.kind())
            }
            Err(e) => {
                self.reject(path, &e.to_string()).await;
                Replayed::Rejected
            }
        }
    }

    async fn reject(&self, path: &Path, why: &str) {
        match self.spool.reject(path).await {
            Ok(to) => {
                tracing::warn!(file = %to.display(), reason = why, "spooled result refused: moved to rejected/")
            }
            Err(e) => {
                tracing::error!(file = %path.display(), reason = why, error = %e, "spooled result refused and cannot be moved")
            }
        }
    }
}

enum Replayed {
    Acknowledged,
    Rejected,
    /// Not now, and why (transient, or a refused credential).
    Later(ErrorKind),
}

/// Logs a replay outage once, not every second (and again when its cause
/// changes: a refused credential needs an operator, an outage does not).
#[derive(Debug, Default)]
pub(crate) struct OutageLog {
    down: Option<ErrorKind>,
}

impl OutageLog {
    pub(crate) fn pass(&mut self, pass: &ReplayPass, backlog: u32) {
        match pass.interrupted {
            Some(why) if self.down != Some(why) => {
                self.down = Some(why);
                if why == ErrorKind::Credential {
                    tracing::error!(
                        backlog,
                        "spool replay paused: the server refuses this worker's credential (fix LULL_TOKEN); the results stay spooled and are retried"
                    );
                } else {
                    tracing::warn!(
                        backlog,
                        "spool replay paused: the server is not taking results; retrying"
                    );
                }
            }
            None if self.down.take().is_some() => {
                tracing::info!(backlog, "spool replay going again");
            }
            _ => {}
        }
    }
}
