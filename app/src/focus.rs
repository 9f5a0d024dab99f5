//! Focus, where the DOM is really needed: moving focus to an element a
//! component holds a [`NodeRef`] to, remembering what had focus before a
//! dialog opened (to give it back), and keeping Tab inside a dialog.

use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{Element, HtmlElement};

/// Moves focus to the element, if it is in the page.
pub fn focus<E>(node: NodeRef<E>)
where
    E: leptos::html::ElementType,
    E::Output: JsCast + Clone + 'static,
{
    if let Some(el) = node.get_untracked() {
        if let Some(el) = el.dyn_ref::<HtmlElement>() {
            let _ = el.focus();
        }
    }
}

/// The element that has focus now (to give focus back to it later).
pub fn focused() -> Option<HtmlElement> {
    document().active_element()?.dyn_into().ok()
}

/// The controls Tab stops at inside `root`, in page order.
fn tab_stops(root: &Element) -> Vec<HtmlElement> {
    const SELECTOR: &str =
        "button:not([disabled]), input:not([disabled]), select:not([disabled]), \
                            textarea:not([disabled]), a[href], [tabindex]:not([tabindex=\"-1\"])";
    let Ok(list) = root.query_selector_all(SELECTOR) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.get(i)?.dyn_into::<HtmlElement>().ok())
        .filter(|el| !el.hidden())
        .collect()
}

/// Where Tab (or Shift+Tab, `back`) goes from the control at `at` among
/// `n` stops, wrapping around; from outside them, to the first (or last).
pub fn next_stop(at: Option<usize>, n: usize, back: bool) -> Option<usize> {
    if n == 0 {
        return None;
    }
    Some(match (at, back) {
        (Some(i), false) => (i + 1) % n,
        (Some(i), true) => (i + n - 1) % n,
        (None, false) => 0,
        (None, true) => n - 1,
    })
}

/// Keeps Tab inside `root`: moves focus to the next (or previous) control.
pub fn cycle_within(root: &Element, back: bool) {
    let stops = tab_stops(root);
    let active = document().active_element();
    let at = stops.iter().position(|el| {
        active
            .as_ref()
            .is_some_and(|a| a == el.unchecked_ref::<Element>())
    });
    if let Some(i) = next_stop(at, stops.len(), back) {
        let _ = stops[i].focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_wraps_around_inside_the_dialog() {
        assert_eq!(next_stop(Some(0), 2, false), Some(1));
        assert_eq!(next_stop(Some(1), 2, false), Some(0));
        assert_eq!(next_stop(Some(0), 2, true), Some(1));
        assert_eq!(next_stop(None, 3, false), Some(0));
        assert_eq!(next_stop(None, 3, true), Some(2));
        assert_eq!(next_stop(None, 0, false), None);
    }
}
