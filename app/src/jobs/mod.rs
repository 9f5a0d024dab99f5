//! `/jobs`: the queue's jobs, newest first, filtered by status (in the
//! address: `/jobs?status=failed`), each linking to its own page
//! (`/jobs/{id}`, [`detail`]) where it can be cancelled or retried.
//!
//! The list reads [`JobsQuery`] from the address and asks the server for
//! exactly that; more filters (type, queue), cursor paging and a bulk retry
//! of the failed jobs matching the filter belong in [`JobsQuery`] and the
//! toolbar ([`Toolbar`]) once the server can answer them.

pub mod detail;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use wire::{Job, JobList, JobStatus};

use crate::auth::last_good;
use crate::format;

/// How many jobs a page asks for, and the most it may ask for.
const PAGE: u32 = 100;
const MAX: u32 = 500;

/// What the list shows, as the address says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsQuery {
    /// One status, or all.
    pub status: Option<JobStatus>,
    /// How many of the newest jobs to show.
    pub limit: u32,
}

impl JobsQuery {
    /// Reads `?status=&limit=`; anything unreadable falls back to all / one
    /// page.
    pub fn parse(status: Option<&str>, limit: Option<&str>) -> Self {
        JobsQuery {
            status: status.and_then(JobStatus::parse),
            limit: limit
                .and_then(|l| l.parse().ok())
                .map_or(PAGE, |l: u32| l.clamp(1, MAX)),
        }
    }

    /// The address of this view of the list.
    pub fn href(&self) -> String {
        let mut query = Vec::new();
        if let Some(s) = self.status {
            query.push(format!("status={}", s.as_str()));
        }
        if self.limit != PAGE {
            query.push(format!("limit={}", self.limit));
        }
        if query.is_empty() {
            "/jobs".into()
        } else {
            format!("/jobs?{}", query.join("&"))
        }
    }
}

/// The list page's data, shared with its rows.
#[derive(Clone, Copy)]
struct Jobs {
    list: Memo<Option<JobList>>,
}

#[component]
pub fn JobsPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        query_map.with(|q| JobsQuery::parse(q.get_str("status"), q.get_str("limit")))
    });
    let tick = RwSignal::new(0u64);
    let jobs = LocalResource::new(move || {
        tick.track();
        let q = query.get();
        crate::api::get_jobs(q.status, Some(q.limit))
    });
    let list = last_good(jobs);
    provide_context(Jobs { list });
    crate::live::poll_while_mounted(|| 3_000, move || tick.update(|t| *t += 1));
    let ids = Memo::new(move |_| {
        list.with(|l| {
            l.as_ref()
                .map(|l| l.jobs.iter().map(|j| j.id).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    });
    let loaded = move || list.with(Option::is_some);
    let error = move || {
        jobs.with(|r| {
            r.as_ref()
                .and_then(|r| r.as_ref().err().map(|e| e.message().to_string()))
        })
    };
    let full = move || ids.with(Vec::len) as u32 >= query.with(|q| q.limit);

    view! {
        <div class="page">
            <section class="card jobs-page" aria-labelledby="jobs-h">
                <h2 id="jobs-h">"Jobs"</h2>
                <Toolbar query />
                <p class="field-error" role="alert">{error}</p>
                <Show when=loaded fallback=|| view! { <p class="muted">"Loading the jobs…"</p> }>
                    <div class="table-wrap">
                        <table class="fleet jobs-table" id="jobs">
                            <caption>
                                {move || format!(
                                    "{}, newest first",
                                    format::count(ids.with(Vec::len) as i64, "job", "jobs"),
                                )}
                            </caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Job"</th>
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Status"</th>
                                    <th scope="col">"Attempts"</th>
                                    <th scope="col">"Worker"</th>
                                    <th scope="col">"Created"</th>
                                    <th scope="col">"Updated"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || ids.get() key=|id| *id children=|id| view! { <JobRow id /> } />
                                <Show when=move || ids.with(Vec::is_empty)>
                                    <tr><td colspan="7" class="muted">"No job matches."</td></tr>
                                </Show>
                            </tbody>
                        </table>
                    </div>
                    <Show when=move || full() && query.with(|q| q.limit < MAX)>
                        <A href=move || JobsQuery { limit: (query.with(|q| q.limit) + PAGE).min(MAX), ..query.get() }.href() {..} class="btn">
                            "Show more jobs"
                        </A>
                    </Show>
                </Show>
            </section>
        </div>
    }
}

/// The filters (and, later, the bulk actions on what they select).
#[component]
fn Toolbar(query: Memo<JobsQuery>) -> impl IntoView {
    let navigate = use_navigate();
    view! {
        <div class="fleet-tools">
            <div class="field">
                <label for="jobs-status">"Status"</label>
                <select
                    id="jobs-status"
                    prop:value=move || query.with(|q| q.status.map(JobStatus::as_str).unwrap_or_default())
                    on:change=move |ev| {
                        let status = JobStatus::parse(&event_target_value(&ev));
                        let q = JobsQuery { status, ..query.get_untracked() };
                        navigate(&q.href(), NavigateOptions::default());
                    }
                >
                    <option value="">"All"</option>
                    {JobStatus::ALL.map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </div>
        </div>
    }
}

/// One job's row; its cells follow the job as it changes.
#[component]
fn JobRow(id: uuid::Uuid) -> impl IntoView {
    let jobs = expect_context::<Jobs>();
    let job = Memo::new(move |_| {
        jobs.list.with(|l| {
            l.as_ref()
                .and_then(|l| l.jobs.iter().find(|j| j.id == id).cloned())
        })
    });
    let cell =
        move |f: fn(&Job) -> String| move || job.with(|j| j.as_ref().map(f).unwrap_or_default());
    let status = cell(|j| j.status.as_str().to_string());
    let text = id.to_string();
    let (short, label) = (format::short_id(&text).to_string(), format!("Job {text}"));
    let row_id = text.clone();
    view! {
        <tr data-job-id=row_id>
            <th scope="row">
                <A href=format!("/jobs/{id}") {..} title=text aria-label=label>
                    <code>{short}</code>
                </A>
            </th>
            <td>{cell(|j| j.job_type.clone())}</td>
            <td data-col="status"><span class="state" data-state=status>{status}</span></td>
            <td>{cell(|j| format!("{} of {}", j.attempts, j.max_attempts))}</td>
            <td>{cell(|j| j.worker_id.clone().unwrap_or_else(|| "–".into()))}</td>
            <td>{move || job.with(|j| j.as_ref().map(|j| view! { <crate::widgets::Time at=j.created_at /> }))}</td>
            <td>{move || job.with(|j| j.as_ref().map(|j| view! { <crate::widgets::Time at=j.updated_at /> }))}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_says_what_the_list_shows() {
        let q = JobsQuery::parse(Some("failed"), None);
        assert_eq!(
            q,
            JobsQuery {
                status: Some(JobStatus::Failed),
                limit: PAGE
            }
        );
        assert_eq!(q.href(), "/jobs?status=failed");
        let q = JobsQuery::parse(Some("nonsense"), Some("9999"));
        assert_eq!(
            q,
            JobsQuery {
                status: None,
                limit: MAX
            }
        );
        assert_eq!(q.href(), "/jobs?limit=500");
        assert_eq!(JobsQuery::parse(None, Some("x")).href(), "/jobs");
    }
}
