//! What server functions read from the request they serve: the services, the session the
//! authentication middleware resolved, and the client's address.

use super::cookie::CookieSettings;
use super::service::{AuthService, ClientInfo, CurrentSession, Resolved};
use crate::model::AppError;
use http::header::{ACCEPT, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use leptos::prelude::*;

/// Everything the server side of the app needs, provided as Leptos context and axum state.
#[derive(Clone)]
pub struct AppContext {
    pub auth: AuthService,
    pub cookie: CookieSettings,
    /// How often pages poll the session status, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often they poll while their event stream is healthy.
    pub stream_poll_interval_ms: u64,
}

pub fn app_context() -> Result<AppContext, AppError> {
    use_context::<AppContext>().ok_or_else(|| {
        tracing::error!("AppContext missing from Leptos context");
        AppError::Internal
    })
}

fn parts() -> Result<http::request::Parts, AppError> {
    use_context::<http::request::Parts>().ok_or(AppError::Internal)
}

/// The session this request runs in, as the middleware resolved it.
pub fn resolved() -> Resolved {
    parts().ok().and_then(|p| p.extensions.get::<Resolved>().cloned()).unwrap_or(Resolved::None)
}

pub fn current_session() -> Result<CurrentSession, AppError> {
    resolved().require().cloned()
}

/// Where the request came from, with the browser's device id from its device cookie.
pub fn client_info() -> ClientInfo {
    let Ok(parts) = parts() else { return ClientInfo::default() };
    let mut client = parts.extensions.get::<ClientInfo>().cloned().unwrap_or_default();
    if client.device_id.is_none() {
        let cookie = app_context().ok().map(|ctx| ctx.cookie);
        client.device_id = cookie.and_then(|cookie| cookie.device_in(&parts.headers));
    }
    client
}

/// Sends the browser the device id of a login, unless it already holds that one.
pub fn keep_device(ctx: &AppContext, sent: Option<&str>, device_id: &str) {
    if sent != Some(device_id) {
        set_cookie_header(&ctx.cookie.set_device(device_id));
    }
}

/// After a browser login over HTTPS: offers the browser to bind the new session to a key of its
/// own (DBSC), with a challenge issued to this session. A browser without DBSC ignores the
/// header; if the challenge cannot be stored, the login stands without the offer.
pub async fn offer_device_binding(ctx: &AppContext, session_id: &crate::model::SessionId) {
    if !ctx.cookie.secure {
        return;
    }
    let challenge = match ctx.auth.new_challenge(session_id).await {
        Ok(challenge) => challenge,
        Err(err) => return tracing::warn!(error = %err, "no device-binding offer: the challenge was not stored"),
    };
    let offer = format!("(ES256);path=\"{}\";challenge=\"{challenge}\"", crate::model::DBSC_REGISTER_PATH);
    if let (Some(res), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(&offer)) {
        res.insert_header(http::HeaderName::from_static("secure-session-registration"), value);
    }
}

/// Runs a server function body. On error the response gets the error's HTTP status, except for
/// plain (no-JavaScript) form posts, which the framework answers with a redirect back.
pub async fn respond<T>(body: impl std::future::Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    let result = body.await;
    if let Err(err) = &result {
        if !is_plain_form() {
            if let (Some(res), Ok(status)) =
                (use_context::<leptos_axum::ResponseOptions>(), StatusCode::from_u16(err.status()))
            {
                res.set_status(status);
                // The error knows best when to try again (a sign-up limit says when it lifts);
                // the outer layer fills in any 429/503 that does not say.
                if let Some(secs) = err.retry_after_secs() {
                    res.insert_header(http::header::RETRY_AFTER, HeaderValue::from(secs));
                }
            }
        }
    }
    result
}

/// Whether the request is a plain form post of a page without JavaScript (a browser navigating),
/// rather than an island's call.
pub fn is_plain_form() -> bool {
    parts()
        .ok()
        .and_then(|p| p.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

/// After a plain form post succeeds, the browser goes to `path` (by default it would go back to
/// the page it posted from, which for a confirmation page no longer makes sense). An island's
/// call gets its answer as usual.
pub fn after_plain_form(path: &str) {
    if is_plain_form() {
        leptos_axum::redirect(path);
    }
}

pub fn set_cookie_header(value: &str) {
    if let (Some(res), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(value)) {
        res.append_header(SET_COOKIE, v);
    }
}

/// The session lifetimes the running server applies (see [`crate::model::Lifetimes`]).
pub fn lifetimes() -> crate::model::Lifetimes {
    match app_context() {
        Ok(ctx) => {
            let p = &ctx.auth.policy;
            crate::model::Lifetimes {
                idle_ms: p.idle_ms,
                max_age_ms: p.max_age_ms,
                remembered_max_age_ms: p.remembered_max_age_ms,
                retention_days: ctx.auth.retention_days(),
            }
        }
        Err(_) => crate::model::Lifetimes::default(),
    }
}
