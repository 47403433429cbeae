//! The Content-Security-Policy of HTML pages (ASVS 5.0 V3.4.3): scripts only from this origin and
//! the inline hydration and streaming scripts Leptos marks with this response's nonce; WASM may be
//! compiled; nothing may frame the page.

use http::header::CONTENT_SECURITY_POLICY;
use http::HeaderValue;
use leptos::config::LeptosOptions;

/// The policy for a page whose inline scripts carry `nonce`. `live_reload_port`: `cargo leptos
/// watch` reloads the page over a WebSocket on another port; only then is that allowed.
pub fn policy(nonce: &str, live_reload_port: Option<u32>) -> String {
    let reload = live_reload_port.map(|port| format!(" ws://*:{port} wss://*:{port}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'{reload}; frame-ancestors 'none'; base-uri 'self'; \
         form-action 'self'; object-src 'none'"
    )
}

/// Sets the page's policy with the nonce leptos_axum generated for this response (it puts the
/// same nonce on the scripts it writes). Called while the shell renders, before the first byte
/// is sent, so the header goes out with the page.
pub fn set_for_page(options: &LeptosOptions) {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        // Without a nonce the inline scripts could not run under this policy; the middleware's
        // fallback policy (no script-src) applies instead.
        tracing::error!("no CSP nonce while rendering a page");
        return;
    };
    let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else { return };
    // Same condition as `<AutoReload/>`, which only then adds its script.
    let live_reload = std::env::var_os("LEPTOS_WATCH").is_some().then_some(options.reload_port);
    if let Ok(value) = HeaderValue::from_str(&policy(&nonce, live_reload)) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_need_the_nonce_or_this_origin() {
        let p = policy("abc123", None);
        assert!(p.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"), "{p}");
        assert!(!p.contains("unsafe-inline") && !p.contains("'unsafe-eval'"), "{p}");
        assert!(p.contains("connect-src 'self';"), "{p}");
        assert!(p.contains("frame-ancestors 'none'") && p.contains("object-src 'none'"), "{p}");
    }

    #[test]
    fn live_reload_may_connect_to_its_port() {
        assert!(policy("n", Some(3001)).contains("connect-src 'self' ws://*:3001 wss://*:3001;"));
    }
}
