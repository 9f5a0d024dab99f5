//! The MCP server at `/mcp` (Model Context Protocol, streamable HTTP, with
//! `rmcp`): agents claim, heartbeat, complete and fail jobs, and operators'
//! agents read the status and pause or resume the fleet, through tools that
//! are thin calls of the same service functions as the REST handlers (the
//! same request types from `wire`, parsed by the same domain commands: no
//! rule is written twice).
//!
//! - **Auth**: `/mcp` sits behind the same middleware as REST; any signed-in
//!   role may connect. `tools/list` shows the tools the caller's role may
//!   call (the REST route each mirrors decides), and calling another one is
//!   a tool error with our code `forbidden`.
//! - **Errors**: a refused or failed call is a tool error (`isError: true`)
//!   whose structured content is our JSON error body
//!   (`{"error": {"code", "message", "field"}}`, plus `current`/`impact`
//!   where REST has them), so an agent reads the same codes as a script.
//! - **Names**: `queue.claim` etc. — dots are allowed in tool names by the
//!   MCP specification (letters, digits, `_`, `-`, `.`; 1–128 characters).
//! - **Stateless**: every POST is answered on its own (JSON, no session),
//!   so any replica behind a load balancer can answer any request.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_router, ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;
use wire::{
    ClaimManyRequest, CompleteNextRequest, EnqueueRequest, EventsQuery, FailRequest,
    HeartbeatRequest, PauseRequest, WorkerActionRequest,
};

use super::error::ApiError;
use super::extract::{parse_json, Actor};
use crate::auth::{Access, AuthMode, Caller};
use crate::domain::{
    ClaimCommand, CompleteNext, FailCommand, FieldError, HeartbeatCommand, NewJob, PageLimit,
    PauseCommand, WorkerActionCommand,
};
use crate::service::Service;

/// What each tool needs: the access of the REST route it mirrors.
pub fn tool_access(tool: &str) -> Option<Access> {
    Some(match tool {
        "queue.claim" | "queue.heartbeat" | "queue.complete" | "queue.fail" => Access::Work,
        "queue.enqueue" => Access::Enqueue,
        "system.status" | "workers.list" | "events.list" => Access::Read,
        "system.pause" | "system.resume" | "workers.action" => Access::Operate,
        _ => return None,
    })
}

/// The MCP handler: one per request (stateless), over the shared service.
#[derive(Clone)]
pub struct LullMcp {
    service: Arc<Service>,
    tool_router: ToolRouter<LullMcp>,
}

/// The caller the auth middleware put into the HTTP request (`local` in
/// disabled mode).
fn caller_of(ctx: &RequestContext<RoleServer>) -> Option<Caller> {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Caller>().cloned())
}

fn allowed(caller: Option<&Caller>, tool: &str) -> bool {
    match (caller, tool_access(tool)) {
        (Some(c), Some(access)) => c.allows(access),
        _ => false,
    }
}

/// A tool's answer: the response as structured content (and as text, for
/// clients that read only text).
fn answer<T: Serialize>(r: Result<T, ApiError>) -> CallToolResult {
    match r.and_then(|v| {
        serde_json::to_value(v).map_err(|e| {
            ApiError::from(crate::service::ServiceError::Internal(format!(
                "encoding a tool result: {e}"
            )))
        })
    }) {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => refusal(e),
    }
}

/// Our error body as a tool error.
fn refusal(e: ApiError) -> CallToolResult {
    CallToolResult::structured_error(
        serde_json::to_value(&*e.body).unwrap_or_else(|_| serde_json::json!({})),
    )
}

/// Parses tool arguments as REST parses a body: the same type, the same
/// errors (`invalid_field` naming the field).
fn args<T: DeserializeOwned>(a: JsonObject) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(&serde_json::Value::Object(a))
        .map_err(|e| ApiError::from(FieldError::new("arguments", e.to_string())))?;
    parse_json(&bytes)
}

/// Takes the `jobId` argument (the REST path's `{id}`) out of `a`.
fn job_id(a: &mut JsonObject) -> Result<Uuid, ApiError> {
    match a.remove("jobId") {
        Some(serde_json::Value::String(s)) => Uuid::parse_str(&s).map_err(|_| {
            FieldError::new("jobId", format!("{s:?} is not a valid job id (a UUID)")).into()
        }),
        Some(_) => Err(FieldError::new("jobId", "jobId must be a string (a UUID)").into()),
        None => Err(FieldError::new("jobId", "jobId is required").into()),
    }
}

/// The input schema of a tool that takes `T` (a `wire` request type).
fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_type::<T>()
}

/// `T`'s schema plus the required `jobId` (the job the call is about).
fn job_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let mut s = (*schema_for_type::<T>()).clone();
    if let Some(serde_json::Value::Object(props)) = s.get_mut("properties") {
        props.insert(
            "jobId".into(),
            serde_json::json!({"type": "string", "format": "uuid", "description": "The job's id."}),
        );
    }
    let required = s
        .entry("required")
        .or_insert_with(|| serde_json::Value::Array(vec![]));
    if let serde_json::Value::Array(r) = required {
        r.push("jobId".into());
    }
    Arc::new(s)
}

fn empty_schema() -> Arc<JsonObject> {
    let mut s = JsonObject::new();
    s.insert("type".into(), "object".into());
    s.insert("properties".into(), serde_json::json!({}));
    Arc::new(s)
}

/// The caller as REST's handlers see it.
fn actor(ctx: &RequestContext<RoleServer>) -> Actor {
    let c = caller_of(ctx).unwrap_or_else(Caller::local);
    Actor(c.name.clone(), c)
}

#[tool_router]
impl LullMcp {
    pub fn new(service: Arc<Service>) -> Self {
        LullMcp {
            service,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        name = "queue.claim",
        description = "Claim a job for a worker (POST /api/queue/jobs/claim). Answers {job, system}: job is null while the fleet (or every named queue) is paused, and `system` always carries the pause state (workersPaused, mode, reason, version, pausePollIntervalMs, pausedQueues). Optional: types, queues, leaseSeconds, waitMs (long poll, up to 30000), limit (batch).",
        input_schema = schema::<ClaimManyRequest>()
    )]
    async fn claim(&self, a: JsonObject, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let actor = actor(&ctx);
        answer(
            async {
                let req: ClaimManyRequest = args(a)?;
                actor.check_worker(req.worker_id.as_deref())?;
                let (req, limit) = req.split();
                let cmd = ClaimCommand::parse(&req, limit)?;
                Ok(self.service.claim(cmd).await?)
            }
            .await,
        )
    }

    #[tool(
        name = "queue.heartbeat",
        description = "Extend a claimed job's lease (POST /api/queue/jobs/{id}/heartbeat): jobId, workerId, leaseToken, optional pausedAtCheckpoint and leaseSeconds. Answers {job, system, directive}: `system` carries the pause state, so a quiesce reaches a running job here.",
        input_schema = job_schema::<HeartbeatRequest>()
    )]
    async fn heartbeat(
        &self,
        mut a: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let actor = actor(&ctx);
        answer(
            async {
                let id = job_id(&mut a)?;
                let req: HeartbeatRequest = args(a)?;
                actor.check_worker(req.worker_id.as_deref())?;
                let cmd = HeartbeatCommand::parse(id, req)?;
                Ok(self.service.heartbeat(cmd).await?)
            }
            .await,
        )
    }

    #[tool(
        name = "queue.complete",
        description = "Complete a claimed job (POST /api/queue/jobs/{id}/complete): jobId, workerId, leaseToken, optional result, optional claimNext ({types, queues, leaseSeconds, waitMs}: also claim the worker's next job, answered in `next` as queue.claim answers). Refused with lease_lost when the lease is no longer the worker's (nothing completed or claimed).",
        input_schema = job_schema::<CompleteNextRequest>()
    )]
    async fn complete(&self, mut a: JsonObject, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let actor = actor(&ctx);
        answer(
            async {
                let id = job_id(&mut a)?;
                let req: CompleteNextRequest = args(a)?;
                actor.check_worker(req.worker_id.as_deref())?;
                let cmd = CompleteNext::parse(id, req)?;
                Ok(self.service.complete_next(cmd).await?)
            }
            .await,
        )
    }

    #[tool(
        name = "queue.fail",
        description = "Fail a claimed job (POST /api/queue/jobs/{id}/fail): jobId, workerId, leaseToken, error, optional retryable (default true: retried with backoff while attempts remain).",
        input_schema = job_schema::<FailRequest>()
    )]
    async fn fail(&self, mut a: JsonObject, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let actor = actor(&ctx);
        answer(
            async {
                let id = job_id(&mut a)?;
                let req: FailRequest = args(a)?;
                actor.check_worker(req.worker_id.as_deref())?;
                let cmd = FailCommand::parse(id, req)?;
                Ok(self.service.fail(cmd).await?)
            }
            .await,
        )
    }

    #[tool(
        name = "queue.enqueue",
        description = "Enqueue a job (POST /api/queue/jobs): type, payload, optional priority, maxAttempts, queue, runAt or delaySeconds, uniqueKey. Answers the job and `duplicate` (a live job held the uniqueKey).",
        input_schema = schema::<EnqueueRequest>()
    )]
    async fn enqueue(&self, a: JsonObject) -> CallToolResult {
        answer(
            async {
                let job = NewJob::parse(args(a)?)?;
                Ok(self.service.enqueue(job).await?)
            }
            .await,
        )
    }

    #[tool(
        name = "system.status",
        description = "The fleet's pause state as the dashboard banner shows it (workersPaused, mode, reason, version, requestedBy, metrics with isDrained, the latest audit events) and the drain: which running or stale jobs still block it, progress and ETA. Answers {status, drain}.",
        input_schema = empty_schema()
    )]
    async fn status(&self) -> CallToolResult {
        answer(
            async {
                let status = self.service.pause_status().await?;
                let drain = self.service.drain_view().await?;
                Ok(serde_json::json!({"status": status, "drain": drain}))
            }
            .await,
        )
    }

    #[tool(
        name = "system.pause",
        description = "Pause the fleet (POST /api/system/worker-pause with action pause): mode drain (no new claims; running jobs finish) or quiesce (running jobs also hold at their next checkpoint), reason (required), optional until (RFC 3339: resume by itself then), expectedVersion, requestId. Audited with the caller's token name as the actor.",
        input_schema = schema::<PauseRequest>()
    )]
    async fn pause(&self, a: JsonObject, ctx: RequestContext<RoleServer>) -> CallToolResult {
        self.change_pause("pause", a, &ctx).await
    }

    #[tool(
        name = "system.resume",
        description = "Resume the fleet (POST /api/system/worker-pause with action resume): reason (required), optional forceResume (acknowledge resuming before the fleet has drained; the answer then carries a warning and the audit event records it), expectedVersion, requestId.",
        input_schema = schema::<PauseRequest>()
    )]
    async fn resume(&self, a: JsonObject, ctx: RequestContext<RoleServer>) -> CallToolResult {
        self.change_pause("resume", a, &ctx).await
    }

    #[tool(
        name = "workers.list",
        description = "The registered workers (GET /api/workers): id, name, last heartbeat, active jobs, desired and observed state.",
        input_schema = empty_schema()
    )]
    async fn workers(&self) -> CallToolResult {
        answer(async { Ok(self.service.list_workers().await?) }.await)
    }

    #[tool(
        name = "workers.action",
        description = "Pause, resume or drain workers (POST /api/workers/actions): action, workerIds, reason, optional confirm. An action that would leave fewer available workers than the configured minimum is refused with safety_check (the error names the phrase to send as confirm).",
        input_schema = schema::<WorkerActionRequest>()
    )]
    async fn worker_action(
        &self,
        a: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let actor = actor(&ctx);
        answer(
            async {
                let cmd = WorkerActionCommand::parse(args(a)?)?;
                Ok(self.service.worker_action(&actor.0, cmd).await?)
            }
            .await,
        )
    }

    #[tool(
        name = "events.list",
        description = "The audit log, newest first (GET /api/system/worker-pause/events): optional limit, and before (an event id) for the next page.",
        input_schema = schema::<EventsQuery>()
    )]
    async fn events(&self, a: JsonObject) -> CallToolResult {
        answer(
            async {
                let q: EventsQuery = args(a)?;
                let limit = PageLimit::parse(q.limit, 50)?;
                Ok(self.service.events(limit, q.before).await?)
            }
            .await,
        )
    }
}

impl LullMcp {
    /// `system.pause` and `system.resume`: the REST pause request with its
    /// `action` implied by the tool (one that names another is refused).
    async fn change_pause(
        &self,
        action: &str,
        a: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let actor = actor(ctx);
        answer(
            async {
                let mut req: PauseRequest = args(a)?;
                match req.action.as_deref() {
                    None => req.action = Some(action.to_string()),
                    Some(a) if a == action => {}
                    Some(other) => {
                        return Err(FieldError::new(
                            "action",
                            format!("system.{action} takes no action {other:?}; leave it out"),
                        )
                        .into())
                    }
                }
                let cmd = PauseCommand::parse(req)?;
                Ok(self.service.change_pause(&actor.0, cmd).await?)
            }
            .await,
        )
    }
}

impl ServerHandler for LullMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(rmcp::model::Implementation::new(
                "lull",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Lull: a job queue with a pause switch for its worker fleet. Workers: call \
                 queue.claim in a loop; while `system.workersPaused` is true (or job is null), \
                 sleep `system.pausePollIntervalMs` and claim again; heartbeat a running job with \
                 queue.heartbeat and hold at a checkpoint when its `system` says quiesce. \
                 Operators: system.status, system.pause, system.resume, workers.list, \
                 workers.action, events.list."
                    .to_string(),
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller_of(&context);
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| allowed(caller.as_ref(), &t.name))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller_of(&context);
        if self.tool_router.has_route(&request.name) && !allowed(caller.as_ref(), &request.name) {
            let role = caller
                .as_ref()
                .and_then(|c| c.role)
                .map(|r| r.as_str())
                .unwrap_or("anonymous");
            tracing::warn!(
                actor = caller.as_ref().map(|c| c.name.as_str()).unwrap_or(""),
                role,
                tool = %request.name,
                "MCP tool forbidden by role"
            );
            return Ok(refusal(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                format!("the {role} role may not call {}", request.name),
                None,
            ))
            .into());
        }
        self.tool_router
            .call(ToolCallContext::new(self, request, context))
            .await
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }
}

/// The `/mcp` endpoint: stateless streamable HTTP answering JSON. In
/// disabled auth mode (loopback only, no credential) rmcp's DNS-rebinding
/// guard stays on (only loopback `Host`s); in token mode every request
/// carries a bearer token, so any `Host` the deployment uses is accepted.
pub fn service(svc: Arc<Service>) -> StreamableHttpService<LullMcp, NeverSessionManager> {
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = false;
    config.json_response = true;
    config.max_request_body_bytes = super::MAX_BODY_BYTES;
    if svc.auth().mode == AuthMode::Token {
        config = config.disable_allowed_hosts();
    }
    StreamableHttpService::new(
        move || Ok(LullMcp::new(svc.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
