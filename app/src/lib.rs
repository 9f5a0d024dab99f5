//! The Lull dashboard: Leptos components (client-side rendered in the
//! browser) and the `#[server]` functions they call.
//!
//! Server functions reach the server's core service through context (a
//! [`ssr::DashboardBackend`] trait object the server provides), so the
//! dashboard and the REST API run the same code and nothing is written twice.

pub mod api;
mod banner;

#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;

pub use banner::WorkersBanner;

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header class="top">
            <h1>"Lull"</h1>
            <WorkersBanner/>
        </header>
        <main id="main"></main>
    }
}
