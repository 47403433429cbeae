//! The real server (router, middleware, server functions, JSON API) on a loopback port, one per
//! test, on a fresh database of either backend; and a tiny browser that keeps its cookie by hand,
//! so that tests can also replay cookies a real browser would have dropped.

#![allow(dead_code)]

use app::ssr::password::PasswordHasherPool;
use app::ssr::{ManualClock, SharedClock};
use clap::Parser;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use server::config::Config;
use server::AppState;
use std::sync::Arc;

#[allow(unused_imports)]
pub use app::backend_tests;
pub use app::ssr::testing::*;

pub const CHROME: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const COOKIE_NAME: &str = "postern_session";

pub mod raw;

// ---- the server -----------------------------------------------------------------------------

/// One running instance of the real router.
pub struct TestServer {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// A server with default settings and its own manual clock at [`T0`].
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, ManualClock::new(T0), &[]).await
    }

    /// A server on `db` reading `clock`, with extra command-line flags.
    pub async fn start_with(db: &TestDb, clock: Arc<ManualClock>, extra_args: &[&str]) -> Self {
        if std::env::var_os("POSTERN_TEST_LOG").is_some() {
            let _ =
                tracing_subscriber::fmt().with_env_filter("debug,sqlx=warn,hyper=warn,h2=warn,reqwest=warn").try_init();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let listen = addr.to_string();
        let mut args = vec!["postern", "--database-url", &db.url, "--listen", &listen];
        // A test may pose as a deployment behind https (its requests still come over http).
        if !extra_args.contains(&"--public-url") {
            args.extend(["--public-url", base.as_str()]);
        }
        args.extend_from_slice(extra_args);
        let config = Config::parse_from(args);
        let shared: SharedClock = clock.clone();
        let state = server::build_state(&config, shared, PasswordHasherPool::for_tests()).await.expect("build state");
        let router = server::router(state.clone());
        // The production serving loop, so that tests meet its timeouts.
        let header_read_timeout = config.header_read_timeout();
        let task = tokio::spawn(async move {
            let grace = std::time::Duration::from_secs(30);
            server::serve_listener(listener, router, header_read_timeout, std::future::pending(), grace, None)
                .await
                .expect("serve");
        });
        let http = client();
        TestServer { base, clock, state, http, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops serving (the database stays).
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.state.ctx.auth.store.close().await;
    }

    pub fn browser(&self) -> Browser {
        Browser { base: self.base.clone(), http: self.http.clone(), cookie: None, device: None }
    }

    /// The same browser (cookie included) talking to another instance.
    pub fn browser_with(&self, cookie: Option<String>) -> Browser {
        Browser { base: self.base.clone(), http: self.http.clone(), cookie, device: None }
    }

    pub fn app(&self) -> MailApp {
        MailApp { base: self.base.clone(), http: self.http.clone(), token: None }
    }

    pub fn app_with(&self, token: &str) -> MailApp {
        MailApp { base: self.base.clone(), http: self.http.clone(), token: Some(token.to_string()) }
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.http
    }

    /// Creates an account through the sign-up server function; returns the browser, signed in.
    pub async fn sign_up(&self, name: &str, email: &str) -> Browser {
        let mut b = self.browser();
        let res = b.sign_up(name, email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "sign-up failed: {}", res.text);
        assert!(b.cookie.is_some());
        b
    }

    /// A fresh browser (no session cookie, no device cookie), logged in to `email`.
    pub async fn logged_in(&self, email: &str, password: &str, remember: bool) -> Browser {
        let mut b = self.browser();
        let res = b.log_in(email, password, remember).await;
        assert_eq!(res.status, StatusCode::OK, "login of {email}: {}", res.text);
        assert!(b.cookie.is_some());
        b
    }

    /// A plain TCP connection to the server, for tests that write and read the wire themselves.
    pub async fn connect(&self) -> tokio::net::TcpStream {
        tokio::net::TcpStream::connect(self.base.trim_start_matches("http://")).await.expect("connect")
    }
}

/// An HTTP client for a server that is not a [`TestServer`] (a separate process, say).
pub fn client() -> reqwest::Client {
    // A request that hangs fails its test in seconds instead of stalling the whole run.
    client_with_timeout(std::time::Duration::from_secs(30))
}

/// Like [`client`], for requests that may wait long for a reason (real password hashing on a
/// loaded machine).
pub fn client_with_timeout(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(CHROME)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// Asks `ready` every 20 ms until it says yes; after `within`, fails saying what did not happen.
/// Tests wait for conditions like this, never for a fixed time: a loaded machine is slow.
pub async fn eventually<F, Fut>(within: std::time::Duration, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !ready().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within {within:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl Browser {
    pub fn at(base: &str, cookie: Option<String>) -> Self {
        Browser { base: base.to_string(), http: client(), cookie, device: None }
    }

    /// A browser at `base` that sends its requests through `http`.
    pub fn at_with(base: &str, http: reqwest::Client) -> Self {
        Browser { base: base.to_string(), http, cookie: None, device: None }
    }
}

impl MailApp {
    pub fn at(base: &str, token: Option<String>) -> Self {
        MailApp { base: base.to_string(), http: client(), token }
    }

    /// A mail app at `base`, not logged in, that sends its requests through `http`.
    pub fn at_with(base: &str, http: reqwest::Client) -> Self {
        MailApp { base: base.to_string(), http, token: None }
    }
}

/// A response, read to the end.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Answer { status, headers, text }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The `Set-Cookie` of the session cookie, if any.
    pub fn session_set_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{COOKIE_NAME}=")))
    }

    /// The value of the `postern_device` cookie this answer sets, if any.
    pub fn device_set_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("postern_device="))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
    }
}

/// A browser: remembers the session cookie the way a browser would (set, replaced, cleared).
#[derive(Clone)]
pub struct Browser {
    pub base: String,
    http: reqwest::Client,
    /// The token in the `postern_session` cookie.
    pub cookie: Option<String>,
    /// The browser's id in the `postern_device` cookie, kept like a real browser keeps it.
    pub device: Option<String>,
}

impl Browser {
    fn absorb(&mut self, answer: &Answer) {
        if let Some(device) = answer.device_set_cookie() {
            self.device = Some(device);
        }
        if let Some(set) = answer.session_set_cookie() {
            let value = set[COOKIE_NAME.len() + 1..].split(';').next().unwrap_or("").to_string();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(value);
            }
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        let cookies: Vec<String> = [
            self.cookie.as_ref().map(|t| format!("{COOKIE_NAME}={t}")),
            self.device.as_ref().map(|d| format!("postern_device={d}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        req
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let answer = Answer::read(self.request(Method::GET, path).send().await.expect("GET")).await;
        self.absorb(&answer);
        answer
    }

    /// A server function call as the page's own JavaScript makes it: same-origin, form-encoded.
    pub async fn call(&mut self, name: &str, form: &[(&str, &str)]) -> Answer {
        self.call_with(name, form, &[("sec-fetch-site", "same-origin")]).await
    }

    /// Like [`Browser::call`] (same-origin, form-encoded), but `None` when the server gave no
    /// answer (it was killed, say) instead of panicking.
    pub async fn try_call(&mut self, name: &str, form: &[(&str, &str)]) -> Option<Answer> {
        let req =
            self.request(Method::POST, &format!("/api/fn/{name}")).form(form).header("sec-fetch-site", "same-origin");
        let res = req.send().await.ok()?;
        let answer = Answer::read(res).await;
        self.absorb(&answer);
        Some(answer)
    }

    /// A server function call with the given extra headers (and no implied `Sec-Fetch-Site`).
    pub async fn call_with(&mut self, name: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        self.call_method(Method::POST, name, form, headers).await
    }

    /// Like [`Browser::call_with`], with any method (server functions only accept POST).
    pub async fn call_method(
        &mut self,
        method: Method,
        name: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.request(method, &format!("/api/fn/{name}")).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let answer = Answer::read(req.send().await.expect("POST")).await;
        self.absorb(&answer);
        answer
    }

    pub async fn sign_up(&mut self, name: &str, email: &str, password: &str) -> Answer {
        self.call("signup", &[("name", name), ("email", email), ("password", password), ("repeat_password", password)])
            .await
    }

    pub async fn log_in(&mut self, email: &str, password: &str, remember: bool) -> Answer {
        let mut form = vec![("email", email), ("password", password)];
        if remember {
            form.push(("remember", "on"));
        }
        self.call("login", &form).await
    }

    /// `GET /api/session/status` as JSON.
    pub async fn status(&mut self) -> Value {
        let answer = self.get("/api/session/status").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        answer.json()
    }

    /// The caller's sessions through the server function.
    pub async fn sessions(&mut self) -> Vec<Value> {
        let answer = self.call("sessions", &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let answer = answer.json();
        assert!(answer["sessions_version"].is_i64(), "the list says which version it shows");
        answer["sessions"].as_array().expect("a list").clone()
    }

    /// The current session's public id.
    pub async fn session_id(&mut self) -> String {
        let list = self.sessions().await;
        let current = list.iter().find(|s| s["current"] == true).expect("a current session");
        current["id"].as_str().unwrap().to_string()
    }
}

/// The mobile mail app: bearer tokens on `/api/v1`.
#[derive(Clone)]
pub struct MailApp {
    pub base: String,
    http: reqwest::Client,
    pub token: Option<String>,
}

impl MailApp {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    pub async fn send(&self, method: Method, path: &str) -> Answer {
        Answer::read(self.request(method, path).send().await.expect("request")).await
    }

    /// Logs in; on success keeps the token and returns the session id.
    pub async fn log_in(&mut self, email: &str, password: &str, device: &str) -> Answer {
        let body = serde_json::json!({ "email": email, "password": password, "device_name": device });
        let answer =
            Answer::read(self.request(Method::POST, "/api/v1/login").json(&body).send().await.expect("login")).await;
        if answer.status == StatusCode::OK {
            self.token = Some(answer.json()["token"].as_str().expect("token").to_string());
        }
        answer
    }

    pub async fn me(&self) -> Answer {
        self.send(Method::GET, "/api/v1/me").await
    }

    pub async fn session_id(&self) -> String {
        let me = self.me().await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        me.json()["session_id"].as_str().unwrap().to_string()
    }
}

/// Signs up through the browser, then logs the mail app in; returns both.
pub async fn browser_and_app(server: &TestServer, email: &str) -> (Browser, MailApp) {
    let browser = server.sign_up("Ada Lovelace", email).await;
    let mut app = server.app();
    let res = app.log_in(email, PASSWORD, "Pixel 8").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    (browser, app)
}

// ---- event streams ------------------------------------------------------------------------------

/// One block of a server-sent-events stream: an event (`event`, `data`), or only a comment, a
/// `retry:` hint, or both.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SseBlock {
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
    pub comment: Option<String>,
}

impl SseBlock {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// An open event stream, read block by block.
pub struct EventStream {
    pub status: StatusCode,
    pub headers: HeaderMap,
    res: reqwest::Response,
    buf: String,
    closed: bool,
}

/// How long a test waits for the next block before it fails: push is meant to be instant, this
/// is only for a loaded machine.
pub const STREAM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

impl EventStream {
    /// Opens the stream `req` asks for (on a client without a total timeout: streams stay open).
    pub async fn open(req: reqwest::RequestBuilder) -> Self {
        let res = req.send().await.expect("open the event stream");
        EventStream { status: res.status(), headers: res.headers().clone(), res, buf: String::new(), closed: false }
    }

    /// The next block, or `None` once the server closed the stream. Fails the test if nothing
    /// comes for a long while.
    pub async fn next_block(&mut self) -> Option<SseBlock> {
        loop {
            if let Some(at) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..at + 2).collect();
                return Some(parse_block(&block));
            }
            if self.closed {
                return None;
            }
            let chunk = tokio::time::timeout(STREAM_PATIENCE, self.res.chunk()).await.unwrap_or_else(|_| {
                panic!("the event stream said nothing for {STREAM_PATIENCE:?} (buffer {:?})", self.buf)
            });
            match chunk {
                Ok(Some(bytes)) => self.buf.push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                Ok(None) | Err(_) => self.closed = true,
            }
        }
    }

    /// The next block that is an event (heartbeats and other comments skipped).
    pub async fn next_event(&mut self) -> Option<SseBlock> {
        loop {
            let block = self.next_block().await?;
            if block.event.is_some() {
                return Some(block);
            }
        }
    }

    /// The next event, which must be `name`; returns its data.
    pub async fn expect(&mut self, name: &str) -> Value {
        let block = self.next_event().await.unwrap_or_else(|| panic!("the stream closed before `{name}`"));
        assert_eq!(block.event.as_deref(), Some(name), "expected `{name}`, got {block:?}");
        block.json()
    }

    /// The stream must close now, with nothing but comments before the end.
    pub async fn expect_closed(&mut self) {
        if let Some(block) = self.next_event().await {
            panic!("expected the stream to close, got {block:?}");
        }
    }

    /// Nothing but comments arrives within `within` (a stream that must stay quiet).
    pub async fn expect_quiet(&mut self, within: std::time::Duration) {
        if let Ok(block) = tokio::time::timeout(within, self.next_event()).await {
            panic!("expected no event, got {block:?}");
        }
    }
}

fn parse_block(block: &str) -> SseBlock {
    let mut out = SseBlock::default();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(c) = line.strip_prefix(':') {
            out.comment = Some(c.trim().to_string());
        } else if let Some(v) = line.strip_prefix("event:") {
            out.event = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        } else if let Some(v) = line.strip_prefix("retry:") {
            out.retry = v.trim().parse().ok();
        }
    }
    out.data = data.join("\n");
    out
}

/// A client for streams: no total timeout (each read has its own patience).
pub fn stream_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent(CHROME).build().unwrap()
}

impl Browser {
    /// Opens the page's event stream as `EventSource` does: same origin, with the cookie.
    pub async fn events(&self) -> EventStream {
        self.events_with(&[("sec-fetch-site", "same-origin")]).await
    }

    /// Opens the event stream with the given request headers (and the cookie).
    pub async fn events_with(&self, headers: &[(&str, &str)]) -> EventStream {
        let mut req = stream_client().get(format!("{}{}", self.base, app::model::EVENTS_PATH));
        if let Some(token) = &self.cookie {
            req = req.header("cookie", format!("{COOKIE_NAME}={token}"));
        }
        req = req.header("accept", "text/event-stream");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        EventStream::open(req).await
    }
}

impl MailApp {
    /// Opens `GET /api/v1/events` with the app's token.
    pub async fn events(&self) -> EventStream {
        let mut req = stream_client().get(format!("{}/api/v1/events", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        EventStream::open(req).await
    }
}
