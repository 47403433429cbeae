//! Headers every answer carries, whichever layer produced it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

#[derive(Clone, Copy, Debug)]
pub struct HeaderPolicy {
    /// The public URL is https: browsers are told to use nothing else (ASVS V3.4.1).
    pub hsts: bool,
    /// The `Retry-After` of a 429 that names none: the throttle's first wait.
    pub throttled_retry_secs: u64,
}

/// How long a client should wait after a 503 that names no time: the database is usually back
/// within seconds.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// How many headers [`add_response_headers`] and the request id add to an answer at most: an answer
/// made with room for them and its own never has its header map grown on the way out.
pub const ADDED_HEADERS: usize = 7;

/// Headers every answer carries (ASVS V3.4), and a `Retry-After` on every 429 and 503: the one
/// place for them, called by the outermost layer (`essentials`), so that no answer (a body-limit
/// refusal, a framework error, `/readyz`) misses them. Every value is a constant.
pub fn add_response_headers(policy: HeaderPolicy, res: &mut Response) {
    let retry = match res.status() {
        StatusCode::TOO_MANY_REQUESTS => Some(policy.throttled_retry_secs),
        StatusCode::SERVICE_UNAVAILABLE => Some(UNAVAILABLE_RETRY_SECS),
        _ => None,
    };
    let h = res.headers_mut();
    // Room for all of them and the request id at once: one grow at most, not one on the way.
    h.reserve(ADDED_HEADERS);
    if let Some(secs) = retry {
        h.entry(header::RETRY_AFTER).or_insert_with(|| HeaderValue::from(secs));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
    ));
    if policy.hsts {
        // Two years, the value hstspreload.org asks for; every subdomain is ours to keep on https.
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::Request;
    use axum::middleware::Next;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn answer(policy: HeaderPolicy, path: &str) -> Response {
        let app = axum::Router::new()
            .route("/429", get(|| async { StatusCode::TOO_MANY_REQUESTS }))
            .route("/429-own", get(|| async { (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "120")]) }))
            .route("/503", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
            .route("/200", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(move |req: Request, next: Next| async move {
                let mut res = next.run(req).await;
                add_response_headers(policy, &mut res);
                res
            }));
        app.oneshot(Request::builder().uri(path).body(axum::body::Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn every_429_and_503_says_when_to_retry() {
        let policy = HeaderPolicy { hsts: false, throttled_retry_secs: 30 };
        let retry = |res: &Response| res.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(retry(&answer(policy, "/429").await).as_deref(), Some("30"));
        assert_eq!(retry(&answer(policy, "/429-own").await).as_deref(), Some("120"), "a handler's own value is kept");
        assert_eq!(retry(&answer(policy, "/503").await).as_deref(), Some("5"));
        assert_eq!(retry(&answer(policy, "/200").await), None);
    }

    #[tokio::test]
    async fn hsts_only_under_https() {
        let hsts = |res: &Response| {
            res.headers().get(header::STRICT_TRANSPORT_SECURITY).map(|v| v.to_str().unwrap().to_string())
        };
        let https = HeaderPolicy { hsts: true, throttled_retry_secs: 30 };
        assert_eq!(hsts(&answer(https, "/200").await).as_deref(), Some("max-age=63072000; includeSubDomains"));
        assert_eq!(hsts(&answer(https, "/429").await).as_deref(), Some("max-age=63072000; includeSubDomains"));
        assert_eq!(hsts(&answer(HeaderPolicy { hsts: false, ..https }, "/200").await), None);
    }
}
