//! `--metrics-listen ADDR`: every metric in Prometheus' text format, on a listener of its own
//! (never the public one). `app::ssr::metrics` names what the product records; this module
//! installs the recorder, serves `/metrics`, and times requests by their route template (a raw
//! path could carry a session id, so none is ever a label).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's one recorder, installed on first use (the recorder is global).
pub fn recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("postern_http_request_duration_seconds".into()), &seconds)
                .and_then(|b| b.install_recorder())
                .expect("the metrics recorder is installed once")
        })
        .clone()
}

/// The `/metrics` endpoint.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    )
}

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle) -> std::io::Result<()> {
    axum::serve(listener, router(handle)).await
}

/// Counts and times every request by route template (`/api/v1/sessions/{id}`); what no route
/// matched (built assets, unknown paths) is `other`. The time is until the answer's head: an
/// event stream's body runs for as long as its session.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("other".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let seconds = started.elapsed().as_secs_f64();
    metrics::counter!("postern_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("postern_http_request_duration_seconds", "route" => route).record(seconds);
    res
}
