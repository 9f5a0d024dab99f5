//! Parse, don't validate: request fields become these types or a
//! [`FieldError`] naming the field, so invalid input never reaches the core.

use std::fmt;

/// A request field that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The longest reason we accept: room for a sentence and a ticket link, not
/// for a pasted log.
pub const MAX_REASON_CHARS: usize = 500;

/// An operator's reason for a control action: trimmed, non-empty, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: Option<&str>) -> Result<Reason, FieldError> {
        let Some(raw) = raw else {
            return Err(FieldError::new("reason", "reason is required"));
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new("reason", "reason must not be empty"));
        }
        let chars = trimmed.chars().count();
        if chars > MAX_REASON_CHARS {
            return Err(FieldError::new(
                "reason",
                format!("reason is {chars} characters; at most {MAX_REASON_CHARS} are allowed"),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(FieldError::new(
                "reason",
                "reason must not contain control characters",
            ));
        }
        Ok(Reason(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a short identifier (worker id, job type, request id): 1–128
/// characters of `[A-Za-z0-9._:@/-]`.
pub fn parse_identifier(field: &'static str, raw: Option<&str>) -> Result<String, FieldError> {
    let Some(raw) = raw else {
        return Err(FieldError::new(field, format!("{field} is required")));
    };
    if raw.is_empty() || raw.len() > 128 {
        return Err(FieldError::new(
            field,
            format!("{field} must be 1 to 128 characters"),
        ));
    }
    if !raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._:@/-".contains(c))
    {
        return Err(FieldError::new(
            field,
            format!("{field} may contain only letters, digits and . _ : @ / -"),
        ));
    }
    Ok(raw.to_string())
}

/// Bounds on a lease: long enough to survive a missed heartbeat, short enough
/// that a dead worker's job comes back within minutes.
pub const MIN_LEASE_SECONDS: u32 = 5;
pub const MAX_LEASE_SECONDS: u32 = 3600;
pub const DEFAULT_LEASE_SECONDS: u32 = 30;

pub fn parse_lease_seconds(raw: Option<u32>) -> Result<u32, FieldError> {
    match raw {
        None => Ok(DEFAULT_LEASE_SECONDS),
        Some(s) if (MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&s) => Ok(s),
        Some(s) => Err(FieldError::new(
            "leaseSeconds",
            format!("leaseSeconds is {s}; it must be between {MIN_LEASE_SECONDS} and {MAX_LEASE_SECONDS}"),
        )),
    }
}

pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
pub const MAX_MAX_ATTEMPTS: i32 = 100;

/// A validated enqueue request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_type: String,
    pub payload: serde_json::Value,
    pub priority: i32,
    pub max_attempts: i32,
}

/// The largest payload we keep in the queue table, serialized.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

impl NewJob {
    pub fn parse(req: wire::EnqueueRequest) -> Result<NewJob, FieldError> {
        let job_type = parse_identifier("type", req.job_type.as_deref())?;
        let payload = req
            .payload
            .unwrap_or(serde_json::Value::Object(Default::default()));
        let size = payload.to_string().len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(FieldError::new(
                "payload",
                format!("payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} are allowed"),
            ));
        }
        let priority = req.priority.unwrap_or(0);
        if !(-1000..=1000).contains(&priority) {
            return Err(FieldError::new(
                "priority",
                "priority must be between -1000 and 1000",
            ));
        }
        let max_attempts = req.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=MAX_MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(FieldError::new(
                "maxAttempts",
                format!("maxAttempts must be between 1 and {MAX_MAX_ATTEMPTS}"),
            ));
        }
        Ok(NewJob {
            job_type,
            payload,
            priority,
            max_attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_trimmed() {
        assert_eq!(
            Reason::parse(Some("  deploy  ")).map(|r| r.as_str().to_string()),
            Ok("deploy".to_string())
        );
    }

    #[test]
    fn reason_missing_empty_or_blank_is_refused() {
        for raw in [None, Some(""), Some("   \n ")] {
            let err = Reason::parse(raw).unwrap_err();
            assert_eq!(err.field, "reason");
        }
    }

    #[test]
    fn reason_longer_than_the_limit_is_refused() {
        let ok = "x".repeat(MAX_REASON_CHARS);
        assert!(Reason::parse(Some(&ok)).is_ok());
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert!(Reason::parse(Some(&long))
            .unwrap_err()
            .message
            .contains("501"));
    }

    #[test]
    fn reason_with_control_characters_is_refused() {
        assert!(Reason::parse(Some("a\u{7}b")).is_err());
    }

    #[test]
    fn identifiers_are_bounded_and_plain() {
        assert!(parse_identifier("workerId", Some("worker-1.host:a")).is_ok());
        assert!(parse_identifier("workerId", Some("")).is_err());
        assert!(parse_identifier("workerId", Some("a b")).is_err());
        assert!(parse_identifier("workerId", Some(&"a".repeat(129))).is_err());
        assert!(parse_identifier("workerId", None).is_err());
    }

    #[test]
    fn lease_seconds_default_and_bounds() {
        assert_eq!(parse_lease_seconds(None), Ok(DEFAULT_LEASE_SECONDS));
        assert!(parse_lease_seconds(Some(1)).is_err());
        assert!(parse_lease_seconds(Some(MAX_LEASE_SECONDS + 1)).is_err());
        assert_eq!(parse_lease_seconds(Some(60)), Ok(60));
    }

    #[test]
    fn enqueue_defaults_and_limits() {
        let job = NewJob::parse(wire::EnqueueRequest {
            job_type: Some("email".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(job.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(job.priority, 0);
        assert_eq!(job.payload, serde_json::json!({}));
        let bad = NewJob::parse(wire::EnqueueRequest {
            job_type: Some("email".into()),
            max_attempts: Some(0),
            ..Default::default()
        });
        assert_eq!(bad.unwrap_err().field, "maxAttempts");
        let missing = NewJob::parse(wire::EnqueueRequest::default());
        assert_eq!(missing.unwrap_err().field, "type");
    }
}
