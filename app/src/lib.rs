//! The Lull dashboard: Leptos components (client-side rendered in the
//! browser) and the `#[server]` functions they call.
//!
//! Server functions reach the server's core service through context (a
//! [`ssr::DashboardBackend`] trait object the server provides), so the
//! dashboard and the REST API run the same code and nothing is written twice.
//!
//! The page: the global Workers banner with the live-connection indicator,
//! the pause/resume controls (with the force-resume confirmation), the drain
//! card, and the audit history. All of it reads one shared
//! [`state::Dashboard`], fed by the server-sent event stream with polling as
//! the fallback ([`live`], browser only).

pub mod api;
mod audit;
mod auth;
mod banner;
mod clock;
mod confirm;
mod controls;
mod drain;
pub mod format;
mod html;
pub mod state;
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

    pub fn load_fleet(_: Dashboard) {}
}

#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;

pub use banner::{LinkIndicator, WorkersBanner};

/// The whole page: the sign-in form (token mode), or the header and the
/// overview or Workers tab (`#/workers`).
#[component]
pub fn App() -> impl IntoView {
    let dash = state::Dashboard::new(live::page_config());
    provide_context(dash);
    live::start(dash);
    let tab = dash.workers_tab;
    let out = move || !dash.session.with(|s| s.signed_in);
    let current = move |workers: bool| (tab.get() == workers).then_some("page");
    view! {
        <a class="skip" href="#main">"Skip to the content"</a>
        <header class="top">
            <div class="top-row">
                <h1>"Lull" <span class="subtitle">" — worker control"</span></h1>
                <LinkIndicator/>
                <auth::SessionBar/>
            </div>
            <div hidden=out>
                <WorkersBanner/>
                <nav class="tabs" aria-label="Sections">
                    <a href="#/" aria-current=move || current(false)>"Overview"</a>
                    <a href="#/workers" aria-current=move || current(true)>"Workers"</a>
                </nav>
            </div>
        </header>
        <auth::SignIn/>
        <main id="main" tabindex="-1" hidden=out>
            <div class="grid" hidden=move || tab.get()>
                <div class="col">
                    <div hidden=move || !dash.can_write()>
                        <controls::Controls/>
                    </div>
                    <drain::DrainCard/>
                </div>
                <div class="col">
                    <audit::AuditHistory/>
                </div>
            </div>
            <div class="page" hidden=move || !tab.get()>
                <workers::WorkersTab/>
            </div>
        </main>
    }
}
