//! The two endpoints of device-bound sessions (W3C DBSC), which Chromium calls by itself:
//! `POST /dbsc/register` with the proof that binds the login's session to the browser's key, and
//! `POST /dbsc/refresh` whenever the short-lived cookie (`postern_bound`) needs renewing. Both go
//! through the session middleware like any POST, so its cross-site check applies unchanged
//! (Chromium sends `Sec-Fetch-Site: same-origin` and `Origin`). The rules are
//! `AuthService::{bind_session, refresh_step, refresh_binding}`.

use crate::error::ApiError;
use crate::AppState;
use app::model::{AppError, SessionId, DBSC_REFRESH_PATH, DBSC_REGISTER_PATH};
use app::ssr::dbsc::unquote;
use app::ssr::service::{BindError, Bound, RefreshStep};
use app::ssr::{ClientInfo, Resolved};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::json;

const PROOF: HeaderName = HeaderName::from_static("secure-session-response");
const SESSION_ID: HeaderName = HeaderName::from_static("sec-secure-session-id");
const CHALLENGE: HeaderName = HeaderName::from_static("secure-session-challenge");

/// Paths a bound session's requests need no short cookie for: the built assets, and the
/// bearer-only API (a bound session's token is no bearer token anyway).
const UNBOUND_PATHS: [&str; 2] = ["/pkg", "/api/v1"];

pub fn routes() -> Router<AppState> {
    Router::new().route(DBSC_REGISTER_PATH, post(register)).route(DBSC_REFRESH_PATH, post(refresh))
}

async fn register(
    State(state): State<AppState>,
    resolved: Option<Extension<Resolved>>,
    headers: HeaderMap,
) -> Response {
    let Some(proof) = headers.get(PROOF).and_then(|v| v.to_str().ok()) else {
        return refused("The registration carries no proof (Secure-Session-Response).");
    };
    let cookie_session = resolved.as_ref().and_then(|r| r.active()).map(|s| s.session_id.clone());
    match state.ctx.auth.bind_session(proof, cookie_session.as_ref()).await {
        Ok(bound) => {
            tracing::info!(session = %bound.session_id.as_str(), "session bound to its device");
            with_cookie(&state, &bound, Json(instructions(&state, &bound.session_id)).into_response())
        }
        Err(BindError::App(err)) => ApiError(err).into_response(),
        Err(err) => {
            tracing::info!(reason = %err, "device binding refused");
            refused("The device binding was refused.")
        }
    }
}

async fn refresh(State(state): State<AppState>, client: Option<Extension<ClientInfo>>, headers: HeaderMap) -> Response {
    let Some(session_id) = headers.get(SESSION_ID).and_then(|v| v.to_str().ok()).map(unquote) else {
        return refused("The refresh names no session (Sec-Secure-Session-Id).");
    };
    let session_id = SessionId(session_id.to_string());
    let Some(proof) = headers.get(PROOF).and_then(|v| v.to_str().ok()) else {
        return match state.ctx.auth.refresh_step(&session_id).await {
            Ok(RefreshStep::Challenge(challenge)) => ask_for_proof(&session_id, &challenge),
            Ok(RefreshStep::Terminate) => terminate(&session_id),
            Err(err) => ApiError(err).into_response(),
        };
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    match state.ctx.auth.refresh_binding(&session_id, proof, &client).await {
        // No body: the session's instructions stay as they were.
        Ok(Some(bound)) => with_cookie(&state, &bound, StatusCode::OK.into_response()),
        Ok(None) => terminate(&session_id),
        // A challenge that was stale or used (two refreshes racing): try once more with a new one.
        Err(BindError::Challenge) => match state.ctx.auth.refresh_step(&session_id).await {
            Ok(RefreshStep::Challenge(challenge)) => ask_for_proof(&session_id, &challenge),
            Ok(RefreshStep::Terminate) => terminate(&session_id),
            Err(err) => ApiError(err).into_response(),
        },
        Err(BindError::App(err)) => ApiError(err).into_response(),
        // Not the key the session registered: no new challenge, the browser gives the session up.
        Err(err) => {
            tracing::warn!(reason = %err, ip = %client.ip, "device check failed");
            refused("The device check failed.")
        }
    }
}

/// The session instructions of a new binding: which cookie it needs, where to renew it, and the
/// scope (the whole site but the static assets and the bearer API).
fn instructions(state: &AppState, session_id: &SessionId) -> serde_json::Value {
    let excluded: Vec<_> = UNBOUND_PATHS.iter().map(|path| json!({ "type": "exclude", "path": path })).collect();
    json!({
        "session_identifier": session_id.as_str(),
        "refresh_url": DBSC_REFRESH_PATH,
        "scope": { "origin": state.public_origin, "include_site": false, "scope_specification": excluded },
        "credentials": [{
            "type": "cookie",
            "name": state.ctx.cookie.bound_name(),
            "attributes": state.ctx.cookie.bound_attributes(),
        }],
        "allowed_refresh_initiators": [],
    })
}

fn with_cookie(state: &AppState, bound: &Bound, mut res: Response) -> Response {
    let cookie = state.ctx.cookie.set_bound(&bound.cookie, bound.max_age_secs);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// 403 with a challenge: sign this.
fn ask_for_proof(session_id: &SessionId, challenge: &str) -> Response {
    let mut res = StatusCode::FORBIDDEN.into_response();
    let value = format!("\"{challenge}\";id=\"{}\"", session_id.as_str());
    if let Ok(value) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(CHALLENGE, value);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The session has ended: the browser drops its binding.
fn terminate(session_id: &SessionId) -> Response {
    let body = json!({ "session_identifier": session_id.as_str(), "continue": false });
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// 403 in the one error shape.
fn refused(message: &str) -> Response {
    let mut res = ApiError(AppError::Forbidden).into_response();
    if let Ok(body) = serde_json::to_string(&json!({ "error": "forbidden", "message": message })) {
        *res.body_mut() = body.into();
    }
    res
}
