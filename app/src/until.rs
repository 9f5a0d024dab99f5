//! The timed pause in the form: "resume automatically after N minutes" or
//! "at" an end time (UTC, like every time on the page), and turning them
//! into the request's `until`. Whether it lies in the future is the server's call
//! (its clock), not the browser's.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use leptos::html;
use leptos::prelude::*;

use crate::format;

/// The longest timed pause the form offers: a week.
pub const MAX_MINUTES: u32 = 7 * 24 * 60;

/// `until` for a pause: `None` when neither field is filled in.
pub fn until_of(minutes: &str, at: &str, now_ms: i64) -> Result<Option<String>, String> {
    let (minutes, at) = (minutes.trim(), at.trim());
    match (minutes.is_empty(), at.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Err("Give either minutes or an end time, not both.".into()),
        (false, true) => {
            let m: u32 = minutes
                .parse()
                .ok()
                .filter(|m| (1..=MAX_MINUTES).contains(m))
                .ok_or_else(|| {
                    format!("Minutes must be a whole number from 1 to {MAX_MINUTES}.")
                })?;
            let now = DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
            Ok(Some(format::iso(now + TimeDelta::minutes(i64::from(m)))))
        }
        (true, false) => parse_utc(at)
            .map(|t| Some(format::iso(t)))
            .ok_or_else(|| "The end time must be a date and time (UTC).".into()),
    }
}

/// `2026-11-22T19:47` or `2026-11-22T19:47:28` (a `datetime-local` value),
/// read as UTC.
fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let full = if s.len() == 16 {
        format!("{s}:00")
    } else {
        s.to_string()
    };
    full.parse::<NaiveDateTime>().ok().map(|t| t.and_utc())
}

/// The optional timed end of a pause: after N minutes, or at a time (UTC).
#[component]
pub fn TimedEnd(
    minutes: RwSignal<String>,
    at: RwSignal<String>,
    error: RwSignal<Option<String>>,
    node: NodeRef<html::Input>,
) -> impl IntoView {
    let invalid = move || error.with(Option::is_some);
    let clear = move || {
        if invalid() {
            error.set(None);
        }
    };
    view! {
        <fieldset class="timed" aria-describedby="pause-until-help">
            <legend>"Resume automatically " <span class="req">"(optional)"</span></legend>
            <p class="help" id="pause-until-help">"The fleet resumes by itself at that time; the audit log records it."</p>
            <div class="timed-fields">
                <div class="field">
                    <label for="pause-for">"After (minutes)"</label>
                    <input
                        type="number"
                        id="pause-for"
                        min="1"
                        max=MAX_MINUTES
                        step="1"
                        inputmode="numeric"
                        node_ref=node
                        prop:value=move || minutes.get()
                        on:input=move |ev| {
                            minutes.set(event_target_value(&ev));
                            clear();
                        }
                        aria-invalid=move || invalid().then_some("true")
                        aria-describedby=move || invalid().then_some("pause-until-error")
                    />
                </div>
                <div class="field">
                    <label for="pause-until">"Or at (UTC)"</label>
                    <input
                        type="datetime-local"
                        id="pause-until"
                        step="1"
                        prop:value=move || at.get()
                        on:input=move |ev| {
                            at.set(event_target_value(&ev));
                            clear();
                        }
                        aria-invalid=move || invalid().then_some("true")
                        aria-describedby=move || invalid().then_some("pause-until-error")
                    />
                </div>
            </div>
            <p class="field-error" id="pause-until-error">{move || error.get()}</p>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_376_848_000; // 2026-11-22T19:47:28Z

    #[test]
    fn minutes_count_from_now() {
        assert_eq!(
            until_of("30", "", NOW),
            Ok(Some("2026-11-22T20:17:28Z".into()))
        );
        assert_eq!(until_of(" ", "", NOW), Ok(None));
        for bad in ["0", "-5", "1.5", "ten", "10081"] {
            assert!(until_of(bad, "", NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_end_time_is_read_as_utc() {
        assert_eq!(
            until_of("", "2026-11-22T21:00", NOW),
            Ok(Some("2026-11-22T21:00:00Z".into()))
        );
        assert_eq!(
            until_of("", "2026-11-22T21:00:05", NOW),
            Ok(Some("2026-11-22T21:00:05Z".into()))
        );
        assert!(until_of("", "tomorrow", NOW).is_err());
    }

    #[test]
    fn both_at_once_is_refused() {
        assert!(until_of("5", "2026-11-22T21:00", NOW).is_err());
    }
}
