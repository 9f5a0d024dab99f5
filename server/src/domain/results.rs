//! Result submissions: validated envelopes with a fingerprint, so a repeat
//! of an idempotency key can be told apart from a reuse with other content.

use uuid::Uuid;
use wire::{ExecutionResult, PayloadType, ResultEnvelope};

use super::input::{parse_identifier, FieldError, MAX_PAYLOAD_BYTES};

/// What an `execution_result` does to its job.
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    Succeeded {
        lease_token: Uuid,
        result: Option<serde_json::Value>,
    },
    Failed {
        lease_token: Uuid,
        error: String,
        retryable: bool,
    },
}

/// A validated result envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSubmission {
    pub key: String,
    pub payload_type: PayloadType,
    pub task_id: Option<Uuid>,
    pub worker_id: String,
    pub payload: serde_json::Value,
    /// Canonical JSON of everything but the key: equal iff same content.
    pub fingerprint: String,
    /// For `execution_result`: the outcome to apply.
    pub execution: Option<Execution>,
}

impl ResultSubmission {
    pub fn parse(env: ResultEnvelope) -> Result<ResultSubmission, FieldError> {
        let key = env
            .idempotency_key
            .as_deref()
            .ok_or_else(|| FieldError::new("idempotencyKey", "idempotencyKey is required"))?;
        if key.is_empty()
            || key.len() > 200
            || key.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(FieldError::new(
                "idempotencyKey",
                "idempotencyKey must be 1 to 200 characters without spaces",
            ));
        }
        let payload_type = match env.payload_type.as_deref() {
            None => return Err(FieldError::new("payloadType", "payloadType is required")),
            Some(p) => PayloadType::parse(p).ok_or_else(|| {
                FieldError::new(
                    "payloadType",
                    format!(
                        "unknown payloadType {p:?}: use facts, logs, execution_result or health"
                    ),
                )
            })?,
        };
        let worker_id = parse_identifier("workerId", env.worker_id.as_deref())?;
        let payload = env
            .payload
            .ok_or_else(|| FieldError::new("payload", "payload is required"))?;
        let size = payload.to_string().len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(FieldError::new(
                "payload",
                format!("payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} are allowed"),
            ));
        }
        let execution = if payload_type == PayloadType::ExecutionResult {
            if env.task_id.is_none() {
                return Err(FieldError::new(
                    "taskId",
                    "taskId is required for an execution_result",
                ));
            }
            let r: ExecutionResult = serde_json::from_value(payload.clone())
                .map_err(|e| FieldError::new("payload", format!("not an execution result: {e}")))?;
            Some(match r.status.as_str() {
                "succeeded" => Execution::Succeeded {
                    lease_token: r.lease_token,
                    result: r.result,
                },
                "failed" => Execution::Failed {
                    lease_token: r.lease_token,
                    error: r
                        .error
                        .filter(|e| !e.trim().is_empty())
                        .unwrap_or_else(|| "failed (no error given)".into()),
                    retryable: r.retryable.unwrap_or(true),
                },
                other => {
                    return Err(FieldError::new(
                        "payload",
                        format!("execution result status {other:?}: use succeeded or failed"),
                    ))
                }
            })
        } else {
            None
        };
        // serde_json maps are sorted (no preserve_order), so this is canonical.
        let fingerprint = serde_json::json!({
            "payloadType": payload_type.as_str(),
            "taskId": env.task_id,
            "workerId": worker_id,
            "payload": payload,
        })
        .to_string();
        Ok(ResultSubmission {
            key: key.to_string(),
            payload_type,
            task_id: env.task_id,
            worker_id,
            payload,
            fingerprint,
            execution,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(v: serde_json::Value) -> ResultEnvelope {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn execution_result_is_parsed_and_fingerprinted() {
        let token = Uuid::new_v4();
        let task = Uuid::new_v4();
        let a = ResultSubmission::parse(env(json!({
            "idempotencyKey": "k1", "payloadType": "execution_result", "taskId": task,
            "workerId": "w", "payload": {"leaseToken": token, "status": "succeeded", "result": {"b": 1, "a": 2}}
        })))
        .unwrap();
        assert!(matches!(a.execution, Some(Execution::Succeeded { .. })));
        let b = ResultSubmission::parse(env(json!({
            "idempotencyKey": "k1", "payloadType": "execution_result", "taskId": task,
            "workerId": "w", "payload": {"status": "succeeded", "leaseToken": token, "result": {"a": 2, "b": 1}}
        })))
        .unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "key order does not matter");
        let c = ResultSubmission::parse(env(json!({
            "idempotencyKey": "k1", "payloadType": "execution_result", "taskId": task,
            "workerId": "w", "payload": {"status": "succeeded", "leaseToken": token, "result": {"a": 3}}
        })))
        .unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn bad_envelopes_name_the_field() {
        let cases = [
            (
                json!({"payloadType": "logs", "workerId": "w", "payload": {}}),
                "idempotencyKey",
            ),
            (
                json!({"idempotencyKey": "k", "payloadType": "metrics", "workerId": "w", "payload": {}}),
                "payloadType",
            ),
            (
                json!({"idempotencyKey": "k", "payloadType": "logs", "payload": {}}),
                "workerId",
            ),
            (
                json!({"idempotencyKey": "k", "payloadType": "logs", "workerId": "w"}),
                "payload",
            ),
            (
                json!({"idempotencyKey": "k", "payloadType": "execution_result", "workerId": "w", "payload": {}}),
                "taskId",
            ),
            (
                json!({"idempotencyKey": "k", "payloadType": "execution_result", "taskId": Uuid::new_v4(), "workerId": "w", "payload": {"status": "done"}}),
                "payload",
            ),
        ];
        for (v, field) in cases {
            assert_eq!(
                ResultSubmission::parse(env(v.clone())).unwrap_err().field,
                field,
                "{v}"
            );
        }
    }
}
