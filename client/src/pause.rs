//! The global pause (`/api/system/worker-pause`): its status, changing it,
//! the audit log, the drain view, and the live stream of changes.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use reqwest::Method;
use wire::{
    DrainView, EventsPage, EventsQuery, EventsSearch, PauseRequest, StatusQuery, StreamMessage,
    WorkerPauseStatus,
};

use crate::{error, ApiError, Client, Endpoint, Error, Result};

const PAUSE: &[&str] = &["api", "system", "worker-pause"];

impl Client {
    /// `GET /api/system/worker-pause`: the pause state, the drain metrics
    /// and the latest audit events. Read-only.
    pub async fn pause_status(&self) -> Result<WorkerPauseStatus> {
        self.get(Endpoint::get(PAUSE)).await
    }

    /// `POST /api/system/worker-pause`: pause (`mode` and `reason`
    /// required) or resume (`reason` required); build the request with
    /// [`PauseRequest::pause`] / [`PauseRequest::resume`]. A request that
    /// changes nothing answers the same status without a new version, so a
    /// retry is harmless; with `requestId` a repeat is applied once.
    ///
    /// Errors: `Invalid { field }` (422: `action`, `mode`, `reason`,
    /// `until`), `VersionConflict { current }` (409: `expectedVersion` is
    /// stale; `current` is the state now), `Unauthorized`/`Forbidden`.
    /// A resume before the fleet has drained succeeds with `warning` set.
    pub async fn change_pause(&self, req: &PauseRequest) -> Result<WorkerPauseStatus> {
        self.post(Endpoint::post(PAUSE), Some(req)).await
    }

    /// `POST /api/system/worker-pause` with `dryRun`: what `req` would do
    /// (`impact` on the answer; the rest is the state as it is), validated
    /// and refused exactly as [`Client::change_pause`] would be. Changes
    /// nothing.
    pub async fn pause_dry_run(&self, req: &PauseRequest) -> Result<WorkerPauseStatus> {
        let req = PauseRequest {
            dry_run: Some(true),
            ..req.clone()
        };
        self.post(Endpoint::post(PAUSE), Some(&req)).await
    }

    /// `GET /api/system/worker-pause?waitApplied=`: the status once every
    /// online worker has applied the current version, or after `wait`
    /// (at most 60 s) — `acknowledgement.complete` says which. The call's
    /// timeout is `wait` plus the client's own.
    /// Errors: `Invalid { field: waitApplied }` for a wait out of range.
    pub async fn pause_status_applied(&self, wait: Duration) -> Result<WorkerPauseStatus> {
        let query = StatusQuery {
            wait_applied: Some(format!("{}ms", wait.as_millis())),
        };
        self.get_query_within(Endpoint::get(PAUSE), &query, self.timeout + wait)
            .await
    }

    /// `GET /api/system/worker-pause/events`: the audit log, newest first,
    /// a page of at most `limit` (default 50) events older than the event
    /// id `before`; pass the page's `next_before` for the next one.
    /// Errors: `Invalid { field: limit }` for a limit out of range.
    pub async fn events(&self, query: &EventsQuery) -> Result<EventsPage> {
        self.get_query(
            Endpoint::get(&["api", "system", "worker-pause", "events"]),
            query,
        )
        .await
    }

    /// [`Client::events`] filtered on the server: an exact `action` and an
    /// `actor` containing the given text (any ASCII case); a page holds up
    /// to `limit` matching events and `next_before` continues among them.
    /// Errors: `Invalid { field }` (`limit`, `action`, `actor`).
    pub async fn search_events(&self, query: &EventsSearch) -> Result<EventsPage> {
        self.get_query(
            Endpoint::get(&["api", "system", "worker-pause", "events"]),
            query,
        )
        .await
    }

    /// `GET /api/system/worker-pause/drain`: what still blocks the drain
    /// (running and stale jobs), the running-jobs history and the ETA.
    /// Read-only.
    pub async fn drain_view(&self) -> Result<DrainView> {
        self.get(Endpoint::get(&["api", "system", "worker-pause", "drain"]))
            .await
    }

    /// `GET /api/system/worker-pause/stream`: the live stream — a `State`
    /// message with the full status at once and on every version change,
    /// and `Metrics` ticks. The connection stays open (no call timeout);
    /// drop the stream to close it.
    pub async fn pause_stream(&self) -> Result<PauseStream> {
        let endpoint = Endpoint::get(&["api", "system", "worker-pause", "stream"]);
        let mut req = self
            .http
            .request(Method::GET, self.url(endpoint.segments))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(auth) = &self.auth {
            req = req.header(reqwest::header::AUTHORIZATION, auth.clone());
        }
        let resp = self.send(&endpoint, req).await?;
        let name = endpoint.name();
        // `chunk()` rather than reqwest's `stream` feature: the body as a
        // stream of byte chunks, for the SSE parser.
        let chunks = futures::stream::unfold(resp, |mut resp| async move {
            resp.chunk().await.transpose().map(|chunk| (chunk, resp))
        });
        Ok(PauseStream {
            endpoint: name,
            events: Box::pin(chunks.eventsource()),
        })
    }
}

type Events = dyn Stream<
        Item = std::result::Result<
            eventsource_stream::Event,
            eventsource_stream::EventStreamError<reqwest::Error>,
        >,
    > + Send;

/// The live pause stream of [`Client::pause_stream`].
pub struct PauseStream {
    endpoint: String,
    events: Pin<Box<Events>>,
}

impl std::fmt::Debug for PauseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PauseStream")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl PauseStream {
    /// The next message; `None` when the server closed the stream. A
    /// broken connection is [`ApiError::Unreachable`]; a message this
    /// client cannot read is [`Error::Decode`] (the stream goes on).
    pub async fn next(&mut self) -> Option<Result<StreamMessage>> {
        let event = match self.events.next().await? {
            Ok(event) => event,
            Err(eventsource_stream::EventStreamError::Transport(e)) => {
                return Some(Err(error::unreachable(&self.endpoint, &e)))
            }
            Err(e) => {
                return Some(Err(Error::Api(ApiError::Unreachable {
                    message: format!("{}: {e}", self.endpoint),
                })))
            }
        };
        // The message carries its kind; the event name repeats it.
        Some(
            serde_json::from_str(&event.data).map_err(|e| Error::Decode {
                endpoint: format!("{} ({} event)", self.endpoint, event.event),
                message: e.to_string(),
            }),
        )
    }
}
