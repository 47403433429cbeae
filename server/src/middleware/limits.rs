//! Bounds on what a request may send: the whole body, read under a size limit and a deadline,
//! before anything else sees it.

use crate::error::json_error;
use app::model::AppError;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// The whole body must have arrived within this time of the handler asking for it.
    pub read_timeout: Duration,
}

/// Reads the whole request body, at most `max_bytes`, before anything else sees it: a larger one
/// is refused with 413, whether its `Content-Length` says so (then it is not read at all) or it
/// comes chunked; one that trickles in slower than `read_timeout` allows gets 408 (a slow body
/// would otherwise hold a connection and a task for ever). Every form and API body is tiny, and
/// handlers then never meet a body that fails half-way (which server functions would answer
/// with a misleading error).
pub async fn body_limit(limits: BodyLimits, req: Request, next: Next) -> Response {
    let too_large = || json_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request is too large.");
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(limits.read_timeout, axum::body::to_bytes(body, limits.max_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(err)) if is_length_limit(&err) => return too_large(),
        // The client went away or sent a broken body: its fault, and nobody is listening anyway.
        Ok(Err(_)) => return json_error(StatusCode::BAD_REQUEST, "bad_request", "The request body could not be read."),
        Err(_elapsed) => {
            let mut res =
                json_error(StatusCode::REQUEST_TIMEOUT, "request_timeout", "The request body did not arrive in time.");
            // The rest of the body is never read: the connection cannot carry another request.
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return res;
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Server-function errors that the framework answers itself (arguments that do not deserialize,
/// an unknown encoding) come with status 500, although they are the client's mistake: give them
/// the status of the `AppError` in their body, as `request::respond` does for the others, so that
/// a 5xx always means a fault on our side.
pub async fn server_fn_error_status(req: Request, next: Next) -> Response {
    let is_server_fn = req.uri().path().starts_with("/api/fn/");
    let res = next.run(req).await;
    if !is_server_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Error bodies are a few hundred bytes; anything else is passed on as it was.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.")
            .into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Whether an answer to `path` is not a page (its errors are JSON).
pub fn is_non_page(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/pkg/") || path == "/readyz" || path == "/healthz"
}

/// Every answer that is not a page has one shape, `{"error": code, "message": text}`: answers the
/// framework or the router made themselves (an unknown API path, a wrong method, a server function
/// that could not even start) arrive here as plain text or empty, and leave as that JSON with
/// their status (and their `Allow`, `Retry-After`) kept. Called by the outermost layer
/// (`essentials`), with whether the request's path is not a page's ([`is_non_page`]).
pub fn non_page_error_as_json(non_page: bool, res: Response) -> Response {
    // The status first: nearly every answer is not an error, and then its headers need no look.
    if !non_page || !(res.status().is_client_error() || res.status().is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let (code, message) = match res.status() {
        StatusCode::NOT_FOUND => ("not_found", "There is nothing at this address."),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "This address does not take this method."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Send the body as application/json."),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request is too large."),
        StatusCode::SERVICE_UNAVAILABLE => {
            ("unavailable", "Postern is temporarily unavailable — nothing was changed, try again in a moment.")
        }
        s if s.is_server_error() => ("internal", "Something went wrong on our side. Please try again."),
        _ => ("bad_request", "The request could not be read."),
    };
    // The answer's own headers stay (Allow, Retry-After, …); only its body and what describes it change.
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let (json, body) = json_error(parts.status, code, message).into_parts();
    parts.headers.extend(json.headers);
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[tokio::test]
    async fn server_fn_errors_get_the_status_of_their_error() {
        use axum::routing::post;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/api/fn/args",
                post(|| async {
                    (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"bad_request","message":"missing field"}"#)
                }),
            )
            .route(
                "/api/fn/internal",
                post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"internal"}"#) }),
            )
            .route("/api/fn/plain", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "not json") }))
            .route(
                "/other",
                post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"bad_request","message":"x"}"#) }),
            )
            .layer(axum::middleware::from_fn(server_fn_error_status));
        for (path, status) in [
            ("/api/fn/args", StatusCode::BAD_REQUEST),
            ("/api/fn/internal", StatusCode::INTERNAL_SERVER_ERROR),
            ("/api/fn/plain", StatusCode::INTERNAL_SERVER_ERROR),
            ("/other", StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let req = Request::builder().method(Method::POST).uri(path).body(axum::body::Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), status, "{path}");
        }
    }
}
