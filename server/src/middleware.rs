//! Runs before every page and server function: who the client is, which session it is in,
//! whether a state-changing request really comes from our own pages, and the security headers.

use crate::AppState;
use app::model::AppError;
use app::ssr::{ClientInfo, Resolved};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::{IpAddr, SocketAddr};

/// Paths that never need the session looked up: built assets and the endpoints that do their
/// own authentication (the bearer API and the status poll).
fn is_exempt(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/api/v1/")
        || path == "/api/session/status"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/favicon.ico"
}

fn is_public_page(path: &str) -> bool {
    path == "/login" || path == "/signup"
}

pub async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_exempt(&path) {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let state_changing = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if state_changing && !same_origin(req.headers(), &state.public_origin) {
        tracing::warn!(%path, "cross-site request refused");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }

    let client = client_info(&req, &state.trusted_proxies);
    let token = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| state.ctx.cookie.token_from_header(h).map(str::to_owned));
    let resolved = match token {
        Some(token) => match state.ctx.auth.authenticate(&token, true).await {
            Ok(resolved) => resolved,
            Err(err) => return unavailable(err),
        },
        None => Resolved::None,
    };

    let is_page = method == Method::GET && !path.starts_with("/api/");
    if is_page {
        match (resolved.active().is_some(), is_public_page(&path)) {
            (true, true) => return Redirect::to("/").into_response(),
            (false, false) => return Redirect::to("/login").into_response(),
            _ => {}
        }
    }

    req.extensions_mut().insert(resolved);
    req.extensions_mut().insert(client);
    let mut res = next.run(req).await;
    // Pages and server-function answers are personal: never cached.
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn unavailable(err: AppError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::RETRY_AFTER, "5")], err.to_string()).into_response()
}

/// `Sec-Fetch-Site: same-origin`, or, where a browser does not send it, an `Origin` equal to our
/// public origin. Anything else is refused (ASVS V3.5, OWASP CSRF cheat sheet).
pub fn same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    headers.get(header::ORIGIN).is_some_and(|o| o.as_bytes() == public_origin.as_bytes())
}

/// The client's address: the socket peer, or, behind a trusted proxy, the right-most address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_info(req: &Request, trusted: &[IpAddr]) -> ClientInfo {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = match peer {
        Some(peer) if trusted.contains(&peer) => forwarded_client(req.headers(), trusted).unwrap_or(peer),
        Some(peer) => peer,
        None => return ClientInfo { ip: "unknown".into(), user_agent: user_agent(req.headers()), device_id: None },
    };
    ClientInfo { ip: canonical_ip(ip).to_string(), user_agent: user_agent(req.headers()), device_id: None }
}

fn forwarded_client(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for part in value.to_str().ok()?.split(',') {
            hops.push(part.trim().parse().ok()?);
        }
    }
    hops.into_iter().rev().find(|ip| !trusted.contains(ip))
}

/// IPv4 clients on a dual-stack socket show up as `::ffff:a.b.c.d`; show them as people know them.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn user_agent(headers: &HeaderMap) -> String {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(512).collect()
}

/// Reads the whole request body, at most `limit` bytes, before anything else sees it: a larger
/// one is refused with 413, whether its `Content-Length` says so (then it is not read at all) or
/// it comes chunked. Every form and API body is tiny, and handlers then never meet a body that
/// fails half-way (which server functions would answer with a misleading error).
pub async fn body_limit(limit: usize, req: Request, next: Next) -> Response {
    let too_large = || (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.").into_response();
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(err) if is_length_limit(&err) => return too_large(),
        // The client went away or sent a broken body: its fault, and nobody is listening anyway.
        Err(_) => return (StatusCode::BAD_REQUEST, "The request body could not be read.").into_response(),
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
        return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Headers every answer carries (ASVS V3.4).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_needs_proof() {
        let origin = "https://mail.example.com";
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")]), origin));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")]), origin));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://mail.example.com")]), origin));
        assert!(same_origin(&headers(&[("origin", "https://mail.example.com")]), origin));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example")]), origin));
        assert!(!same_origin(&headers(&[]), origin));
    }

    #[tokio::test]
    async fn server_fn_errors_get_the_status_of_their_error() {
        use axum::routing::post;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route("/api/fn/args", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"bad_request","message":"missing field"}"#) }))
            .route("/api/fn/internal", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"internal"}"#) }))
            .route("/api/fn/plain", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "not json") }))
            .route("/other", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"bad_request","message":"x"}"#) }))
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

    #[test]
    fn forwarded_for_takes_the_rightmost_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.1")]);
        assert_eq!(forwarded_client(&h, &[proxy]), Some("203.0.113.7".parse().unwrap()));
        let spoofed = headers(&[("x-forwarded-for", "not an ip")]);
        assert_eq!(forwarded_client(&spoofed, &[proxy]), None);
    }
}

/// One line per request at debug level: method, path, status, time. Never headers (no `Cookie`,
/// no `Authorization`), never the query string, never a body.
pub async fn access_log(req: Request, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(req).await;
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::debug!(%method, %path, status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    res
}
