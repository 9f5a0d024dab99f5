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
mod banner;
mod clock;
mod confirm;
mod controls;
mod drain;
pub mod format;
mod html;
pub mod state;

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
}

#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;

pub use banner::{LinkIndicator, WorkersBanner};

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let dash = state::Dashboard::new(live::page_config());
    provide_context(dash);
    live::start(dash);
    view! {
        <a class="skip" href="#main">"Skip to the controls"</a>
        <header class="top">
            <div class="top-row">
                <h1>"Lull" <span class="subtitle">" — worker control"</span></h1>
                <LinkIndicator/>
            </div>
            <WorkersBanner/>
        </header>
        <main id="main" class="grid" tabindex="-1">
            <div class="col">
                <controls::Controls/>
                <drain::DrainCard/>
            </div>
            <div class="col">
                <audit::AuditHistory/>
            </div>
        </main>
    }
}
