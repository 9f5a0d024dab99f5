//! `/jobs`: the queue's jobs, newest first, filtered by status, type and
//! queue (in the address: `/jobs?status=failed&type=email&queue=emails`),
//! each linking to its own page (`/jobs/{id}`, [`detail`]) where it can be
//! cancelled or retried; operators retry every failed job the filter
//! matches at once ([`bulk`]).
//!
//! The list reads [`JobsQuery`] from the address and asks the server for
//! exactly that.

pub mod bulk;
pub mod detail;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use wire::{Job, JobList, JobSearch, JobStatus};

use crate::audit_page::encode;
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
    /// One type, or all (as typed: the server says when it is not a type).
    pub job_type: Option<String>,
    /// One queue, or all.
    pub queue: Option<String>,
}

impl JobsQuery {
    /// Reads `?status=&type=&queue=&limit=`; anything unreadable falls
    /// back to all / one page, an empty type or queue is all.
    pub fn from_address(
        status: Option<&str>,
        job_type: Option<&str>,
        queue: Option<&str>,
        limit: Option<&str>,
    ) -> Self {
        let given = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        JobsQuery {
            status: status.and_then(JobStatus::parse),
            limit: limit
                .and_then(|l| l.parse().ok())
                .map_or(PAGE, |l: u32| l.clamp(1, MAX)),
            job_type: given(job_type),
            queue: given(queue),
        }
    }

    /// The address of this view of the list.
    pub fn href(&self) -> String {
        let mut query = Vec::new();
        if let Some(s) = self.status {
            query.push(format!("status={}", s.as_str()));
        }
        if let Some(t) = &self.job_type {
            query.push(format!("type={}", encode(t)));
        }
        if let Some(q) = &self.queue {
            query.push(format!("queue={}", encode(q)));
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

    /// The server's query for this view.
    pub fn search(&self) -> JobSearch {
        JobSearch {
            status: self.status.map(|s| s.as_str().to_string()),
            job_type: self.job_type.clone(),
            queue: self.queue.clone(),
            limit: Some(self.limit),
            // The table shows no payloads: the job's own page fetches them.
            include: None,
        }
    }

    /// Whether the view includes failed jobs (what the bulk retry acts on).
    pub fn shows_failed(&self) -> bool {
        matches!(self.status, None | Some(JobStatus::Failed))
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
        query_map.with(|q| {
            JobsQuery::from_address(
                q.get_str("status"),
                q.get_str("type"),
                q.get_str("queue"),
                q.get_str("limit"),
            )
        })
    });
    let tick = RwSignal::new(0u64);
    let jobs = LocalResource::new(move || {
        tick.track();
        let q = query.get();
        crate::api::get_jobs(q.search())
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
                <bulk::RetryFailed query tick />
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
                                    <th scope="col">"Queue"</th>
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
                                    <tr><td colspan="8" class="muted">"No job matches."</td></tr>
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

/// The filters: status, type and queue, each a new address (so Back
/// undoes it).
#[component]
fn Toolbar(query: Memo<JobsQuery>) -> impl IntoView {
    let navigate = use_navigate();
    let go = move |q: JobsQuery| navigate(&q.href(), NavigateOptions::default());
    let (go_status, go_type, go_queue) = (go.clone(), go.clone(), go);
    // The queues that exist, for the queue filter (and the one in the
    // address, should it have none yet).
    let queues = LocalResource::new(crate::api::get_queues);
    let names = move || {
        let mut names: Vec<String> = queues
            .with(|r| {
                r.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map(|l| l.queues.iter().map(|q| q.name.clone()).collect())
            })
            .unwrap_or_default();
        if let Some(q) = query.with(|q| q.queue.clone()) {
            if !names.contains(&q) {
                names.push(q);
            }
        }
        names
    };
    view! {
        <form class="fleet-tools filters" role="search" aria-label="Filter the jobs" on:submit=|ev| ev.prevent_default()>
            <div class="field">
                <label for="jobs-status">"Status"</label>
                <select
                    id="jobs-status"
                    prop:value=move || query.with(|q| q.status.map(JobStatus::as_str).unwrap_or_default())
                    on:change=move |ev| {
                        let status = JobStatus::parse(&event_target_value(&ev));
                        go_status(JobsQuery { status, ..query.get_untracked() });
                    }
                >
                    <option value="">"All"</option>
                    {JobStatus::ALL.map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="jobs-type">"Type"</label>
                <input
                    type="search"
                    id="jobs-type"
                    autocomplete="off"
                    placeholder="every type"
                    prop:value=move || query.with(|q| q.job_type.clone().unwrap_or_default())
                    on:change=move |ev| {
                        let t = event_target_value(&ev);
                        let job_type = JobsQuery::from_address(None, Some(&t), None, None).job_type;
                        go_type(JobsQuery { job_type, ..query.get_untracked() });
                    }
                />
            </div>
            <div class="field">
                <label for="jobs-queue">"Queue"</label>
                <select
                    id="jobs-queue"
                    prop:value=move || query.with(|q| q.queue.clone().unwrap_or_default())
                    on:change=move |ev| {
                        let name = event_target_value(&ev);
                        let queue = (!name.is_empty()).then_some(name);
                        go_queue(JobsQuery { queue, ..query.get_untracked() });
                    }
                >
                    <option value="">"All"</option>
                    <For each=names key=|n| n.clone() let:name>
                        <option value=name.clone()>{name.clone()}</option>
                    </For>
                </select>
            </div>
        </form>
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
            <td data-col="type">{cell(|j| j.job_type.clone())}</td>
            <td data-col="queue">{cell(|j| j.queue.clone())}</td>
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
        let q = JobsQuery::from_address(Some("failed"), None, None, None);
        assert_eq!(
            q,
            JobsQuery {
                status: Some(JobStatus::Failed),
                limit: PAGE,
                job_type: None,
                queue: None,
            }
        );
        assert_eq!(q.href(), "/jobs?status=failed");
        let q = JobsQuery::from_address(Some("nonsense"), None, None, Some("9999"));
        assert_eq!(
            q,
            JobsQuery {
                status: None,
                limit: MAX,
                job_type: None,
                queue: None,
            }
        );
        assert_eq!(q.href(), "/jobs?limit=500");
        assert_eq!(
            JobsQuery::from_address(None, None, None, Some("x")).href(),
            "/jobs"
        );
    }

    #[test]
    fn type_and_queue_are_in_the_address_too() {
        let q = JobsQuery::from_address(Some("failed"), Some(" email "), Some("emails"), None);
        assert_eq!(q.job_type.as_deref(), Some("email"));
        assert_eq!(q.href(), "/jobs?status=failed&type=email&queue=emails");
        assert!(q.shows_failed());
        let s = q.search();
        assert_eq!(s.job_type.as_deref(), Some("email"));
        assert_eq!(s.queue.as_deref(), Some("emails"));
        assert_eq!(s.status.as_deref(), Some("failed"));
        let q = JobsQuery::from_address(Some("queued"), Some(""), Some(""), None);
        assert_eq!((q.job_type.clone(), q.queue.clone()), (None, None));
        assert!(!q.shows_failed());
        assert_eq!(
            JobsQuery::from_address(None, Some("a/b:c"), None, None).href(),
            "/jobs?type=a%2Fb%3Ac"
        );
    }
}
