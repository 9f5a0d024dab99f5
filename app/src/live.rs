//! Live updates in the browser: the server-sent event stream, with polling
//! as the fallback, and the timers that keep the page current.
//!
//! Health is judged by what the browser reports, not by silence: the server
//! sends `metrics` only when they change (and SSE keep-alive comments, which
//! JavaScript never sees), so a quiet stream is normal. The stream counts as
//! down on an `error` event or when it is not `OPEN`; while it is down the
//! page polls every `pollIntervalMs`. After `staleAfterMs` of silence the
//! page verifies with one poll rather than assuming the worst; a failed
//! poll is what shows "disconnected".

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventSource, MessageEvent};
use wire::StreamMessage;

use crate::api::{get_drain_view, get_pause_state};
use crate::clock::now_ms;
use crate::state::{Dashboard, Link};

/// Reads the injected config from the page.
pub fn page_config() -> wire::DashboardConfig {
    let json = document()
        .get_element_by_id("lull-config")
        .and_then(|el| el.text_content());
    crate::state::parse_config(json.as_deref())
}

/// Starts the stream and the loop that polls, refreshes the drain view and
/// ticks the clock. Runs for the life of the page.
pub fn start(dash: Dashboard) {
    // New metrics (or a new version) bring a new drain view.
    let metrics = dash.metrics();
    Effect::new(move |_| {
        metrics.track();
        dash.version();
        load_drain(dash);
    });
    crate::auth::check(dash);
    let stream = Stream::new(dash);
    spawn_local(run(dash, stream));
}

async fn sleep(ms: u64) {
    gloo_timers::future::sleep(Duration::from_millis(ms)).await;
}

/// The event source and its one handler. The handler is created once and
/// kept for the life of the page (it is attached again to every new
/// `EventSource`), so reconnecting leaks nothing.
struct Stream {
    url: String,
    source: RefCell<Option<EventSource>>,
    handler: JsValue,
    /// When the stream last delivered a message (or opened), in ms.
    last_message_ms: Cell<i64>,
    /// Poll at the loop's next turn (a stream error, an unknown version).
    poll_now: Cell<bool>,
}

const EVENTS: [&str; 4] = ["open", "error", "state", "metrics"];

impl Stream {
    fn new(dash: Dashboard) -> Rc<Self> {
        Rc::new_cyclic(|this: &Weak<Stream>| {
            let this = this.clone();
            let handler = move |ev: web_sys::Event| {
                if let Some(stream) = this.upgrade() {
                    stream.on_event(dash, &ev);
                }
            };
            Stream {
                url: dash.config.with_value(|c| c.stream_endpoint.clone()),
                source: RefCell::new(None),
                // Lives as long as the page.
                handler: Closure::<dyn Fn(web_sys::Event)>::new(handler).into_js_value(),
                last_message_ms: Cell::new(0),
                poll_now: Cell::new(true),
            }
        })
    }

    fn on_event(&self, dash: Dashboard, ev: &web_sys::Event) {
        let kind = ev.type_();
        if kind == "error" {
            // Polling keeps working through the browser's reconnect
            // attempts; only a page that cannot poll either is stale. A
            // stream the browser gave up on (CLOSED) is reopened by the loop.
            if dash.link.get_untracked() != Link::Polling {
                dash.set_link(Link::Disconnected);
            }
            self.poll_now.set(true);
            return;
        }
        self.last_message_ms.set(now_ms());
        dash.set_link(Link::Live);
        let Some(data) = ev
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string())
        else {
            return;
        };
        match serde_json::from_str::<StreamMessage>(&data) {
            Ok(StreamMessage::State { status }) => {
                dash.apply_status(*status);
            }
            Ok(StreamMessage::Metrics {
                version, metrics, ..
            }) => match dash.version_untracked() {
                Some(v) if version == v => dash.apply_metrics(metrics),
                // A tick from before the version we show: ignore.
                Some(v) if version < v => {}
                // A version we have not seen: fetch it.
                _ => self.poll_now.set(true),
            },
            Err(_) => {}
        }
    }

    fn close(&self) {
        if let Some(old) = self.source.borrow_mut().take() {
            old.close();
        }
    }

    /// Opens a new event source (closing any previous one).
    fn open(&self) {
        self.close();
        if let Ok(es) = EventSource::new(&self.url) {
            for name in EVENTS {
                let _ = es.add_event_listener_with_callback(name, self.handler.unchecked_ref());
            }
            *self.source.borrow_mut() = Some(es);
        }
    }

    fn ready_state(&self) -> Option<u16> {
        self.source.borrow().as_ref().map(|es| es.ready_state())
    }
}

/// Asks the server for the status once; updates the link health.
async fn refresh(dash: Dashboard, stream: &Stream) {
    match get_pause_state().await {
        Ok(status) => {
            dash.apply_status(status);
            if dash.link.get_untracked() == Link::Disconnected {
                let open = stream.ready_state() == Some(EventSource::OPEN);
                dash.set_link(if open { Link::Live } else { Link::Polling });
            }
        }
        Err(e) => {
            dash.set_link(Link::Disconnected);
            if e.is_unauthorized() {
                // The session is gone: the page shows the sign-in form.
                crate::auth::check(dash);
            }
        }
    }
}

/// How often the loop looks at the stream: an error is followed by a poll
/// within this long.
const TURN_MS: i64 = 250;
/// How often the relative times ("3 min ago") move.
const CLOCK_MS: i64 = 5_000;
/// How often the page asks again while some worker has not applied the
/// version on screen: workers report through their heartbeats, which the
/// stream does not carry, so the banner's "Applied by N of M" counts up
/// from these polls.
const ACK_MS: i64 = 1_000;

/// One loop for every timer of the page: polls while the stream is down or
/// when asked, verifies a silent stream, reopens a stream the browser gave
/// up on, refreshes the drain view (its chart and ETA move even when the
/// metrics don't) and ticks the clock.
async fn run(dash: Dashboard, stream: Rc<Stream>) {
    let (poll_ms, stale_ms, drain_ms) = dash.config.with_value(|c| {
        (
            c.poll_interval_ms as i64,
            c.stale_after_ms as i64,
            (c.metrics_tick_ms as i64 * 5).max(5_000),
        )
    });
    let (mut next_poll, mut last_poll, mut next_reopen, mut next_ack) = (0, 0, 0, 0);
    let start = now_ms();
    let (mut next_drain, mut next_clock) = (start + drain_ms, start + CLOCK_MS);
    loop {
        let now = now_ms();
        // Signed out (or not yet known): nothing to show, nothing to ask.
        if !dash.signed_in_untracked() {
            stream.close();
            next_poll = 0;
            sleep(TURN_MS as u64).await;
            continue;
        }
        let state = stream.ready_state();
        if (state.is_none() || state == Some(EventSource::CLOSED)) && now >= next_reopen {
            next_reopen = now + poll_ms;
            stream.open();
        }
        let link = dash.link.get_untracked();
        if link == Link::Live && stream.ready_state() != Some(EventSource::OPEN) {
            dash.set_link(Link::Disconnected);
        }
        let due = match dash.link.get_untracked() {
            // Silence is normal (metrics are sent only when they change):
            // after `staleAfterMs` of it, verify with one poll.
            Link::Live => {
                now - stream.last_message_ms.get() >= stale_ms && now - last_poll >= stale_ms
            }
            Link::Connecting | Link::Polling | Link::Disconnected => now >= next_poll,
        };
        let ack_due = dash.ack_pending_untracked() && now >= next_ack;
        if stream.poll_now.replace(false) || due || ack_due {
            next_ack = now + ACK_MS;
            last_poll = now;
            next_poll = now + poll_ms;
            refresh(dash, &stream).await;
        }
        if now >= next_drain {
            next_drain = now + drain_ms;
            if dash.link.get_untracked() != Link::Disconnected {
                load_drain(dash);
            }
        }
        if now >= next_clock {
            next_clock = now + CLOCK_MS;
            dash.now_ms.set(now);
        }
        sleep(TURN_MS as u64).await;
    }
}

/// Loads the drain view now (also called when the metrics change).
pub fn load_drain(dash: Dashboard) {
    if !dash.signed_in_untracked() {
        return;
    }
    spawn_local(async move {
        if let Ok(view) = get_drain_view().await {
            dash.apply_metrics(view.metrics);
            dash.apply_drain(view);
        }
    });
}

/// Calls `tick` every `every_ms` (read again after each call: a page polls
/// faster while something moves) for as long as the calling component is
/// mounted.
pub fn poll_while_mounted(every_ms: impl Fn() -> u64 + 'static, tick: impl Fn() + 'static) {
    let alive = Arc::new(AtomicBool::new(true));
    let flag = alive.clone();
    on_cleanup(move || flag.store(false, Ordering::Relaxed));
    spawn_local(async move {
        loop {
            sleep(every_ms()).await;
            if !alive.load(Ordering::Relaxed) {
                break;
            }
            tick();
        }
    });
}
