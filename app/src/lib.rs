//! The Lull dashboard: Leptos components (client-side rendered in the
//! browser, routed with `leptos_router`) and the `#[server]` functions they
//! call.
//!
//! Server functions reach the server's core service through context (a
//! [`ssr::DashboardBackend`] trait object the server provides), so the
//! dashboard and the REST API run the same code; they take and return the
//! `wire` types and refuse with [`error::AppError`] (the API's
//! [`wire::ApiError`]).
//!
//! The layout (header, Workers banner, live-connection indicator, the
//! navigation) is on every route: `/` the overview, `/workers` the fleet,
//! `/jobs` and `/jobs/{id}` the queue, `/audit` the control log. What every
//! page reads (pause status, metrics, drain view, session) is one shared
//! [`state::Dashboard`], fed by the server-sent event stream with polling
//! as the fallback ([`live`], browser only); what one page shows is its own.

pub mod api;
mod audit;
mod audit_page;
mod auth;
mod banner;
mod clock;
mod confirm;
mod controls;
mod drain;
pub mod error;
pub mod estimate;
#[cfg(test)]
mod fixtures;
mod focus;
mod force_resume;
pub mod format;
mod jobs;
mod overview;
mod pause_impact;
mod queues;
pub mod state;
mod until;
mod widgets;
mod workers;

#[cfg(feature = "csr")]
mod live;

/// Outside the browser nothing is live: the components still build (the
/// server links them with its server functions) but never run.
#[cfg(not(feature = "csr"))]
mod live {
    use crate::state::Dashboard;

    pub fn page_config() -> wire::DashboardConfig {
        crate::state::default_config()
    }

    pub fn start(_: Dashboard) {}

    pub fn load_drain(_: Dashboard) {}

    pub fn poll_while_mounted(_: impl Fn() -> u64 + 'static, _: impl Fn() + 'static) {}
}

#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

use crate::state::Dashboard;

/// The whole page: the header on every route, then the sign-in form (token
/// mode, signed out) or the route's page.
#[component]
pub fn App() -> impl IntoView {
    let dash = Dashboard::new(live::page_config());
    provide_context(dash);
    live::start(dash);
    let needs_sign_in = move || dash.session.with(state::Session::needs_sign_in);
    view! {
        <Router>
            // The browser's own fragment navigation moves focus to <main>.
            <a class="skip" href="#main" rel="external">"Skip to the content"</a>
            <Header />
            <Show when=needs_sign_in>
                <main id="main" tabindex="-1">
                    <auth::SignIn />
                </main>
            </Show>
            <Show when=move || dash.signed_in()>
                <main id="main" tabindex="-1">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=overview::Overview />
                        <Route path=path!("/workers") view=workers::WorkersPage />
                        <Route path=path!("/jobs") view=jobs::JobsPage />
                        <Route path=path!("/jobs/:id") view=jobs::detail::JobPage />
                        <Route path=path!("/audit") view=audit_page::AuditPage />
                    </Routes>
                </main>
            </Show>
        </Router>
    }
}

/// The title, the live indicator, the session bar, and (signed in) the
/// Workers banner and the navigation.
#[component]
fn Header() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    view! {
        <header class="top">
            <div class="top-row">
                <h1>"Lull" <span class="subtitle">" — worker control"</span></h1>
                <banner::LinkIndicator />
                <auth::SessionBar />
            </div>
            <Show when=move || dash.signed_in()>
                <banner::Banner />
                <nav class="tabs" aria-label="Sections">
                    <A href="/" exact=true>"Overview"</A>
                    <A href="/workers">"Workers"</A>
                    <A href="/jobs">"Jobs"</A>
                    <A href="/audit">"Audit log"</A>
                </nav>
            </Show>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <div class="page">
            <section class="card" aria-labelledby="missing-h">
                <h2 id="missing-h">"No such page"</h2>
                <p>"The dashboard has no page at this address. " <A href="/">"Go to the overview"</A></p>
            </section>
        </div>
    }
}
