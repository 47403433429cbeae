//! Which session a request runs in, whether a state-changing request really comes from our own
//! pages, and the redirects of pages that need (or must not have) a session.

use super::client_ip::client_info;
use crate::error::ApiError;
use crate::AppState;
use app::ssr::Resolved;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// Paths that never need the session looked up: built assets and the endpoints that do their
/// own authentication (the bearer API and the event stream). The health checks and the status
/// poll never come here (`api::lean_routes`).
fn is_exempt(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/api/v1/")
        || path == app::model::EVENTS_PATH
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
    // Everything but the safe methods, custom ones (`PURGE`, …) included.
    let state_changing = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if state_changing && !same_origin(req.headers(), &state.public_origin) {
        tracing::warn!(%path, "cross-site request refused");
        return cross_site_refused();
    }

    let client = client_info(&req, &state.trusted_proxies);
    let cookies = state.ctx.cookie.session_cookies_in(req.headers());
    let resolved = match cookies.token {
        Some(token) => match state.ctx.auth.authenticate_browser(&token, cookies.bound.as_deref(), true).await {
            Ok(resolved) => resolved,
            // JSON with the error's status (503); `headers::add_response_headers` adds `Retry-After`.
            Err(err) => return ApiError(err).into_response(),
        },
        None => Resolved::None,
    };

    // HEAD is GET without the body: it must not learn more than GET (a page's status, say).
    let is_page = matches!(method, Method::GET | Method::HEAD) && !path.starts_with("/api/");
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

fn cross_site_refused() -> Response {
    ApiError(app::model::AppError::Forbidden).into_response()
}

/// `Sec-Fetch-Site: same-origin`, or, where a browser does not send it, an `Origin` equal to our
/// public origin (byte for byte: browsers send it lower-case, without a path or trailing slash).
/// Anything else is refused (ASVS V3.5, OWASP CSRF cheat sheet).
pub fn same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    headers.get(header::ORIGIN).is_some_and(|o| o.as_bytes() == public_origin.as_bytes())
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
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://mail.example.com")]),
            origin
        ));
        assert!(same_origin(&headers(&[("origin", "https://mail.example.com")]), origin));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example")]), origin));
        for look_alike in [
            "https://mail.example.com/",
            "HTTPS://MAIL.EXAMPLE.COM",
            "https://mail.example.com.evil.example",
            "https://mail.example.com:443",
        ] {
            assert!(!same_origin(&headers(&[("origin", look_alike)]), origin), "{look_alike}");
        }
        assert!(!same_origin(&headers(&[]), origin));
    }
}
