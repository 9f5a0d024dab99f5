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
mod dom;
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

/// The page around the sections: the header (banner, tabs, session) and
/// the two tabs' places.
const HEADER_START: &str = concat!(
    r##"<a class="skip" href="#main">Skip to the content</a><header class="top"><div class="top-row">"##,
    r#"<h1>Lull<span class="subtitle"> — worker control</span></h1>"#,
);
const TABS: &str = concat!(
    r##"<nav class="tabs" aria-label="Sections"><a href="#/" id="tab-overview">Overview</a>"##,
    r##"<a href="#/workers" id="tab-workers">Workers</a></nav></div></header>"##,
);

/// The page's markup: every section's skeleton in its place.
pub fn page_html() -> String {
    let controls = controls::HTML.concat();
    [
        HEADER_START,
        banner::LINK_HTML,
        auth::SESSION_HTML,
        r#"</div><div id="top-rest" hidden>"#,
        banner::BANNER_HTML,
        TABS,
        auth::SIGNIN_HTML,
        r#"<main id="main" tabindex="-1" hidden><div class="grid" id="overview"><div class="col"><div id="controls-wrap" hidden>"#,
        &controls,
        r#"</div>"#,
        drain::HTML,
        r#"</div><div class="col">"#,
        audit::HTML,
        r#"</div></div><div class="page" id="workers-page" hidden>"#,
        workers::HTML,
        r#"</div></main>"#,
    ]
    .concat()
}

/// The whole page: the sign-in form (token mode), or the header and the
/// overview or Workers tab (`#/workers`). Its markup goes into `<body>`,
/// then each section binds its parts to the shared state (see [`dom`]).
#[component]
pub fn App() -> impl IntoView {
    let dash = state::Dashboard::new(live::page_config());
    provide_context(dash);
    dom::mount(&page_html());

    banner::bind_link(dash);
    auth::bind(dash);
    banner::bind_banner(dash);
    controls::bind(dash);
    drain::bind(dash);
    audit::bind(dash);
    workers::bind(dash);

    let tab = dash.workers_tab;
    let out = move || !dash.session.with(|s| s.signed_in);
    dom::flag("top-rest", "hidden", out);
    dom::flag("main", "hidden", out);
    dom::flag("overview", "hidden", move || tab.get());
    dom::flag("workers-page", "hidden", move || !tab.get());
    dom::flag("controls-wrap", "hidden", move || !dash.can_write());
    dom::attr("tab-overview", "aria-current", move || {
        (!tab.get()).then(|| "page".into())
    });
    dom::attr("tab-workers", "aria-current", move || {
        tab.get().then(|| "page".into())
    });

    live::start(dash);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `id="…"` values of the markup.
    fn ids(html: &str) -> Vec<&str> {
        html.split(" id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn every_id_in_the_page_is_unique() {
        let page = page_html();
        let mut seen = std::collections::HashSet::new();
        for id in ids(&page) {
            assert!(seen.insert(id), "id {id:?} appears twice");
        }
        assert!(seen.len() > 50, "{} ids", seen.len());
    }

    #[test]
    fn every_element_of_the_page_is_closed() {
        let page = page_html();
        for tag in [
            "a", "header", "div", "h1", "h2", "h3", "span", "p", "nav", "main", "section", "form",
            "fieldset", "legend", "label", "button", "select", "option", "strong", "code", "ul",
        ] {
            let open = page.matches(&format!("<{tag}>")).count()
                + page.matches(&format!("<{tag} ")).count();
            let close = page.matches(&format!("</{tag}>")).count();
            assert_eq!(open, close, "<{tag}>: {open} opened, {close} closed");
        }
    }

    /// Every id a binding or a handler looks up (a literal in a `dom::`
    /// call, or an `*_ID` constant) is in the page: a typo would leave a
    /// control dead without any error.
    #[test]
    fn every_bound_id_is_in_the_page() {
        let page = page_html();
        // Plus what the banner renders while paused (its ticking time).
        let status: wire::WorkerPauseStatus = serde_json::from_str(
            r#"{"workersPaused":true,"mode":"drain","reason":"r","version":2,"requestedBy":"a",
            "requestedAt":"2026-11-22T19:47:28Z","updatedAt":"2026-11-22T19:47:28Z",
            "metrics":{"queued":0,"running":0,"staleRunning":0,"isDrained":true},"audit":{"latest":[]}}"#,
        )
        .unwrap();
        let banner = banner::banner_html(Some(&status), false, 0);
        let present: std::collections::HashSet<&str> =
            ids(&page).into_iter().chain(ids(&banner)).collect();
        let sources = [
            include_str!("lib.rs"),
            include_str!("banner.rs"),
            include_str!("auth.rs"),
            include_str!("controls.rs"),
            include_str!("confirm.rs"),
            include_str!("drain.rs"),
            include_str!("audit.rs"),
            include_str!("workers.rs"),
        ];
        let mut checked = 0;
        for src in sources {
            for call in [
                "attr(\"",
                "flag(\"",
                "text(\"",
                "html(\"",
                "checked(\"",
                "value(\"",
                "on(\"",
                "focus(\"",
                "by_id(\"",
                "input(\"",
            ] {
                for rest in src.split(&format!("dom::{call}")).skip(1) {
                    let id = rest.split('"').next().unwrap_or_default();
                    assert!(present.contains(id), "{call}{id}: no such id in the page");
                    checked += 1;
                }
            }
            for line in src
                .lines()
                .filter(|l| l.starts_with("const ") && l.contains("_ID: &str = \""))
            {
                let id = line.split('"').nth(1).unwrap_or_default();
                assert!(present.contains(id), "{line}: no such id in the page");
                checked += 1;
            }
        }
        assert!(checked > 60, "only {checked} ids checked");
    }
}
