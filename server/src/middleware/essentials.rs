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
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
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
        WithEssentials { policy: Arc::new(self), inner, peer: None }
    }
}

impl<S: Clone> WithEssentials<S> {
    /// This service for the requests of one connection, from `peer`. The request id's trust check
    /// reads the address from here, and only the requests whose handlers may read it get it as
    /// `ConnectInfo`: not the lean routes (health checks, the poll). An extension more than
    /// axum's three makes a request's map grow, about 700 instructions of a request of 16,000
    /// (README, "What every request costs").
    pub fn for_peer(&self, peer: SocketAddr) -> Self {
        WithEssentials { policy: self.policy.clone(), inner: self.inner.clone(), peer: Some(peer) }
    }
}

/// `inner` (the router) with [`Essentials`] around it.
#[derive(Clone, Debug)]
pub struct WithEssentials<S> {
    policy: Arc<Essentials>,
    inner: S,
    /// The connection's peer ([`WithEssentials::for_peer`]); without it (tests calling the router
    /// directly), whatever `ConnectInfo` the request brings.
    peer: Option<SocketAddr>,
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

    fn call(&mut self, mut req: Request) -> Self::Future {
        let peer = self.peer.or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0));
        let id = request_id_for(&self.policy.trusted_proxies, peer, req.headers());
        if let Some(peer) = self.peer.filter(|_| !(self.policy.peerless)(req.uri().path())) {
            req.extensions_mut().insert(ConnectInfo(peer));
        }
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
    use axum::body::Body;

    /// The essentials around a service that says whether its request came with the peer's address.
    fn around_a_probe(
        trusted: &[&str],
    ) -> WithEssentials<impl Service<Request, Response = Response, Error = Infallible, Future: Unpin> + Clone> {
        let probe = tower::service_fn(|req: Request| {
            let has = req.extensions().get::<ConnectInfo<SocketAddr>>().is_some();
            std::future::ready(Ok::<_, Infallible>(Response::new(Body::from(if has { "peer" } else { "none" }))))
        });
        Essentials {
            trusted_proxies: Arc::new(trusted.iter().map(|ip| ip.parse().unwrap()).collect()),
            headers: HeaderPolicy { hsts: false, throttled_retry_secs: 1 },
            peerless: crate::api::is_lean,
        }
        .around(probe)
    }

    async fn ask(
        service: &WithEssentials<impl Service<Request, Response = Response, Error = Infallible, Future: Unpin> + Clone>,
        path: &str,
        id: Option<&str>,
    ) -> (String, String) {
        let mut req = Request::builder().uri(path);
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        let res = tower::ServiceExt::oneshot(service.clone(), req.body(Body::empty()).unwrap()).await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(res.into_body(), 64).await.unwrap();
        (String::from_utf8(body.to_vec()).unwrap(), id)
    }

    #[tokio::test]
    async fn only_requests_whose_handlers_read_the_address_get_it() {
        let connection = around_a_probe(&[]).for_peer("198.51.100.7:4000".parse().unwrap());
        for lean in ["/healthz", "/readyz", app::model::STATUS_PATH] {
            assert_eq!(ask(&connection, lean, None).await.0, "none", "{lean}");
        }
        for other in ["/", "/settings/sessions", "/api/v1/login", "/api/v1/sessions", "/healthz/x", "/healthz2"] {
            assert_eq!(ask(&connection, other, None).await.0, "peer", "{other}");
        }
    }

    #[tokio::test]
    async fn a_trusted_proxy_names_the_request_id_of_a_lean_route_too() {
        let proxy = around_a_probe(&["10.0.0.1"]);
        let (_, kept) = ask(&proxy.for_peer("10.0.0.1:4000".parse().unwrap()), "/healthz", Some("lb-7f3a.42_x")).await;
        assert_eq!(kept, "lb-7f3a.42_x");
        let (_, made) =
            ask(&proxy.for_peer("198.51.100.7:4000".parse().unwrap()), "/healthz", Some("lb-7f3a.42_x")).await;
        assert_ne!(made, "lb-7f3a.42_x", "a client that is not the proxy");
    }
}
