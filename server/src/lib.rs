//! The Postern server: configuration, the axum router (pages, server functions, JSON API) and
//! background jobs. `main.rs` only parses the configuration and calls [`serve`].
// The pages' view types (islands nest server-rendered children) are deep.
#![recursion_limit = "256"]

pub mod activity_csv;
pub mod admin;
pub mod api;
pub mod config;
pub mod dbsc;
pub mod error;
pub mod events;
pub mod header_timer;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod serve;
pub mod tls;

use app::ssr::cookie::CookieSettings;
use app::ssr::password::PasswordHasherPool;
use app::ssr::request::AppContext;
use app::ssr::{AuthService, SharedClock, Store, SystemClock};
use app::{shell, App};
use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
use config::Config;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use middleware::{BodyLimits, FlashCookie, HeaderPolicy};
pub use serve::serve_listener;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use utoipa::OpenApi;

/// Shared by every handler, behind one reference count: axum clones the state for every layer and
/// handler a request passes, and cloning its fields (a few dozen reference counts, a channel's
/// sender) was half of the CPU of a `/healthz` request (bench/results.md).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(shared: SharedState) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// What [`AppState`] holds.
pub struct SharedState {
    pub leptos_options: LeptosOptions,
    pub ctx: AppContext,
    pub public_origin: String,
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub body_limits: BodyLimits,
    pub header_policy: HeaderPolicy,
    /// With `--metrics-listen`: the recorder whose text `/metrics` serves; requests are timed.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// Request bodies larger than this are refused with 413: every form and API body is tiny.
const BODY_LIMIT: usize = 16 * 1024;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] app::ssr::store::StoreError),
    #[error(transparent)]
    Geo(#[from] app::ssr::geo::GeoError),
}

/// Opens the database (and the GeoIP database, if configured) and builds the services from the
/// configuration.
pub async fn build_state(
    config: &Config,
    clock: SharedClock,
    hasher: PasswordHasherPool,
) -> Result<AppState, StartError> {
    // Before the database: a wrong path fails at once, and leaves no connections behind.
    let locator = match &config.geoip_db {
        Some(path) => app::ssr::geo::Locator::open(path)?,
        None => app::ssr::geo::Locator::default(),
    };
    let store = Store::connect(&config.database_url).await?;
    // Until the store closes: commits of other processes and instances reach this one's streams.
    store.start_change_feed();
    let auth = AuthService::new(store, clock, config.session_policy(), hasher)
        .with_throttle(config.throttle_policy())
        .with_locator(locator);
    let leptos_options = LeptosOptions::builder()
        .output_name("postern")
        .site_root(config.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    Ok(AppState::new(SharedState {
        leptos_options,
        ctx: AppContext {
            auth,
            cookie: CookieSettings { secure: config.secure_cookies() },
            poll_interval_ms: config.poll_interval_ms,
            stream_poll_interval_ms: config.stream_poll_interval_ms,
        },
        public_origin: config.public_origin(),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        body_limits: BodyLimits { max_bytes: BODY_LIMIT, read_timeout: config.body_read_timeout() },
        header_policy: HeaderPolicy {
            hsts: config.secure_cookies(),
            throttled_retry_secs: config.throttle_base_delay_secs.max(1).unsigned_abs(),
        },
        metrics: config.metrics_listen.map(|_| metrics::recorder()),
    }))
}

/// The whole application: the router, with what every request gets around it.
pub type Site = middleware::WithEssentials<Router>;

/// The whole application as one service.
pub fn router(state: AppState) -> Site {
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();
    let ctx = state.ctx.clone();
    let (body_limits, header_policy) = (state.body_limits, state.header_policy);
    let flash = FlashCookie { secure: state.ctx.cookie.secure };
    let timed = state.metrics.is_some();
    let essentials = middleware::Essentials {
        trusted_proxies: state.trusted_proxies.clone(),
        headers: header_policy,
        peerless: api::is_lean,
    };
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx.clone()),
            move || shell(leptos_options.clone()),
        )
        .merge(api::routes())
        .merge(dbsc::routes())
        .route(activity_csv::ACTIVITY_CSV_PATH, get(activity_csv::download))
        .route("/api/v1/openapi.json", get(|| async { Json(openapi::ApiDoc::openapi()) }))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));
    // Only with metrics on: a request costs nothing for them otherwise. Inside the routes, where
    // the route template is known.
    let pages = if timed { pages.layer(axum::middleware::from_fn(metrics::track)) } else { pages };
    let pages = pages
        .layer(axum::middleware::from_fn(middleware::server_fn_error_status))
        .layer(axum::middleware::from_fn_with_state(flash, middleware::flash_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::session_layer))
        .layer(axum::middleware::from_fn(move |req, next| middleware::body_limit(body_limits, req, next)))
        .with_state(state.clone());
    // The health checks and the poll skip the layers above, which they have no use for (no page,
    // no session of the middleware's, no body): everything else falls through to them.
    let lean = api::lean_routes();
    let lean = if timed { lean.layer(axum::middleware::from_fn(metrics::track)) } else { lean };
    // Around everything, so that every answer gets the request id and the headers, the body
    // limit's refusals and the router's own 404 and 405 included.
    essentials.around(lean.with_state(state).fallback_service(pages))
}

/// Marks expired sessions and purges old ones every `interval`, until the server shuts down (a
/// run in progress then finishes its transaction first).
pub fn spawn_purge_job(auth: AuthService, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        let hub = auth.store.hub().clone();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = hub.closed() => return,
            }
            match auth.purge().await {
                Ok((expired, deleted)) => tracing::info!(expired, deleted, "session housekeeping"),
                Err(err) => tracing::warn!(error = %err, "session housekeeping failed"),
            }
        }
    })
}

/// Serves until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    // One core stays free of password hashing (where there is more than one): a login storm must
    // not take every core from the requests that have to stay fast. On two cores the poll's p99
    // grows ×2.7–4.0 during a 64-way storm this way, ×4.6–6 with hashing on both (bench/results.md).
    let concurrency = config
        .hash_concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get().saturating_sub(1).max(1)).unwrap_or(1));
    let hasher = PasswordHasherPool::new(concurrency, config.hash_queue_timeout());
    raise_file_limit();
    // Before the database: a certificate that cannot be used stops the start at once.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let state = build_state(&config, Arc::new(SystemClock), hasher).await?;
    tracing::info!(backend = state.ctx.auth.store.backend_name(), "database ready");
    let purge = spawn_purge_job(state.ctx.auth.clone(), Duration::from_secs(config.purge_interval_secs.max(1)));
    let hub = state.ctx.auth.store.hub().clone();
    let store = state.ctx.auth.store.clone();
    if let (Some(addr), Some(handle)) = (config.metrics_listen, state.metrics.clone()) {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "metrics at /metrics");
        tokio::spawn(async move {
            if let Err(err) = metrics::serve(listener, handle).await {
                tracing::error!(error = %err, "the metrics listener failed");
            }
        });
    }
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if config.log_format == config::LogFormat::Json {
        // Every line of a JSON log is JSON.
        tracing::info!(%addr, "Postern is listening");
    } else {
        println!("Postern is listening on {}://{addr}", if tls.is_some() { "https" } else { "http" });
    }
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!(open_streams = hub.open_streams(), "shutting down");
        // Open event streams would hold the graceful shutdown for ever: each closes with a short
        // `retry:`, and its browser reconnects (to another instance) without showing anything.
        hub.shut_down();
    };
    let grace = Duration::from_secs(config.shutdown_timeout_secs);
    serve_listener(listener, app, config.header_read_timeout(), shutdown, grace, tls).await?;
    // The housekeeping job finishes the run it is in (one transaction), then the pools close.
    let _ = tokio::time::timeout(grace, purge).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Every open event stream is a file descriptor: the soft limit (often 1024) goes up to the hard
/// one, so that a server holds as many streams as the machine allows (README, "Push").
fn raise_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open file limit"),
        Err(err) => tracing::warn!(error = %err, "could not raise the open file limit"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
