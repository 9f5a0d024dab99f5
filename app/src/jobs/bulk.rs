//! "Retry N failed jobs": every failed job of the list's type and queue
//! filters queued again at once. The button states how many match now; the
//! confirmation re-reads the count and states it, with the filters, and
//! asks why (the audit log records the reason). The retry sends that count
//! as `expectedCount`: if the matching failed jobs changed meanwhile the
//! server retries nothing and says so (409), and the page shows the new
//! count.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{ApiError, BulkRetryRequest, JobCountQuery};

use super::JobsQuery;
use crate::api::{count_jobs, RetryFailedJobs};
use crate::auth::last_good;
use crate::confirm::ConfirmDialog;
use crate::error::AppError;
use crate::focus::focus;
use crate::format;
use crate::state::Dashboard;
use crate::widgets::{Notice, NoticeBox, ReasonField};

/// The count query of the failed jobs a view's type and queue match.
pub fn failed_of(q: &JobsQuery) -> JobCountQuery {
    JobCountQuery {
        status: Some("failed".into()),
        job_type: q.job_type.clone(),
        queue: q.queue.clone(),
    }
}

/// The button's text.
pub fn label(n: i64) -> String {
    format!("Retry {}", format::count(n, "failed job", "failed jobs"))
}

/// The confirmation's title and what it says will happen.
pub fn question(n: i64, job_type: Option<&str>, queue: Option<&str>) -> (String, String) {
    let which = match (job_type, queue) {
        (Some(t), Some(q)) => format!(" of type {t} in queue {q}"),
        (Some(t), None) => format!(" of type {t} (every queue)"),
        (None, Some(q)) => format!(" in queue {q} (every type)"),
        (None, None) => " (every type, every queue)".to_string(),
    };
    let (goes, their) = if n == 1 {
        ("goes", "its")
    } else {
        ("go", "their")
    };
    (
        format!("{}?", label(n)),
        format!(
            "{}{which} {goes} back to the queue with {their} attempts reset. If the number of matching failed jobs changes before you confirm, nothing is retried and you are told.",
            format::count(n, "failed job", "failed jobs"),
        ),
    )
}

#[component]
pub fn RetryFailed(query: Memo<JobsQuery>, tick: RwSignal<u64>) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let counted = LocalResource::new(move || {
        tick.track();
        count_jobs(failed_of(&query.get()))
    });
    let count = last_good(counted);
    let n = move || count.with(|c| c.map_or(0, |c| c.count));
    let offered = move || dash.can_write() && query.with(JobsQuery::shows_failed) && n() > 0;

    // The count the open confirmation states (read when it opens).
    let asking = RwSignal::new(None::<i64>);
    let reason = RwSignal::new(String::new());
    let reason_error = RwSignal::new(None::<String>);
    let reason_node = NodeRef::<html::Input>::new();
    let notice = RwSignal::new(None::<Notice>);
    let notice_box = NodeRef::<html::Div>::new();
    let opening = RwSignal::new(false);
    let retry = ServerAction::<RetryFailedJobs>::new();
    let pending = retry.pending();

    let say = move |n: Notice| {
        notice.set(Some(n));
        request_animation_frame(move || focus(notice_box));
    };
    let open = move |_| {
        notice.set(None);
        opening.set(true);
        let q = failed_of(&query.get_untracked());
        spawn_local(async move {
            let answer = count_jobs(q).await;
            opening.set(false);
            match answer {
                Ok(c) if c.count > 0 => asking.set(Some(c.count)),
                Ok(_) => {
                    tick.update(|t| *t += 1);
                    say(Notice::Conflict(
                        "No failed job matches any more: nothing to retry.".into(),
                    ));
                }
                Err(e) => say(Notice::Error(e.message().to_string())),
            }
        });
    };
    Effect::new(move |_| {
        let Some(answer) = retry.value().get() else {
            return;
        };
        match answer {
            Ok(done) => {
                asking.set(None);
                reason.set(String::new());
                say(Notice::Done(format!(
                    "{} queued again.",
                    format::count(done.retried, "failed job", "failed jobs")
                )));
            }
            Err(AppError(ApiError::Invalid {
                message,
                field: Some(field),
                ..
            })) if field == "reason" => {
                reason_error.set(Some(message));
                request_animation_frame(move || focus(reason_node));
                return;
            }
            // The matching set changed since the confirmation: nothing was
            // retried; the button shows the new count.
            Err(AppError(ApiError::Conflict { message })) => {
                asking.set(None);
                say(Notice::Conflict(message));
            }
            Err(e) if e.is_unreachable() => {
                asking.set(None);
                say(Notice::Error(format!(
                    "Could not reach the server; the retry may not have been applied. ({})",
                    e.message()
                )));
            }
            Err(e) => {
                asking.set(None);
                say(Notice::Error(e.message().to_string()));
            }
        }
        tick.update(|t| *t += 1);
    });
    let question = move || {
        asking
            .get()
            .map(|n| query.with(|q| question(n, q.job_type.as_deref(), q.queue.as_deref())))
    };

    view! {
        <Show when=offered>
            <div class="actions bulk-actions">
                <button
                    type="button"
                    class="btn btn-primary"
                    disabled=move || pending.get() || opening.get()
                    on:click=open
                >
                    {move || label(n())}
                </button>
            </div>
        </Show>
        <NoticeBox id="bulk-notice" notice node=notice_box />
        <ConfirmDialog
            open=Signal::derive(move || asking.with(Option::is_some))
            id="bulk-dialog"
            title=Signal::derive(move || question().map(|q| q.0).unwrap_or_default())
            confirm_label=Signal::derive(move || asking.get().map(|n| format!("Retry {}", format::count(n, "job", "jobs"))).unwrap_or_default())
            confirm_disabled=Signal::derive(move || pending.get() || reason.with(|r| r.trim().is_empty()))
            on_cancel=Callback::new(move |_| {
                asking.set(None);
                reason_error.set(None);
            })
            on_confirm=Callback::new(move |_| {
                let Some(n) = asking.get_untracked() else { return };
                let q = query.get_untracked();
                retry.dispatch(RetryFailedJobs {
                    request: BulkRetryRequest {
                        job_type: q.job_type,
                        queue: q.queue,
                        reason: Some(reason.get_untracked()),
                        expected_count: Some(n),
                    },
                });
            })
        >
            <p>{move || question().map(|q| q.1)}</p>
            <ReasonField id="bulk-reason" placeholder="e.g. mail provider back" value=reason error=reason_error node=reason_node />
        </ConfirmDialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_states_the_count_and_the_filters() {
        assert_eq!(label(1), "Retry 1 failed job");
        assert_eq!(label(3), "Retry 3 failed jobs");
        let (title, body) = question(3, Some("email"), Some("emails"));
        assert_eq!(title, "Retry 3 failed jobs?");
        assert!(body.starts_with("3 failed jobs of type email in queue emails go back"));
        assert!(body.contains("their attempts reset"));
        let (_, body) = question(1, None, None);
        assert!(body.starts_with("1 failed job (every type, every queue) goes back"));
        assert!(body.contains("its attempts reset"));
        let q = JobsQuery::from_address(Some("failed"), Some("email"), None, None);
        let c = failed_of(&q);
        assert_eq!(c.status.as_deref(), Some("failed"));
        assert_eq!(c.job_type.as_deref(), Some("email"));
        assert_eq!(c.queue, None);
    }
}
