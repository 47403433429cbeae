//! The API's extractors: every refusal of a request is the one JSON error shape, and the
//! caller is a bearer token checked against the database.

use crate::error::ApiError;
use crate::middleware::client_info;
use crate::AppState;
use app::model::AppError;
use app::ssr::{ClientInfo, CurrentSession};
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A JSON body; anything else is a JSON error: a wrong content type 415, malformed JSON 400, JSON
/// of the wrong shape (a missing field, a number for a string) 422.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(refusal(rejection.status(), rejection.body_text())),
        }
    }
}

/// A path parameter; one that does not decode (percent-encoded bytes that are not UTF-8) is a
/// JSON 400 like every other refusal, not axum's plain-text one.
pub struct PathParam<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParam<T>
where
    Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParam(value)),
            Err(rejection) => Err(refusal(rejection.status(), rejection.body_text())),
        }
    }
}

/// The framework's refusal of a request as `{"error": "bad_request", "message"}` with its status
/// (400, 415, 422); one of its own faults (a route without the parameter) as `internal`.
fn refusal(status: StatusCode, text: String) -> Response {
    if status.is_server_error() {
        tracing::error!(%status, %text, "extractor failed");
        return ApiError(AppError::Internal).into_response();
    }
    (status, Json(serde_json::json!({ "error": "bad_request", "message": text }))).into_response()
}

/// The caller's session, from `Authorization: Bearer <token>`, checked against the database on
/// every request: an ended session is refused on its very next request.
pub struct Bearer {
    pub session: CurrentSession,
    pub client: ClientInfo,
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(AppError::Unauthorized)?;
        let resolved = state.ctx.auth.authenticate(token, true).await?;
        let session = resolved.require()?.clone();
        let req = Request::from_parts(parts.clone(), axum::body::Body::empty());
        Ok(Bearer { session, client: client_info(&req, &state.trusted_proxies) })
    }
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}
