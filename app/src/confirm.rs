//! The one confirmation dialog every risky action goes through (force
//! resume, fleet actions, rolling restarts, job cancel and retry).
//!
//! A modal `role="dialog"`, labelled by its title and described by its
//! body: focus moves to Cancel (the safe choice) when it opens, Tab and
//! Shift+Tab stay inside, Escape and Cancel close it and give focus back to
//! what had it before (the button that opened it). A click on the backdrop
//! keeps focus in the dialog instead of dismissing it by accident.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;

use crate::focus::{cycle_within, focus, focused};

/// A confirmation: shown while `open`; `on_confirm` runs on Continue,
/// `on_cancel` on Cancel or Escape (focus then returns to the opener).
/// `id` prefixes the ids that tie the title and body to the dialog.
#[component]
pub fn ConfirmDialog(
    #[prop(into)] open: Signal<bool>,
    id: &'static str,
    #[prop(into)] title: Signal<String>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    /// The confirming button's text.
    #[prop(into, default = "Continue".into())]
    confirm_label: Signal<String>,
    /// The dismissing button's text (when "Cancel" would be ambiguous).
    #[prop(into, default = "Cancel".into())]
    dismiss_label: Signal<String>,
    /// Continue waits (a typed phrase that does not match yet, a request
    /// in flight).
    #[prop(into, optional)]
    confirm_disabled: Signal<bool>,
    /// What the action will do.
    children: ChildrenFn,
) -> impl IntoView {
    let children = StoredValue::new(children);
    view! {
        <Show when=move || open.get()>
            <Dialog
                id
                title
                on_confirm
                on_cancel
                confirm_label
                dismiss_label
                confirm_disabled
                children=children.get_value()
            />
        </Show>
    }
}

/// The open dialog: created each time it opens, so it can remember the
/// opener and move focus in.
#[component]
fn Dialog(
    id: &'static str,
    title: Signal<String>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    confirm_label: Signal<String>,
    dismiss_label: Signal<String>,
    confirm_disabled: Signal<bool>,
    children: ChildrenFn,
) -> impl IntoView {
    let opener = StoredValue::new_local(focused());
    let dialog = NodeRef::<html::Div>::new();
    let cancel_button = NodeRef::<html::Button>::new();
    // Focus in once the dialog is in the page.
    cancel_button.on_load(move |_| request_animation_frame(move || focus(cancel_button)));
    let cancel = move || {
        on_cancel.run(());
        if let Some(el) = opener.get_value() {
            let _ = el.focus();
        }
    };
    let keydown = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            cancel();
        }
        "Tab" => {
            ev.prevent_default();
            if let Some(root) = dialog.get_untracked() {
                cycle_within(&root, ev.shift_key());
            }
        }
        _ => {}
    };
    let (title_id, desc_id) = (format!("{id}-title"), format!("{id}-desc"));
    let (labelled_by, described_by) = (title_id.clone(), desc_id.clone());
    view! {
        <div
            class="overlay"
            on:keydown=keydown
            on:click=move |ev| {
                // Only the backdrop itself: a click inside the dialog bubbles here too.
                if event_target::<leptos::web_sys::Element>(&ev).class_name() == "overlay" {
                    focus(cancel_button);
                }
            }
        >
            <div
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby=labelled_by
                aria-describedby=described_by
                node_ref=dialog
            >
                <h2 id=title_id>{move || title.get()}</h2>
                <div id=desc_id>{children()}</div>
                <div class="dialog-actions">
                    <button type="button" class="btn" node_ref=cancel_button on:click=move |_| cancel()>
                        {move || dismiss_label.get()}
                    </button>
                    <button
                        type="button"
                        class="btn btn-danger"
                        disabled=move || confirm_disabled.get()
                        on:click=move |_| on_confirm.run(())
                    >
                        {move || confirm_label.get()}
                    </button>
                </div>
            </div>
        </div>
    }
}
