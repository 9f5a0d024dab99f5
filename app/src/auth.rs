//! Sign-in (token mode): the form, the "Signed in as …" bar with Sign out,
//! and the check that sends the page back to the form when a call was
//! refused for want of a session (any server function answering
//! `ApiError::Unauthorized`).
//!
//! The `/auth/*` endpoints are plain JSON over the browser's `fetch` (not
//! server functions): the server sets and clears the HttpOnly session
//! cookie, which the page itself never sees.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::error::AppError;
use crate::focus::focus;
use crate::state::{Dashboard, Session};

/// The page's session from `GET /auth/me` (or a sign-in's answer).
fn session_of(body: &str) -> Option<Session> {
    let me: wire::Session = serde_json::from_slice(body.as_bytes()).ok()?;
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
        _ => serde_json::from_slice::<wire::ErrorBody>(body.as_bytes())
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

/// Signs out (and so back to the form) from the session bar.
async fn sign_out(dash: Dashboard) {
    let _ = call("POST", "/auth/logout", None).await;
    set_session(
        dash,
        Session {
            token_mode: true,
            known: true,
            ..Default::default()
        },
    );
}

/// Signs in with a token; the error to show under the field if refused.
async fn sign_in(dash: Dashboard, token: String) -> Result<(), String> {
    let body = serde_json::json!({ "token": token }).to_string();
    match call("POST", "/auth/login", Some(body)).await {
        Some((200, body)) => match session_of(&body) {
            Some(s) => {
                set_session(dash, s);
                Ok(())
            }
            None => Err("The server gave an unexpected answer.".to_string()),
        },
        Some((status, body)) => Err(login_error(status, &body)),
        None => Err("Could not reach the server. Try again.".to_string()),
    }
}

/// The sign-in form, shown in token mode until a token is accepted. Focus
/// goes to the token field when the form appears and after a refusal.
#[component]
pub fn SignIn() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let token = RwSignal::new(String::new());
    let field = NodeRef::<leptos::html::Input>::new();
    let attempt = Action::new_local(move |token: &String| sign_in(dash, token.clone()));
    let error = move || attempt.value().get().and_then(Result::err);
    // After a refusal the person corrects the token: focus it.
    Effect::new(move |_| {
        if error().is_some() {
            focus(field);
        }
    });
    // Shown after a sign-out too: the field is where the person goes next.
    field.on_load(move |_| request_animation_frame(move || focus(field)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        attempt.dispatch(token.get_untracked());
    };
    view! {
        <div class="signin">
            <form class="card" aria-labelledby="signin-h" on:submit=submit>
                <h2 id="signin-h">"Sign in"</h2>
                <p class="muted">
                    "This server needs an access token (created with " <code>"lull token create"</code> ")."
                </p>
                <div class="field">
                    <label for="token">"Access token"</label>
                    <input
                        type="password"
                        id="token"
                        name="token"
                        required
                        autocomplete="off"
                        node_ref=field
                        bind:value=token
                        aria-invalid=move || error().map(|_| "true")
                        aria-describedby=move || error().map(|_| "token-error")
                    />
                    <p class="field-error" id="token-error">{error}</p>
                </div>
                <button type="submit" class="btn btn-primary" disabled=move || attempt.pending().get()>
                    "Sign in"
                </button>
            </form>
        </div>
    }
}

/// "Signed in as NAME (role)" and Sign out (token mode, signed in).
#[component]
pub fn SessionBar() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let session = dash.session;
    let leave = Action::new_local(move |_: &()| sign_out(dash));
    view! {
        <Show when=move || session.with(|s| s.token_mode && s.signed_in)>
            <div class="session">
                <span>{move || session.with(|s| format!("Signed in as {} ({})", s.name, s.role))}</span>
                <button
                    type="button"
                    class="btn"
                    disabled=move || leave.pending().get()
                    on:click=move |_| {
                        leave.dispatch(());
                    }
                >
                    "Sign out"
                </button>
            </div>
        </Show>
    }
}

/// The last good answer of a resource: a failed refresh keeps the old data
/// on screen (the live indicator says when the server is unreachable).
/// A refused call for want of a session sends the page to the sign-in form.
pub fn last_good<T: Clone + PartialEq + Send + Sync + 'static>(
    res: LocalResource<Result<T, AppError>>,
) -> Memo<Option<T>> {
    let dash = expect_context::<Dashboard>();
    Effect::new(move |_| {
        if res.with(|r| matches!(r, Some(Err(e)) if e.is_unauthorized())) {
            check(dash);
        }
    });
    Memo::new(move |prev: Option<&Option<T>>| match res.get() {
        Some(Ok(v)) => Some(v),
        _ => prev.cloned().flatten(),
    })
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
