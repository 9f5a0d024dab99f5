//! The maintenance runbook's endpoints (snake_case answers: `/scheduler/*`,
//! `/status`, `/health`, `/dispatches/*`) and the operational ones
//! (`/livez`, `/metrics`, `/auth/me`).

use reqwest::Method;
use uuid::Uuid;
use wire::runbook::{
    Dispatch, Health, Livez, SchedulerActionRequest, SchedulerStatus, SystemStatus,
};
use wire::Session;

use crate::{error, Client, Endpoint, Result};

impl Client {
    /// `POST /scheduler/pause`: pauses the fleet (drain unless `mode`
    /// says otherwise; a default reason when none is given). Pausing while
    /// paused the same way changes nothing. Errors: `Invalid { field }`.
    pub async fn scheduler_pause(&self, req: &SchedulerActionRequest) -> Result<SchedulerStatus> {
        self.post(Endpoint::post(&["scheduler", "pause"]), Some(req))
            .await
    }

    /// `POST /scheduler/resume`: resumes the fleet, even before it has
    /// drained (then `warning` says so). Resuming while running changes
    /// nothing. Errors: `Invalid { field }`.
    pub async fn scheduler_resume(&self, req: &SchedulerActionRequest) -> Result<SchedulerStatus> {
        self.post(Endpoint::post(&["scheduler", "resume"]), Some(req))
            .await
    }

    /// `GET /scheduler/status`: `running`, `paused` or `transitioning`,
    /// with times, reason and version. Read-only.
    pub async fn scheduler_status(&self) -> Result<SchedulerStatus> {
        self.get(Endpoint::get(&["scheduler", "status"])).await
    }

    /// `GET /status`: job counts and recent dispatches. Read-only.
    pub async fn system_status(&self) -> Result<SystemStatus> {
        self.get(Endpoint::get(&["status"])).await
    }

    /// `GET /health`: whether the server is healthy and its recent events.
    /// An unhealthy server answers 503 with the same body, which this
    /// returns as `Ok` with `healthy: false`. Needs no credential; without
    /// read access (no token, a worker's) the answer has only `healthy`
    /// and each check's name and status (no `database`, messages or
    /// events). A bad token is `Unauthorized`.
    pub async fn health(&self) -> Result<Health> {
        let endpoint = Endpoint {
            also_ok: &[503],
            ..Endpoint::get(&["health"])
        };
        self.get(endpoint).await
    }

    /// `GET /livez`: the process answers; touches no storage (the cheapest
    /// request there is). Needs no credential.
    pub async fn livez(&self) -> Result<Livez> {
        self.get(Endpoint::get(&["livez"])).await
    }

    /// `GET /metrics`: the Prometheus text exposition, as sent. Needs a
    /// credential only when the server protects it.
    pub async fn metrics_text(&self) -> Result<String> {
        let endpoint = Endpoint::get(&["metrics"]);
        let req = self.request(Method::GET, endpoint.segments, self.timeout);
        let resp = self.send(&endpoint, req).await?;
        resp.text()
            .await
            .map_err(|e| error::unreachable(&endpoint.name(), &e))
    }

    /// `GET /auth/me`: who this client's token is (name and role), or
    /// `signed_in: false` for none or an invalid one. Never an error answer.
    pub async fn me(&self) -> Result<Session> {
        self.get(Endpoint::get(&["auth", "me"])).await
    }

    /// `GET /dispatches/{id}`: a job under the runbook's name. Errors:
    /// `NotFound`.
    pub async fn dispatch(&self, id: Uuid) -> Result<Dispatch> {
        let id = id.to_string();
        self.get(Endpoint::get(&["dispatches", &id])).await
    }

    /// `POST /dispatches/{id}/cancel`: as [`Client::cancel_job`].
    pub async fn cancel_dispatch(&self, id: Uuid) -> Result<Dispatch> {
        let id = id.to_string();
        let path = ["dispatches", &id, "cancel"];
        self.post(Endpoint::post(&path), None::<&crate::NoBody>)
            .await
    }

    /// `POST /dispatches/{id}/retry`: as [`Client::retry_job`].
    pub async fn retry_dispatch(&self, id: Uuid) -> Result<Dispatch> {
        let id = id.to_string();
        let path = ["dispatches", &id, "retry"];
        self.post(Endpoint::post(&path), None::<&crate::NoBody>)
            .await
    }
}
