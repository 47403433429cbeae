//! Browser-side start-up and the one way islands call server functions.

use crate::model::AppError;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Run by the WASM entry point right after `leptos::mount::hydrate_islands()`.
pub fn start() {
    // Leptos' island script hydrates the islands as soon as `hydrate()` returns, within the same
    // task; a zero timeout runs after that task, so the mark means "every island is live" (tests
    // wait for it before they interact).
    set_timeout(
        || {
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        Duration::ZERO,
    );
}

/// What a server function answered.
pub enum Answer {
    /// Its result, as JSON.
    Value(String),
    /// It sent the browser to another page (log in, sign up, terminate all), which is loading.
    Redirected,
}

/// Posts `body` (form-encoded) to the server function at `path`, exactly as its form would
/// without JavaScript, but reads the answer itself: a JSON value, an [`AppError`] (JSON, with an
/// error status), or a redirect, which the page follows.
///
/// Islands use this instead of `ServerAction`/`ActionForm`: their client side (server_fn's
/// request and response codecs, serde_qs, the action machinery) cost more WASM than all the
/// islands' own code. The server functions themselves are unchanged.
pub async fn call(path: &str, body: &web_sys::UrlSearchParams) -> Result<Answer, AppError> {
    let unreachable = || AppError::Request {
        message: "The server could not be reached. Check your connection and try again.".into(),
    };
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_body(body);
    let response: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| unreachable())?
        .unchecked_into();
    let headers = response.headers();
    // leptos_axum's `redirect()` answers a script's call with this header instead of a 302.
    if headers.has(leptos::server_fn::redirect::REDIRECT_HEADER).unwrap_or(false) {
        if let Ok(Some(location)) = headers.get("location") {
            let _ = window().location().set_href(&location);
        }
        return Ok(Answer::Redirected);
    }
    let text = match response.text() {
        Ok(text) => JsFuture::from(text).await.map_err(|_| unreachable())?.as_string().unwrap_or_default(),
        Err(_) => return Err(unreachable()),
    };
    if response.ok() {
        Ok(Answer::Value(text))
    } else {
        Err(error_of(response.status(), &text))
    }
}

/// The error an answer that did arrive stands for: its own (every non-page answer is
/// `{"error", "message"}`), else its message, else what its status means. Never "could not be
/// reached": the server did answer.
fn error_of(status: u16, body: &str) -> AppError {
    if let Ok(err) = serde_json::from_str::<AppError>(body) {
        return err;
    }
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    if let Ok(Message { message }) = serde_json::from_str(body) {
        return AppError::Request { message };
    }
    match status {
        403 => AppError::Forbidden,
        429 => AppError::TooManyAttempts,
        503 => AppError::Unavailable,
        500..=599 => AppError::Internal,
        _ => AppError::Request {
            message: format!("The request was refused (HTTP {status}). Reload the page and try again."),
        },
    }
}

/// Handles a form's submit event: submits the form in place to its server function (its
/// `action`) instead of navigating. `pending` is true meanwhile (and stays true while a redirect
/// loads the next page); `done` gets the outcome.
pub fn submit(ev: leptos::ev::SubmitEvent, pending: RwSignal<bool>, done: impl FnOnce(Result<(), AppError>) + 'static) {
    ev.prevent_default();
    let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
    if pending.get_untracked() {
        return;
    }
    let body = web_sys::FormData::new_with_form(&form)
        .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data));
    let Ok(body) = body else { return };
    pending.set(true);
    leptos::task::spawn_local(async move {
        match call(&form.action(), &body).await {
            Ok(Answer::Redirected) => return,
            Ok(Answer::Value(_)) => {
                // As if it were a new form: a success leaves no password behind in the fields.
                form.reset();
                done(Ok(()));
            }
            Err(err) => done(Err(err)),
        }
        pending.set(false);
    });
}
