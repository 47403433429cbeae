//! The JSON API for the mobile mail app (`/api/v1`), bearer tokens only: cookies are ignored, so
//! a browser can never be tricked into using it. Also the page poll and health endpoints.

use crate::error::ApiError;
use crate::middleware::client_info;
use crate::openapi::{
    self, BadRequest, BearerRefused, Conflict, EndSessionsBadRequest, Internal, LoginBadRequest, LoginRefused,
    NotFound, PayloadTooLarge, RenameBadRequest, RequestTimeout, TooManyAttempts, Unavailable, Unprocessable,
    UnsupportedMediaType,
};
use crate::AppState;
use app::model::{AppError, SessionId, SessionKind, SessionView};
use app::ssr::service::LoginRequest;
use app::time_fmt::iso_utc;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;

mod extract;
pub use extract::{bearer_token, Bearer, JsonBody, PathParam};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/sessions", get(sessions).delete(terminate_all))
        .route("/api/v1/sessions/{id}", delete(end_session).patch(rename_session))
        .route("/api/v1/messages", get(messages))
        .route(crate::events::APP_EVENTS_PATH, get(crate::events::app_events))
        .route(app::model::EVENTS_PATH, get(crate::events::page_events))
        // Tokens, accounts and session lists are personal: no cache may keep them. (The session
        // middleware, which sets this for pages and server functions, skips these paths.)
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

/// What no page, session lookup or body is needed for, and what is asked most often: the health
/// checks and the page poll (which reads its own cookie). `router` serves them in front of the
/// pages' layers; each says `no-store` itself, without a layer of its own. None reads the client's
/// address, so their requests are not given it ([`is_lean`]).
pub fn lean_routes() -> Router<AppState> {
    Router::new()
        .route(app::model::STATUS_PATH, get(status))
        .route(HEALTHZ_PATH, get(|| async { no_store(PLAIN_TEXT, "ok") }))
        .route(READYZ_PATH, get(ready))
}

const HEALTHZ_PATH: &str = "/healthz";
const READYZ_PATH: &str = "/readyz";

/// Whether `path` is one of [`lean_routes`].
pub fn is_lean(path: &str) -> bool {
    [app::model::STATUS_PATH, HEALTHZ_PATH, READYZ_PATH].contains(&path)
}

/// The login of the mail app. Lengths count Unicode characters (code points). Unknown
/// properties are ignored.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({ "email": "ada@example.com", "password": "Lighthouse-Quartz-Maple-42", "device_name": "Pixel 8" }))]
pub struct LoginBody {
    /// Compared after trimming, Unicode NFC normalisation and lower-casing; not checked for
    /// format. An address longer than 254 bytes in UTF-8 belongs to no account (401).
    #[schema(max_length = 254)]
    email: String,
    /// Never trimmed or truncated. Longer than 256 characters: 401, like any wrong password.
    #[schema(max_length = 256)]
    password: String,
    #[schema(schema_with = openapi::device_name)]
    device_name: String,
    /// The `device_id` an earlier login of this installation answered. A device that has logged
    /// in to the account before is throttled on a counter of its own, so strangers' failed
    /// guesses never hold it back. Optional; anything but an id Postern issued counts as none.
    #[serde(default)]
    device_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    /// The bearer token: send it as `Authorization: Bearer <token>`. Shown once, never stored.
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    token: String,
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{22}$")]
    session_id: SessionId,
    /// Keep it and send it with every later login (random, not a fingerprint).
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    device_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeAnswer {
    email: String,
    name: String,
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{22}$")]
    session_id: SessionId,
}

/// A session as the API shows it; times are ISO 8601 UTC.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiSession {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{22}$")]
    id: SessionId,
    /// What a person would call the device: "Chrome on Linux", "Mail app on Pixel 8", or the
    /// name its owner gave the session (`PATCH /api/v1/sessions/{id}`).
    device: String,
    /// What the user agent says, when the session was renamed; else null.
    parsed_device: Option<String>,
    ip: String,
    /// Roughly where the session logged in from ("Berlin, Germany", "Germany", "Local network"),
    /// when the server has a GeoIP database; else null.
    location: Option<String>,
    #[schema(schema_with = openapi::session_kind)]
    kind: SessionKind,
    auto_login: bool,
    /// Device-bound (DBSC): its cookies only work on the device that holds its key.
    bound: bool,
    #[schema(format = DateTime, example = "2026-12-01T09:30:00Z")]
    created_at: String,
    #[schema(format = DateTime, example = "2026-12-01T09:30:00Z")]
    last_active_at: String,
    /// The session of the token that asked.
    current: bool,
}

impl From<SessionView> for ApiSession {
    fn from(s: SessionView) -> Self {
        ApiSession {
            id: s.id,
            device: s.device,
            parsed_device: s.parsed_device,
            ip: s.ip,
            location: s.location,
            kind: s.kind,
            auto_login: s.auto_login,
            bound: s.bound,
            created_at: iso_utc(s.created_at),
            last_active_at: iso_utc(s.last_active_at),
            current: s.current,
        }
    }
}

// Every status an operation can answer is listed with it (the contract test, server/tests/
// contract.rs, checks the live server against the list); the error answers are in openapi.rs.
// Any request may get 408 or 413 from the body limit and 500 for a fault of ours.

/// Log the mail app in; the session is an auto-login of kind app, named after the device.
#[utoipa::path(post, path = "/api/v1/login", request_body(content = LoginBody,
        description = "`Content-Type: application/json` (parameters such as `charset` allowed), at most 16 KiB."),
    responses((status = 200, body = LoginAnswer, description = "Logged in."),
              (status = 400, response = LoginBadRequest), (status = 401, response = LoginRefused),
              (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
              (status = 415, response = UnsupportedMediaType), (status = 422, response = Unprocessable),
              (status = 429, response = TooManyAttempts), (status = 500, response = Internal),
              (status = 503, response = Unavailable)))]
pub async fn login(State(state): State<AppState>, req: Request) -> Result<Json<LoginAnswer>, Response> {
    let mut client = client_info(&req, &state.trusted_proxies);
    let JsonBody(body) = JsonBody::<LoginBody>::from_request(req, &state).await?;
    client.device_id = body.device_id.clone();
    let request = LoginRequest {
        email: &body.email,
        password: &body.password,
        remember: true,
        kind: SessionKind::App,
        device_name: Some(&body.device_name),
    };
    let login = state.ctx.auth.log_in(&request, &client).await.map_err(|e| ApiError(e).into_response())?;
    Ok(Json(LoginAnswer { token: login.token, session_id: login.session_id, device_id: login.device_id }))
}

/// End the calling session.
#[utoipa::path(post, path = "/api/v1/logout",
    responses((status = 204, description = "Logged out."), (status = 400, response = BadRequest),
              (status = 401, response = BearerRefused), (status = 408, response = RequestTimeout),
              (status = 413, response = PayloadTooLarge), (status = 500, response = Internal),
              (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, caller: Bearer) -> Result<StatusCode, ApiError> {
    state.ctx.auth.log_out(&caller.session, &caller.client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me",
    responses((status = 200, body = MeAnswer, description = "The token's account and session."),
              (status = 400, response = BadRequest), (status = 401, response = BearerRefused),
              (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
              (status = 500, response = Internal), (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn me(caller: Bearer) -> Json<MeAnswer> {
    Json(MeAnswer { email: caller.session.email, name: caller.session.name, session_id: caller.session.session_id })
}

/// The account's active sessions, the caller's first.
#[utoipa::path(get, path = "/api/v1/sessions",
    responses((status = 200, body = [ApiSession], description = "The active sessions."),
              (status = 400, response = BadRequest), (status = 401, response = BearerRefused),
              (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
              (status = 500, response = Internal), (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn sessions(State(state): State<AppState>, caller: Bearer) -> Result<Json<Vec<ApiSession>>, ApiError> {
    let list = state.ctx.auth.list_sessions(&caller.session).await?;
    Ok(Json(list.into_iter().map(ApiSession::from).collect()))
}

/// End another session of the account. Already ended: 204; the caller's own: 409; never
/// existed or another account's: 404.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{22}$",
        description = "A session's `id` from the session list. Any other value is answered 404.")),
    responses((status = 204, description = "The session has ended (or had already)."),
              (status = 400, response = BadRequest), (status = 401, response = BearerRefused),
              (status = 404, response = NotFound), (status = 408, response = RequestTimeout),
              (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge),
              (status = 500, response = Internal), (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Bearer,
    PathParam(id): PathParam<SessionId>,
) -> Result<StatusCode, ApiError> {
    state.ctx.auth.end_session(&caller.session, &caller.client, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A session's new name. Unknown properties are ignored.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({ "device_name": "Work laptop" }))]
pub struct RenameBody {
    #[schema(schema_with = openapi::new_device_name)]
    device_name: String,
}

/// Rename a session of the account (the caller's own too): the name shows instead of the parsed
/// device in every list, the activity log and new-login messages. Never existed, ended or
/// another account's: 404.
#[utoipa::path(patch, path = "/api/v1/sessions/{id}", request_body(content = RenameBody,
        description = "`Content-Type: application/json`, at most 16 KiB."),
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{22}$",
        description = "A session's `id` from the session list. Any other value is answered 404.")),
    responses((status = 204, description = "Renamed."),
              (status = 400, response = RenameBadRequest), (status = 401, response = BearerRefused),
              (status = 404, response = NotFound), (status = 408, response = RequestTimeout),
              (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
              (status = 422, response = Unprocessable), (status = 500, response = Internal),
              (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn rename_session(
    State(state): State<AppState>,
    caller: Bearer,
    PathParam(id): PathParam<SessionId>,
    JsonBody(body): JsonBody<RenameBody>,
) -> Result<StatusCode, ApiError> {
    state.ctx.auth.rename_session(&caller.session, &caller.client, &id, &body.device_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which sessions `DELETE /api/v1/sessions` ends.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TerminateQuery {
    /// `current`: end every session except the caller's ("End all other sessions"). Without it,
    /// every session ends, the caller's included. Any other value is answered 400.
    #[param(pattern = "^current$", example = "current")]
    except: Option<String>,
}

/// End every session of the account, the caller's included; with `?except=current`, every
/// session but the caller's.
///
/// `curl -X DELETE -H "Authorization: Bearer $TOKEN" "https://mail.example/api/v1/sessions?except=current"`
#[utoipa::path(delete, path = "/api/v1/sessions", params(TerminateQuery),
    responses((status = 204, description = "The sessions have ended: all of them, or all but the caller's with `except=current`."),
              (status = 400, response = EndSessionsBadRequest), (status = 401, response = BearerRefused),
              (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
              (status = 500, response = Internal), (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn terminate_all(
    State(state): State<AppState>,
    caller: Bearer,
    axum::extract::Query(query): axum::extract::Query<TerminateQuery>,
) -> Result<StatusCode, ApiError> {
    match query.except.as_deref() {
        None => state.ctx.auth.terminate_all(&caller.session, &caller.client).await?,
        Some("current") => state.ctx.auth.end_other_sessions(&caller.session, &caller.client).await?,
        Some(_) => return Err(AppError::validation("except", "`except` can only be `current`.").into()),
    };
    Ok(StatusCode::NO_CONTENT)
}

/// A message in the account's Inbox; times are ISO 8601 UTC.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiMessage {
    id: i64,
    #[schema(example = "New login to your account")]
    subject: &'static str,
    /// The device of the login the message is about: "Firefox on Windows", "Mail app on Pixel 8".
    device: String,
    ip: String,
    #[schema(format = DateTime, example = "2026-12-01T09:30:00Z")]
    at: String,
    read: bool,
    /// The message is about the very session that asked.
    this_session: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiMessages {
    messages: Vec<ApiMessage>,
}

/// The account's Inbox messages (new logins from devices not seen before), newest first.
#[utoipa::path(get, path = "/api/v1/messages",
    responses((status = 200, body = ApiMessages, description = "The messages, newest first."),
              (status = 400, response = BadRequest), (status = 401, response = BearerRefused),
              (status = 408, response = RequestTimeout), (status = 413, response = PayloadTooLarge),
              (status = 500, response = Internal), (status = 503, response = Unavailable)),
    security(("bearer" = [])))]
pub async fn messages(State(state): State<AppState>, caller: Bearer) -> Result<Json<ApiMessages>, ApiError> {
    let inbox = state.ctx.auth.inbox(&caller.session).await?;
    let messages = inbox
        .messages
        .into_iter()
        .map(|m| ApiMessage {
            id: m.id,
            subject: app::model::NEW_LOGIN_SUBJECT,
            device: m.device,
            ip: m.ip,
            at: iso_utc(m.at),
            read: m.read,
            this_session: m.this_session,
        })
        .collect();
    Ok(Json(ApiMessages { messages }))
}

/// The page poll: always 200 with the session's state, never counted as activity.
/// It takes the request rather than a copy of its headers (axum's `HeaderMap` extractor clones
/// them all): it is the request asked most often.
pub async fn status(State(state): State<AppState>, req: Request) -> Response {
    let cookies = state.ctx.cookie.session_cookies_in(req.headers());
    match state.ctx.auth.status(cookies.token.as_deref(), cookies.bound.as_deref()).await {
        Ok(status) => match serde_json::to_vec(&status) {
            Ok(json) => no_store(HeaderValue::from_static("application/json"), json),
            Err(err) => {
                tracing::error!(error = %err, "could not serialise a session's status");
                ApiError(AppError::Internal).into_response()
            }
        },
        // Not a logout: the page keeps polling and says nothing.
        Err(err) => ApiError(err).into_response(),
    }
}

/// An answer no cache may keep: a session's state is personal, a health check is about now. Its
/// header map is made with room for its own headers (type, `no-store`, length) and those every
/// answer gets on its way out, so it is allocated once and never grown: these are the answers
/// asked for most (README, "What every request costs").
fn no_store(content_type: HeaderValue, body: impl Into<axum::body::Body>) -> Response {
    let mut res = Response::new(body.into());
    let headers = res.headers_mut();
    *headers = axum::http::HeaderMap::with_capacity(3 + crate::middleware::headers::ADDED_HEADERS);
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

const PLAIN_TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// Ready when the database answers.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.ctx.auth.store.ping().await {
        Ok(()) => no_store(PLAIN_TEXT, "ready"),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
