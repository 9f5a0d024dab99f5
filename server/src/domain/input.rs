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

/// The largest payload (or result) we keep, serialized.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// A worker id: an identifier (see [`parse_identifier`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    /// Parses the `workerId` field.
    pub fn parse(raw: Option<&str>) -> Result<WorkerId, FieldError> {
        Self::parse_field("workerId", raw)
    }

    /// Parses a worker id found in another field (`workerIds`, the path).
    pub fn parse_field(field: &'static str, raw: Option<&str>) -> Result<WorkerId, FieldError> {
        parse_identifier(field, raw).map(WorkerId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The job types a claim asks for: 1 to 100 identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTypes(Vec<String>);

impl JobTypes {
    pub fn parse(raw: Option<&[String]>) -> Result<Option<JobTypes>, FieldError> {
        let Some(types) = raw else { return Ok(None) };
        if types.is_empty() {
            return Err(FieldError::new(
                "types",
                "types must not be empty when given",
            ));
        }
        if types.len() > 100 {
            return Err(FieldError::new("types", "at most 100 types"));
        }
        let types = types
            .iter()
            .map(|t| parse_identifier("types", Some(t)))
            .collect::<Result<_, _>>()?;
        Ok(Some(JobTypes(types)))
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// The largest page of jobs or events one request may ask for.
pub const MAX_PAGE: u32 = 500;

/// A page size (`limit` of a listing): 1 to [`MAX_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub fn parse(raw: Option<u32>, default: u32) -> Result<PageLimit, FieldError> {
        match raw {
            None => Ok(PageLimit(default)),
            Some(l) if (1..=MAX_PAGE).contains(&l) => Ok(PageLimit(l)),
            Some(_) => Err(FieldError::new(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The longest a claim may wait for a job (long poll).
pub const MAX_WAIT_MS: u32 = 30_000;

/// How long a claim waits for a job (`waitMs`): 0 (answer at once) to
/// [`MAX_WAIT_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitMs(u32);

impl WaitMs {
    pub fn parse(raw: Option<u32>) -> Result<WaitMs, FieldError> {
        match raw {
            None => Ok(WaitMs(0)),
            Some(w) if w <= MAX_WAIT_MS => Ok(WaitMs(w)),
            Some(w) => Err(FieldError::new(
                "waitMs",
                format!("waitMs is {w}; at most {MAX_WAIT_MS} is allowed"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The most jobs one batch claim (`limit`) may hand out.
pub use wire::MAX_CLAIM_BATCH;

/// A batch claim's `limit`: 1 to [`MAX_CLAIM_BATCH`] jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimit(u32);

impl ClaimLimit {
    pub fn parse(raw: Option<u32>) -> Result<Option<ClaimLimit>, FieldError> {
        match raw {
            None => Ok(None),
            Some(l) if (1..=MAX_CLAIM_BATCH).contains(&l) => Ok(Some(ClaimLimit(l))),
            Some(l) => Err(FieldError::new(
                "limit",
                format!("limit is {l}; it must be between 1 and {MAX_CLAIM_BATCH}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A duration as operators write it: `500ms`, `90s`, `10m`, `2h`, `7d`,
/// or plain seconds (the CLI's `--for`, the retention settings).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 90s, 10m, 500ms, 7d"))?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| format!("duration {s:?} is too long"))
    };
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "s" | "" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => Err(format!("bad duration unit in {s:?}: use ms, s, m, h or d")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        use std::time::Duration;
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("99999999999999999d").is_err());
    }

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
    fn page_limits_waits_and_batches_are_bounded() {
        assert_eq!(PageLimit::parse(None, 50).map(PageLimit::get), Ok(50));
        assert_eq!(
            PageLimit::parse(Some(MAX_PAGE), 50).map(PageLimit::get),
            Ok(MAX_PAGE)
        );
        for bad in [0, MAX_PAGE + 1] {
            assert_eq!(PageLimit::parse(Some(bad), 50).unwrap_err().field, "limit");
        }
        assert_eq!(WaitMs::parse(None).map(WaitMs::get), Ok(0));
        assert_eq!(
            WaitMs::parse(Some(MAX_WAIT_MS + 1)).unwrap_err().field,
            "waitMs"
        );
        assert_eq!(ClaimLimit::parse(None), Ok(None));
        for bad in [0, MAX_CLAIM_BATCH + 1] {
            assert_eq!(ClaimLimit::parse(Some(bad)).unwrap_err().field, "limit");
        }
        assert_eq!(WorkerId::parse(Some("w 1")).unwrap_err().field, "workerId");
        assert_eq!(JobTypes::parse(Some(&[])).unwrap_err().field, "types");
        assert_eq!(JobTypes::parse(None), Ok(None));
    }
}
