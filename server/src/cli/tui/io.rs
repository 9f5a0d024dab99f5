//! The TUI's I/O, apart from its state machine: [`Io::run`] makes the
//! client call an [`Effect`] asks for and turns the answer into the
//! [`Msg`] that reports it; [`live`] keeps the server's event stream open
//! (reconnecting) and forwards its messages. Both go through the typed
//! [`client::Client`].

use std::time::Duration;

use client::Client;
use tokio::sync::mpsc::UnboundedSender;
use wire::{ApiError, EventsQuery};

use super::state::audit::PAGE;
use super::state::{Effect, Msg, Outcome, Request, Snapshot};

/// How long to wait before reopening a broken stream.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// Runs effects against one server.
#[derive(Debug, Clone)]
pub struct Io {
    pub api: Client,
}

impl Io {
    /// Makes the call; its answer (or failure) as the message.
    pub async fn run(&self, effect: Effect) -> Msg {
        match effect {
            Effect::Refresh => Msg::Snapshot(self.snapshot().await.map(Box::new).map_err(text)),
            Effect::LoadEvents { before } => Msg::Events {
                before,
                result: self
                    .api
                    .events(&EventsQuery {
                        limit: Some(PAGE),
                        before,
                    })
                    .await
                    .map_err(text),
            },
            Effect::LoadRollouts => Msg::Rollouts(self.api.rolling_restarts().await.map_err(text)),
            Effect::LoadRollout(id) => {
                Msg::Rollout(self.api.rolling_restart(id).await.map_err(text))
            }
            Effect::Send { seq, request } => Msg::Done {
                seq,
                result: self.send(request).await.map_err(api_error),
            },
        }
    }

    /// The pause status, the workers, their health, the drain view and the
    /// queues, read at once.
    async fn snapshot(&self) -> client::Result<Snapshot> {
        let (pause, workers, health, drain, queues) = tokio::try_join!(
            self.api.pause_status(),
            self.api.list_workers(),
            self.api.fleet_health(),
            self.api.drain_view(),
            self.api.queues(),
        )?;
        Ok(Snapshot {
            pause,
            workers: workers.workers,
            health,
            drain,
            queues: queues.queues,
        })
    }

    async fn send(&self, request: Request) -> client::Result<Outcome> {
        Ok(match request {
            Request::Workers(r) => Outcome::Workers(self.api.worker_action(&r).await?),
            Request::Pause(r) => Outcome::Pause(self.api.change_pause(&r).await?),
            Request::StartRollout(r) => Outcome::Rollout(self.api.start_rolling_restart(&r).await?),
            Request::CancelRollout(id, r) => {
                Outcome::Rollout(self.api.cancel_rolling_restart(id, &r).await?)
            }
            Request::PauseQueue(name, r) => Outcome::Queue(self.api.pause_queue(&name, &r).await?),
            Request::ResumeQueue(name, r) => {
                Outcome::Queue(self.api.resume_queue(&name, &r).await?)
            }
        })
    }
}

/// A failed read, as the screen says it.
fn text(e: client::Error) -> String {
    match e {
        client::Error::Api(ApiError::Unreachable { message }) => {
            format!("server unreachable ({message})")
        }
        e => e.to_string(),
    }
}

/// A failed change, kept typed: the state machine acts on its variant
/// (the safety rule's phrase). A 2xx it cannot read still did the change.
fn api_error(e: client::Error) -> ApiError {
    match e {
        client::Error::Api(e) => e,
        other => ApiError::Other {
            status: 200,
            code: "unreadable_answer".into(),
            message: other.to_string(),
            field: None,
        },
    }
}

/// Keeps the live stream open until `tx` is closed: `StreamUp` when it
/// opens, every message, `StreamDown` when it breaks (then, after a
/// pause, it opens it again; the state machine polls meanwhile).
pub async fn live(api: Client, tx: UnboundedSender<Msg>) {
    while !tx.is_closed() {
        let why = match api.pause_stream().await {
            Ok(mut stream) => {
                let _ = tx.send(Msg::StreamUp);
                loop {
                    match stream.next().await {
                        Some(Ok(m)) => {
                            if tx.send(Msg::Stream(m)).is_err() {
                                return;
                            }
                        }
                        // A message this version cannot read: skip it.
                        Some(Err(client::Error::Decode { .. })) => {}
                        Some(Err(e)) => break text(e),
                        None => break "the server closed the stream".to_string(),
                    }
                }
            }
            Err(e) => text(e),
        };
        if tx.send(Msg::StreamDown(why)).is_err() {
            return;
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}
