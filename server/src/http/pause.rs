//! `/api/system/worker-pause`: the global pause and its audit log.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;
use wire::{EventsPage, EventsSearch, PauseRequest, StatusQuery, WorkerPauseStatus};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery};
use super::AppState;
use crate::domain::{parse_wait_applied, EventFilter, PageLimit, PauseCommand};
use crate::fanout::{StateFrame, KEEP_ALIVE};
use crate::live::SharedTick;
use crate::service::ServiceError;
use crate::streams::StreamPermit;

/// `GET /api/system/worker-pause[?waitApplied=10s]`.
#[utoipa::path(get, path = "/api/system/worker-pause", tag = "pause", params(StatusQuery),
    responses((status = 200, description = "The global pause and its acknowledgement", body = WorkerPauseStatus)))]
pub async fn get_status(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> ApiResult<Json<WorkerPauseStatus>> {
    let wait = parse_wait_applied(q.wait_applied.as_deref())?;
    Ok(Json(s.service.pause_status_applied(wait).await?))
}

/// `GET /api/system/worker-pause/drain`: what still blocks the drain
/// (running and stale jobs with worker, start and expected end), the
/// running-jobs history and the ETA.
#[utoipa::path(get, path = "/api/system/worker-pause/drain", tag = "pause",
    responses((status = 200, description = "What still blocks the drain", body = wire::DrainView)))]
pub async fn get_drain(State(s): State<AppState>) -> ApiResult<Json<wire::DrainView>> {
    Ok(Json(s.service.drain_view().await?))
}

/// `POST /api/system/worker-pause`: pause (drain or quiesce) or resume the
/// fleet, or with `dryRun` say what that would do.
#[utoipa::path(post, path = "/api/system/worker-pause", tag = "pause", request_body = PauseRequest,
    responses((status = 200, description = "The new (or, with `dryRun`, the predicted) status", body = WorkerPauseStatus),
        (status = 409, description = "`version_conflict` (`current` holds the state now) or `request_id_reused`", body = wire::ErrorBody)))]
pub async fn post_action(
    State(s): State<AppState>,
    Actor(actor, _): Actor,
    ApiJson(req): ApiJson<PauseRequest>,
) -> ApiResult<Json<WorkerPauseStatus>> {
    let dry_run = req.dry_run.unwrap_or(false);
    let cmd = PauseCommand::parse(req)?;
    if dry_run {
        return Ok(Json(s.service.pause_dry_run(&actor, cmd).await?));
    }
    Ok(Json(s.service.change_pause(&actor, cmd).await?))
}

/// `GET /api/system/worker-pause/events?limit=&before=&action=&actor=`.
#[utoipa::path(get, path = "/api/system/worker-pause/events", tag = "pause", params(EventsSearch),
    responses((status = 200, description = "A page of the audit log, newest first", body = EventsPage)))]
pub async fn get_events(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<EventsSearch>,
) -> ApiResult<Json<EventsPage>> {
    let limit = PageLimit::parse(q.limit, 50)?;
    let filter = EventFilter::parse(q.action.as_deref(), q.actor.as_deref())?;
    Ok(Json(
        s.service.search_events(&filter, limit, q.before).await?,
    ))
}

/// `GET /api/system/worker-pause/stream`: server-sent events. A `state`
/// event with the full status on connect and whenever the version changes
/// (pushed the moment this process learns of it), and `metrics` events when
/// the drain metrics change (sampled once per tick for all subscribers).
/// Both are encoded once and shared by every subscriber (`crate::fanout`):
/// a stream reads nothing from storage, on connect or on a change. A
/// subscriber that falls behind gets the newest version, never misses the
/// last. Counted against the stream caps (429 `too_many_streams` over one)
/// while open; ends when the server stops or the caller's token is revoked.
#[utoipa::path(get, path = "/api/system/worker-pause/stream", tag = "pause",
    responses((status = 200, description = "Server-sent events: `state` (a `StreamMessage` with the full status) on connect and on every change, `metrics` when the drain metrics change", content_type = "text/event-stream", body = String)))]
pub async fn stream(State(s): State<AppState>, Actor(_, caller): Actor) -> ApiResult<Response> {
    let svc = s.service.clone();
    // Held by the stream: dropped (and uncounted) when the client goes.
    let permit = svc.open_stream(&caller)?;
    let mut frames = svc.state_frames();
    // The first stream of the process waits for the first frame to be
    // built; every later one starts from the newest frame at once.
    let first = tokio::time::timeout(FIRST_FRAME, frames.wait_for(Option::is_some))
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|f| f.clone())
        .ok_or_else(|| ServiceError::Unavailable("the pause status could not be read".into()))?;
    frames.mark_unchanged();
    let mut ticks = svc.live().subscribe();
    // The newest metrics tick too when the state's are older (the state
    // frame was built at its version's change): one chunk, so the client
    // sees the state first and current metrics at once.
    let newer_metrics = ticks
        .borrow_and_update()
        .as_ref()
        .filter(|t| t.tick.version == first.version && t.tick.metrics != first.metrics)
        .map(|t| t.frame.clone());
    let initial = match newer_metrics {
        Some(m) => Bytes::from([&first.bytes[..], &m[..]].concat()),
        None => first.bytes.clone(),
    };
    let live = Subscriber {
        frames,
        ticks,
        version: first.version,
        permit,
        readiness: s.readiness.clone(),
    };
    let rest = futures::stream::unfold(live, |mut live| async move {
        let frame = live.next().await?;
        Some((Ok::<_, Infallible>(frame), live))
    });
    let body = futures::stream::once(async move { Ok(initial) }).chain(rest);
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// How long the first stream waits for the first `state` frame.
const FIRST_FRAME: Duration = Duration::from_secs(10);

/// A comment is sent after this long without an event, so proxies and
/// clients keep an idle stream open.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(10);

/// One open stream: what it listens to and the last version it sent.
struct Subscriber {
    frames: watch::Receiver<Option<StateFrame>>,
    ticks: watch::Receiver<Option<SharedTick>>,
    version: i64,
    permit: StreamPermit,
    readiness: crate::lifecycle::Readiness,
}

impl Subscriber {
    /// The next frame to send (a shared buffer), or `None` to end.
    async fn next(&mut self) -> Option<Bytes> {
        let quiet_until = tokio::time::Instant::now() + KEEP_ALIVE_EVERY;
        loop {
            tokio::select! {
                // The server is stopping: end the stream so the graceful
                // stop does not wait for the dashboard to go away (the
                // page reconnects to the next server).
                _ = self.readiness.stopping() => return None,
                // The token was revoked: a stream authenticates once, so
                // it is ended here rather than outliving its token.
                _ = self.permit.revoked() => return None,
                changed = self.frames.changed() => {
                    changed.ok()?;
                    let newer = self
                        .frames
                        .borrow_and_update()
                        .as_ref()
                        .filter(|f| f.version > self.version)
                        .map(|f| (f.version, f.bytes.clone()));
                    if let Some((version, bytes)) = newer {
                        self.version = version;
                        return Some(bytes);
                    }
                }
                changed = self.ticks.changed() => {
                    changed.ok()?;
                    let tick = self.ticks.borrow_and_update().as_ref().map(|t| t.frame.clone());
                    if tick.is_some() {
                        return tick;
                    }
                }
                () = tokio::time::sleep_until(quiet_until) => return Some(KEEP_ALIVE),
            }
        }
    }
}
