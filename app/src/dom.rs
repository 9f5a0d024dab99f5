//! The page's markup is static HTML (each section's skeleton is a
//! `&'static str` in its module) brought to life by *bindings*: an
//! attribute, a property, a text or an HTML block that follows a reactive
//! function, and event handlers. Both are found by element id.
//!
//! Why not Leptos' `view!` for the page: every element, attribute, reactive
//! closure and event handler of a view is its own type, and each type costs
//! its own copy of the renderer's generic build, rebuild and attach code.
//! With the Workers tab and sign-in the page needed 186 KB of gzipped WASM
//! against its 150 KB budget. Here every binding goes through one boxed
//! function type, so the generic code exists once, and the markup costs no
//! more than its bytes. The reactivity is still Leptos' (signals, memos,
//! effects) and the data still comes through its server functions.
//!
//! A binding touches the page only when its value changed (the previous
//! value is kept), so a clock tick or a poll that brings nothing new
//! re-renders nothing and focus is never lost to an identical update.

use leptos::prelude::*;
use leptos::wasm_bindgen::closure::Closure;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{Element, Event, HtmlElement, HtmlInputElement};

/// Where a bound value goes.
#[derive(Clone, Copy)]
enum Sink {
    /// The attribute is set to the value, or removed when there is none.
    Attr(&'static str),
    /// The element's text (none: empty).
    Text,
    /// The element's HTML (from [`crate::html::Html`]: escaped).
    Html,
    /// `checked` of an input (some: checked).
    Checked,
    /// `value` of an input.
    Value,
}

type Compute = Box<dyn Fn() -> Option<String>>;

pub fn by_id(id: &str) -> Option<Element> {
    document().get_element_by_id(id)
}

pub fn input(id: &str) -> Option<HtmlInputElement> {
    by_id(id)?.dyn_into().ok()
}

/// Moves focus to the element, when it exists and can take it.
pub fn focus(id: &str) {
    if let Some(el) = by_id(id).and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
        let _ = el.focus();
    }
}

/// Keeps focus inside a dialog: moves it to the next (or, `back`, the
/// previous) of `order`, wrapping around; from outside it, to the first
/// (or last).
pub fn cycle_focus(order: &[&str], back: bool) {
    let n = order.len();
    if n == 0 {
        return;
    }
    let active = focused_id();
    let next = match (order.iter().position(|id| *id == active), back) {
        (Some(i), false) => (i + 1) % n,
        (Some(i), true) => (i + n - 1) % n,
        (None, false) => 0,
        (None, true) => n - 1,
    };
    focus(order[next]);
}

/// The id of the focused element ("" when none).
pub fn focused_id() -> String {
    document()
        .active_element()
        .map(|e| e.id())
        .unwrap_or_default()
}

fn apply(id: &str, sink: Sink, value: Option<&str>) {
    let Some(el) = by_id(id) else { return };
    match (sink, value) {
        (Sink::Attr(name), Some(v)) => {
            let _ = el.set_attribute(name, v);
        }
        (Sink::Attr(name), None) => {
            let _ = el.remove_attribute(name);
        }
        (Sink::Text, v) => el.set_text_content(v),
        (Sink::Html, v) => el.set_inner_html(v.unwrap_or_default()),
        (Sink::Checked, v) => {
            if let Some(i) = el.dyn_ref::<HtmlInputElement>() {
                i.set_checked(v.is_some());
            }
        }
        (Sink::Value, v) => {
            if let Some(i) = el.dyn_ref::<HtmlInputElement>() {
                let v = v.unwrap_or_default();
                if i.value() != v {
                    i.set_value(v);
                }
            }
        }
    }
}

/// The one effect type behind every binding.
fn bind(id: &'static str, sink: Sink, f: Compute) {
    Effect::new(move |prev: Option<Option<String>>| {
        let value = f();
        if prev.as_ref() != Some(&value) {
            apply(id, sink, value.as_deref());
        }
        value
    });
}

/// The attribute `name` follows `f` (absent while `f` gives `None`).
pub fn attr(id: &'static str, name: &'static str, f: impl Fn() -> Option<String> + 'static) {
    bind(id, Sink::Attr(name), Box::new(f));
}

/// A boolean attribute (`hidden`, `disabled`) follows `f`.
pub fn flag(id: &'static str, name: &'static str, f: impl Fn() -> bool + 'static) {
    bind(
        id,
        Sink::Attr(name),
        Box::new(move || f().then(String::new)),
    );
}

/// The element's text follows `f`.
pub fn text(id: &'static str, f: impl Fn() -> String + 'static) {
    bind(id, Sink::Text, Box::new(move || Some(f())));
}

/// The element's HTML follows `f` (escaped by its writer).
pub fn html(id: &'static str, f: impl Fn() -> String + 'static) {
    bind(id, Sink::Html, Box::new(move || Some(f())));
}

/// The input's `checked` follows `f`.
pub fn checked(id: &'static str, f: impl Fn() -> bool + 'static) {
    bind(id, Sink::Checked, Box::new(move || f().then(String::new)));
}

/// The input's `value` follows `f` (left alone while it already matches,
/// so typing is never disturbed).
pub fn value(id: &'static str, f: impl Fn() -> String + 'static) {
    bind(id, Sink::Value, Box::new(move || Some(f())));
}

/// Calls `f` for every `kind` event on the element or inside it (handlers
/// delegate by the target's id or `data-*` attributes). Lives as long as
/// the page.
pub fn on(id: &str, kind: &str, f: impl Fn(Event) + 'static) {
    let Some(el) = by_id(id) else { return };
    let handler = Closure::<dyn Fn(Event)>::new(f).into_js_value();
    let _ = el.add_event_listener_with_callback(kind, handler.unchecked_ref());
}

/// The element an event came from.
pub fn target(ev: &Event) -> Option<Element> {
    ev.target()?.dyn_into().ok()
}

/// The nearest element (the target or an ancestor) with attribute `name`,
/// and that attribute's value.
pub fn closest(ev: &Event, name: &str) -> Option<(Element, String)> {
    let el = target(ev)?.closest(&format!("[{name}]")).ok()??;
    let value = el.get_attribute(name)?;
    Some((el, value))
}

/// Puts the page's markup at the end of `<body>`.
pub fn mount(markup: &str) {
    if let Some(body) = document().body() {
        let _ = body.insert_adjacent_html("beforeend", markup);
    }
}
