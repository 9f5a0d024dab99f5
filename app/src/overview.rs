//! `/`: the pause and resume forms (operators), the drain card, the
//! Queues card and the recent audit history. The banner above is the layout's, on every page.

use leptos::prelude::*;

use crate::audit::AuditHistory;
use crate::controls::PauseControls;
use crate::drain::DrainCard;
use crate::queues::QueuesCard;
use crate::state::Dashboard;

#[component]
pub fn Overview() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    view! {
        <div class="grid">
            <div class="col">
                <Show when=move || dash.can_write()>
                    <PauseControls />
                </Show>
                <DrainCard />
                <QueuesCard />
            </div>
            <div class="col">
                <AuditHistory />
            </div>
        </div>
    }
}
