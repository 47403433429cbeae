//! What every request gets, the cheapest ones included: a request id (in a tracing span around
//! everything the request logs, and in the answer's `X-Request-Id`), a line in the access log at
//! debug level, the one JSON shape of every error that is not a page's, and the headers every
//! answer carries.
//!
//! A service around the whole router rather than a layer added with `Router::layer`: that wraps
//! every route on its own, in a closure, behind two more boxed futures, and those boxings copied
//! the poll's whole future several times per request (callgrind, bench/results.md).

use super::headers::{add_response_headers, HeaderPolicy};
use super::limits::{is_non_page, non_page_error_as_json};
use super::request_id::{request_id_for, HEADER};
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tower::Service;

#[derive(Clone, Debug)]
pub struct Essentials {
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub headers: HeaderPolicy,
    /// The paths whose handlers never read the client's address (`api::is_lean`).
    pub peerless: fn(&str) -> bool,
}

impl Essentials {
    pub fn around<S>(self, inner: S) -> WithEssentials<S> {
        WithEssentials { policy: Arc::new(self), inner }
    }
}

impl<S> WithEssentials<S> {
    /// Whether a request for `path` needs its peer's address (`ConnectInfo`): unless its handler
    /// never reads it and no proxy is trusted (whose request id would be kept). Each extension
    /// costs: the fourth (after axum's three) makes the request's map grow, about 700
    /// instructions on a request of 16,000 (README, "What every request costs").
    pub fn wants_peer(&self, path: &str) -> bool {
        !self.policy.trusted_proxies.is_empty() || !(self.policy.peerless)(path)
    }
}

/// `inner` (the router) with [`Essentials`] around it.
#[derive(Clone, Debug)]
pub struct WithEssentials<S> {
    policy: Arc<Essentials>,
    inner: S,
}

impl<S> Service<Request> for WithEssentials<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EssentialsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let id = request_id_for(&self.policy.trusted_proxies, &req);
        let span = tracing::info_span!("request", request_id = %id.to_str().unwrap_or_default());
        // The access line: method, path, status, time. Never headers (no `Cookie`, no
        // `Authorization`), never the query string, never a body; nothing at all is formatted when
        // debug lines are filtered out.
        let logged = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| (req.method().clone(), req.uri().path().to_owned(), Instant::now()));
        let non_page = is_non_page(req.uri().path());
        let inner = span.in_scope(|| self.inner.call(req));
        EssentialsFuture { inner, span, id, logged, non_page, headers: self.policy.headers }
    }
}

pub struct EssentialsFuture<F> {
    inner: F,
    span: tracing::Span,
    id: HeaderValue,
    logged: Option<(Method, String, Instant)>,
    non_page: bool,
    // A copy, not the shared policy: no reference count for two workers to pass to and fro.
    headers: HeaderPolicy,
}

impl<F> Future for EssentialsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let res = {
            let _entered = this.span.enter();
            ready!(Pin::new(&mut this.inner).poll(cx))
        };
        let Ok(res) = res;
        let mut res = non_page_error_as_json(this.non_page, res);
        if let Some((method, path, started)) = this.logged.take() {
            let micros = started.elapsed().as_micros() as u64;
            this.span.in_scope(|| tracing::debug!(%method, %path, status = res.status().as_u16(), micros, "request"));
        }
        add_response_headers(this.headers, &mut res);
        let id = std::mem::replace(&mut this.id, HeaderValue::from_static(""));
        res.headers_mut().insert(HEADER.clone(), id);
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around_nothing(trusted: &[&str]) -> WithEssentials<()> {
        Essentials {
            trusted_proxies: Arc::new(trusted.iter().map(|ip| ip.parse().unwrap()).collect()),
            headers: HeaderPolicy { hsts: false, throttled_retry_secs: 1 },
            peerless: crate::api::is_lean,
        }
        .around(())
    }

    #[test]
    fn requests_get_the_peer_address_where_something_reads_it() {
        let direct = around_nothing(&[]);
        for lean in ["/healthz", "/readyz", app::model::STATUS_PATH] {
            assert!(!direct.wants_peer(lean), "{lean}");
        }
        for other in ["/", "/settings/sessions", "/api/v1/login", "/api/v1/sessions", "/healthz/x", "/healthz2"] {
            assert!(direct.wants_peer(other), "{other}");
        }
        // Behind a trusted proxy every request may carry its request id.
        assert!(around_nothing(&["10.0.0.1"]).wants_peer("/healthz"));
    }
}
