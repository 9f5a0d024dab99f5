//! The audit log's filters: an exact action and part of the actor's name.

use super::input::{parse_identifier, FieldError};

/// The longest actor filter we accept (an actor is a token's name).
const MAX_ACTOR_FILTER: usize = 128;

/// Which audit events a page holds: an exact `action`, and an `actor` that
/// contains the given text (any ASCII case). Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub action: Option<String>,
    /// Lower-cased, trimmed.
    pub actor: Option<String>,
}

impl EventFilter {
    pub fn parse(action: Option<&str>, actor: Option<&str>) -> Result<EventFilter, FieldError> {
        let action = match action.map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(parse_identifier("action", Some(a))?),
        };
        let actor = match actor.map(str::trim) {
            None | Some("") => None,
            Some(a) if a.chars().count() > MAX_ACTOR_FILTER => {
                return Err(FieldError::new(
                    "actor",
                    format!("actor must be at most {MAX_ACTOR_FILTER} characters"),
                ))
            }
            Some(a) if a.chars().any(char::is_control) => {
                return Err(FieldError::new(
                    "actor",
                    "actor must not contain control characters",
                ))
            }
            Some(a) => Some(a.to_ascii_lowercase()),
        };
        Ok(EventFilter { action, actor })
    }

    /// The actor filter as a `LIKE … ESCAPE '\'` pattern: the text
    /// anywhere, its own `%`, `_` and `\` taken literally.
    pub fn actor_pattern(&self) -> Option<String> {
        self.actor.as_ref().map(|a| {
            let mut p = String::with_capacity(a.len() + 2);
            p.push('%');
            for c in a.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_optional_and_checked() {
        assert_eq!(
            EventFilter::parse(None, Some("  ")).unwrap(),
            EventFilter::default()
        );
        let f = EventFilter::parse(Some("queue.pause"), Some(" Ops_1% ")).unwrap();
        assert_eq!(f.action.as_deref(), Some("queue.pause"));
        assert_eq!(f.actor.as_deref(), Some("ops_1%"));
        assert_eq!(f.actor_pattern().as_deref(), Some("%ops\\_1\\%%"));
        assert_eq!(
            EventFilter::parse(Some("no such"), None).unwrap_err().field,
            "action"
        );
        assert_eq!(
            EventFilter::parse(None, Some(&"x".repeat(200)))
                .unwrap_err()
                .field,
            "actor"
        );
    }
}
