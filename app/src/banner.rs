//! The global Workers banner: is the fleet running or paused, why, by whom,
//! since when, at which version.

use leptos::prelude::*;
use wire::WorkerPauseStatus;

use crate::api::get_pause_state;

/// How often the banner refreshes while the page is open.
const REFRESH_MS: u64 = 2000;

/// "Workers: Running" / "Workers: Paused (Drain)" / "Workers: Paused (Quiesce)".
pub fn banner_title(status: &WorkerPauseStatus) -> String {
    match (status.workers_paused, status.mode) {
        (false, _) => "Workers: Running".to_string(),
        (true, Some(wire::PauseMode::Quiesce)) => "Workers: Paused (Quiesce)".to_string(),
        (true, _) => "Workers: Paused (Drain)".to_string(),
    }
}

#[component]
pub fn WorkersBanner() -> impl IntoView {
    let (status, set_status) = signal(None::<WorkerPauseStatus>);
    let (error, set_error) = signal(None::<String>);

    let refresh = move || {
        leptos::task::spawn_local(async move {
            match get_pause_state().await {
                Ok(s) => {
                    set_error.set(None);
                    // Version-aware: only a new version re-renders the banner.
                    let changed = status.with_untracked(|old| {
                        old.as_ref()
                            .is_none_or(|o| o.version != s.version || o.metrics != s.metrics)
                    });
                    if changed {
                        set_status.set(Some(s));
                    }
                }
                Err(e) => set_error.set(Some(e.to_string())),
            }
        });
    };
    refresh();
    #[cfg(feature = "csr")]
    {
        leptos::task::spawn_local(async move {
            loop {
                gloo_timers::future::sleep(std::time::Duration::from_millis(REFRESH_MS)).await;
                refresh();
            }
        });
    }
    let _ = REFRESH_MS;

    view! {
        <section class="banner" role="status" aria-live="polite"
            data-paused=move || status.with(|s| s.as_ref().map(|s| s.workers_paused.to_string()).unwrap_or_default())>
            {move || match status.get() {
                None => view! { <p class="banner-title">"Workers: …"</p> }.into_any(),
                Some(s) => view! {
                    <p class="banner-title">{banner_title(&s)}</p>
                    <p class="banner-detail">
                        {s.reason.clone().map(|r| format!("Reason: {r}")).unwrap_or_default()}
                        " "
                        {s.requested_by.clone().map(|a| format!("by {a}")).unwrap_or_default()}
                        " "
                        {s.requested_at.map(|t| format!("since {}", t.format("%Y-%m-%d %H:%M:%S UTC"))).unwrap_or_default()}
                        " · version " <span class="banner-version">{s.version}</span>
                    </p>
                    <p class="banner-metrics">
                        "queued " {s.metrics.queued} " · running " {s.metrics.running}
                        " · stale " {s.metrics.stale_running}
                        {if s.metrics.is_drained { " · drained" } else { "" }}
                    </p>
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="banner-error" role="alert">"Server unreachable: " {e}</p> })}
        </section>
    }
}
