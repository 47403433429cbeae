//! What every request gets, the cheapest ones included: a request id (in a tracing span around
//! everything the request logs, and in the answer's `X-Request-Id`), a line in the access log at
//! debug level, the one JSON shape of every error that is not a page's, and the headers every
//! answer carries. One layer rather than three: each layer
//! costs a clone of the service below it and a boxed future per request, which `/healthz` felt.

use super::headers::{add_response_headers, HeaderPolicy};
use super::limits::{is_non_page, non_page_error_as_json};
use super::request_id::{request_id_for, HEADER};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::net::IpAddr;
use std::sync::Arc;
use tracing::Instrument;

#[derive(Clone, Debug)]
pub struct Essentials {
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub headers: HeaderPolicy,
}

pub async fn essentials(policy: Essentials, req: Request, next: Next) -> Response {
    let id = request_id_for(&policy.trusted_proxies, &req);
    let span = tracing::info_span!("request", request_id = %id);
    // The access line: method, path, status, time. Never headers (no `Cookie`, no
    // `Authorization`), never the query string, never a body; nothing at all is formatted when
    // debug lines are filtered out.
    let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| (req.method().clone(), req.uri().path().to_owned()));
    let non_page = is_non_page(req.uri().path());
    let started = std::time::Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    let mut res = non_page_error_as_json(non_page, res);
    if let Some((method, path)) = logged {
        let micros = started.elapsed().as_micros() as u64;
        span.in_scope(|| tracing::debug!(%method, %path, status = res.status().as_u16(), micros, "request"));
    }
    add_response_headers(policy.headers, &mut res);
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    res
}
