//! `AppError` as an HTTP answer of the JSON API: `{"error": code, "message": text}` with the
//! error's status, plus `reason` for an ended session.

use app::model::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The same shape as server functions' errors: AppError serialises itself.
        let mut res = (status, Json(&self.0)).into_response();
        if let Some(secs) = self.0.retry_after_secs() {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

/// The same shape for refusals that happen before any `AppError` exists (the transport limits,
/// the cross-site check).
pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}
