//! Small pieces the pages share: a required reason with the server's error
//! for it underneath (tied to the input for screen readers), the outcome
//! message an action leaves, and a time shown with "3 min ago".

use chrono::{DateTime, Utc};
use leptos::html;
use leptos::prelude::*;

use crate::format;
use crate::state::Dashboard;

/// A required reason. Typing clears the error the server gave for it.
#[component]
pub fn ReasonField(
    id: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<String>>,
    node: NodeRef<html::Input>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let described = error_id.clone();
    let invalid = move || error.with(Option::is_some);
    view! {
        <div class="field">
            <label for=id>"Reason " <span class="req">"(required)"</span></label>
            <input
                type="text"
                id=id
                name="reason"
                required
                maxlength="500"
                autocomplete="off"
                placeholder=placeholder
                node_ref=node
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    if invalid() {
                        error.set(None);
                    }
                }
                aria-invalid=move || invalid().then_some("true")
                aria-describedby=move || invalid().then(|| described.clone())
            />
            <p class="field-error" id=error_id>{move || error.get()}</p>
        </div>
    }
}

/// How an action came out, for the message under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Done(String),
    /// Applied, but the server warns (e.g. resumed before drained).
    Warning(String),
    /// Not applied: the state had changed; the page now shows the new one.
    Conflict(String),
    Error(String),
}

impl Notice {
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::Done(_) => "done",
            Notice::Warning(_) => "warning",
            Notice::Conflict(_) => "conflict",
            Notice::Error(_) => "error",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Notice::Done(t) | Notice::Warning(t) | Notice::Conflict(t) | Notice::Error(t) => t,
        }
    }
}

/// The outcome message: a `role="status"` region that takes focus after an
/// action (the button that sent it is often disabled by then).
#[component]
pub fn NoticeBox(
    id: &'static str,
    notice: RwSignal<Option<Notice>>,
    node: NodeRef<html::Div>,
) -> impl IntoView {
    view! {
        <div
            class="notice"
            role="status"
            tabindex="-1"
            id=id
            node_ref=node
            data-kind=move || notice.with(|n| n.as_ref().map(Notice::kind))
        >
            {move || notice.with(|n| n.as_ref().map(|n| n.text().to_string()))}
        </div>
    }
}

/// `<time datetime=… title=…>19:40:01</time> (2 min ago)`: the time as
/// `shown` writes it, its absolute UTC form on hover, and how long ago (or
/// in how long) it is, moving with the page's clock.
#[component]
pub fn Time(
    at: DateTime<Utc>,
    #[prop(default = format::clock)] shown: fn(DateTime<Utc>) -> String,
) -> impl IntoView {
    let now = expect_context::<Dashboard>().now_ms;
    view! {
        <time datetime=format::iso(at) title=format::absolute(at)>{shown(at)}</time>
        " "
        <span class="rel">{move || format!("({})", format::relative(at, now.get()))}</span>
    }
}
