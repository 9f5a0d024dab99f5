//! Sign-in (token mode): the form, the "Signed in as …" bar with Sign out,
//! and the check that sends the page back to the form when a call was
//! refused for want of a session.
//!
//! The `/auth/*` endpoints are plain JSON over the browser's `fetch` (not
//! server functions): the server sets and clears the HttpOnly session
//! cookie, which the page itself never sees.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use crate::dom;
use crate::state::{Dashboard, Session};

/// `GET /auth/me` and the answer to a sign-in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    signed_in: bool,
    name: Option<String>,
    role: Option<String>,
}

/// `{"error": {"message": …}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

const TOKEN_ID: &str = "token";

fn session_of(body: &str) -> Option<Session> {
    let me: Me = serde_json::from_slice(body.as_bytes()).ok()?;
    Some(Session {
        token_mode: true,
        known: true,
        signed_in: me.signed_in,
        name: me.name.unwrap_or_default(),
        role: me.role.unwrap_or_default(),
    })
}

fn set_session(dash: Dashboard, s: Session) {
    if dash.session.with_untracked(|c| *c != s) {
        dash.session.set(s);
    }
}

/// The message to show under the token field for a refused sign-in.
pub fn login_error(status: u16, body: &str) -> String {
    match status {
        429 => "Too many failed attempts: wait a minute, then try again.".into(),
        _ => serde_json::from_slice::<ErrorBody>(body.as_bytes())
            .map(|b| format!("Not signed in: {}.", b.error.message))
            .unwrap_or_else(|_| format!("Not signed in (HTTP {status}).")),
    }
}

/// A call to `/auth/*`: the status and body, or `None` when the server
/// cannot be reached.
#[cfg(feature = "csr")]
async fn call(method: &str, path: &str, body: Option<String>) -> Option<(u16, String)> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        let headers = web_sys::Headers::new().ok()?;
        headers.set("Content-Type", "application/json").ok()?;
        init.set_headers(&headers);
        init.set_body(&wasm_bindgen::JsValue::from_str(&b));
    }
    let resp: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(path, &init))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let text = JsFuture::from(resp.text().ok()?).await.ok()?;
    Some((resp.status(), text.as_string().unwrap_or_default()))
}

#[cfg(not(feature = "csr"))]
async fn call(_: &str, _: &str, _: Option<String>) -> Option<(u16, String)> {
    None
}

/// Asks the server who is signed in (token mode only): after start-up, and
/// whenever a call failed, since a 401 means the session is gone.
pub fn check(dash: Dashboard) {
    if !dash.session.with_untracked(|s| s.token_mode) {
        return;
    }
    spawn_local(async move {
        if let Some((200, body)) = call("GET", "/auth/me", None).await {
            if let Some(s) = session_of(&body) {
                set_session(dash, s);
            }
        }
    });
}

/// The sign-in form, shown in token mode until a token is accepted.
pub const SIGNIN_HTML: &str = concat!(
    r#"<main id="signin" class="signin" hidden><form class="card" id="signin-form" aria-labelledby="signin-h">"#,
    r#"<h2 id="signin-h">Sign in</h2><p class="muted">This server needs an access token (created with <code>lull token create</code>).</p>"#,
    r#"<div class="field"><label for="token">Access token</label>"#,
    r#"<input type="password" id="token" name="token" required autocomplete="off">"#,
    r#"<p class="field-error" id="token-error"></p></div>"#,
    r#"<button type="submit" class="btn btn-primary" id="signin-submit">Sign in</button></form></main>"#,
);

/// "Signed in as NAME (role)" and Sign out (token mode, signed in).
pub const SESSION_HTML: &str = r#"<div class="session" id="session" hidden><span id="session-name"></span><button type="button" class="btn" id="sign-out">Sign out</button></div>"#;

/// Brings [`SIGNIN_HTML`] and [`SESSION_HTML`] to life.
pub fn bind(dash: Dashboard) {
    // (busy, the error under the field)
    let ui = RwSignal::new((false, None::<String>));
    dom::on("signin-form", "submit", move |ev| {
        ev.prevent_default();
        let Some(input) = dom::input(TOKEN_ID) else {
            return;
        };
        let body = format!(
            "{{\"token\":{}}}",
            serde_json::to_string(&input.value()).unwrap_or_default()
        );
        ui.set((true, None));
        spawn_local(async move {
            let answer = call("POST", "/auth/login", Some(body)).await;
            let error = match answer {
                Some((200, body)) => match session_of(&body) {
                    Some(s) => {
                        input.set_value("");
                        set_session(dash, s);
                        None
                    }
                    None => Some("The server gave an unexpected answer.".to_string()),
                },
                Some((status, body)) => Some(login_error(status, &body)),
                None => Some("Could not reach the server. Try again.".to_string()),
            };
            let failed = error.is_some();
            ui.set((false, error));
            if failed {
                let _ = input.focus();
            }
        });
    });
    let error = move || ui.with(|u| u.1.clone());
    dom::flag("signin", "hidden", move || {
        !dash.session.with(Session::needs_sign_in)
    });
    dom::attr(TOKEN_ID, "aria-invalid", move || {
        error().map(|_| "true".into())
    });
    dom::attr(TOKEN_ID, "aria-describedby", move || {
        error().map(|_| "token-error".into())
    });
    dom::text("token-error", move || error().unwrap_or_default());
    dom::flag("signin-submit", "disabled", move || ui.with(|u| u.0));

    let session = dash.session;
    dom::flag("session", "hidden", move || {
        session.with(|s| !(s.token_mode && s.signed_in))
    });
    dom::text("session-name", move || {
        session.with(|s| format!("Signed in as {} ({})", s.name, s.role))
    });
    dom::on("sign-out", "click", move |_| {
        spawn_local(async move {
            let _ = call("POST", "/auth/logout", None).await;
            set_session(
                dash,
                Session {
                    token_mode: true,
                    known: true,
                    ..Default::default()
                },
            );
            request_animation_frame(|| dom::focus(TOKEN_ID));
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_errors_are_read_from_the_server() {
        let s = session_of(r#"{"authMode":"token","signedIn":true,"name":"ops","role":"viewer"}"#)
            .unwrap();
        assert!(s.signed_in && s.known && s.token_mode);
        assert_eq!((s.name.as_str(), s.role.as_str()), ("ops", "viewer"));
        let s =
            session_of(r#"{"authMode":"token","signedIn":false,"name":null,"role":null}"#).unwrap();
        assert!(s.needs_sign_in());
        assert_eq!(
            login_error(
                401,
                r#"{"error":{"code":"unauthorized","message":"invalid or revoked token","field":"token"}}"#
            ),
            "Not signed in: invalid or revoked token."
        );
        assert!(login_error(429, "").starts_with("Too many"));
        assert_eq!(login_error(500, "x"), "Not signed in (HTTP 500).");
    }
}
