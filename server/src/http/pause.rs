//! `/api/system/worker-pause`: the global pause and its audit log.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};
use wire::{EventsPage, EventsSearch, PauseRequest, StatusQuery, StreamMessage, WorkerPauseStatus};

use super::error::ApiResult;
use super::extract::{Actor, ApiJson, ApiQuery};
use super::AppState;
use crate::domain::{parse_wait_applied, EventFilter, PageLimit, PauseCommand};

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
/// Counted against the stream caps (429 `too_many_streams` over one) while
/// open; ends when the server stops or the caller's token is revoked.
#[utoipa::path(get, path = "/api/system/worker-pause/stream", tag = "pause",
    responses((status = 200, description = "Server-sent events: `state` (a `StreamMessage` with the full status) on connect and on every change, `metrics` when the drain metrics change", content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(s): State<AppState>,
    Actor(_, caller): Actor,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>> {
    let svc = s.service.clone();
    // Held by the stream: dropped (and uncounted) when the client goes.
    let permit = svc.open_stream(&caller)?;
    let first = svc.pause_status().await?;
    let mut versions = svc.cache().subscribe();
    versions.mark_unchanged();
    let mut ticks = svc.live().subscribe();
    ticks.mark_unchanged();
    let last_version = first.version;
    let initial = state_event(first);
    let readiness = s.readiness.clone();
    let rest = futures::stream::unfold(
        (svc, versions, ticks, last_version, permit),
        move |(svc, mut versions, mut ticks, mut last_version, mut permit)| {
            let readiness = readiness.clone();
            async move {
                loop {
                    tokio::select! {
                        // The server is stopping: end the stream so the graceful
                        // stop does not wait for the dashboard to go away (the
                        // page reconnects to the next server).
                        _ = readiness.stopping() => return None,
                        // The token was revoked: a stream authenticates once,
                        // so it is ended here rather than outliving its token.
                        _ = permit.revoked() => return None,
                        changed = versions.changed() => {
                            changed.ok()?;
                            let v = versions.borrow_and_update().version;
                            if v == last_version {
                                continue;
                            }
                            match svc.pause_status().await {
                                Ok(status) => {
                                    last_version = status.version;
                                    return Some((state_event(status), (svc, versions, ticks, last_version, permit)));
                                }
                                Err(e) => tracing::warn!(error = %e, "stream: could not read the status"),
                            }
                        }
                        changed = ticks.changed() => {
                            changed.ok()?;
                            let tick = *ticks.borrow_and_update();
                            if let Some(t) = tick {
                                let msg = StreamMessage::Metrics { version: t.version, metrics: t.metrics, at: t.at };
                                return Some((event("metrics", &msg), (svc, versions, ticks, last_version, permit)));
                            }
                        }
                    }
                }
            }
        },
    );
    let stream = futures::stream::once(async move { initial }).chain(rest);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(10))))
}

fn event(name: &str, msg: &StreamMessage) -> Result<Event, std::convert::Infallible> {
    Ok(Event::default()
        .event(name)
        .data(serde_json::to_string(msg).unwrap_or_default()))
}

fn state_event(status: WorkerPauseStatus) -> Result<Event, std::convert::Infallible> {
    event(
        "state",
        &StreamMessage::State {
            status: Box::new(status),
        },
    )
}
