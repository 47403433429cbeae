//! Property-based tests over every form and API field, against the real server on SQLite:
//! whatever a client sends (arbitrary strings and types, SQL-looking text, malformed or oversized
//! bodies, arbitrary `Cookie` and `Authorization` headers), the answer is never a 5xx, never a
//! dropped connection (a panic), and never shows SQL or schema text. 64 cases per property.

#[macro_use]
#[allow(unused_macros)]
mod common;

use app::ssr::ManualClock;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use std::cell::RefCell;

const CASES: u32 = 64;

/// Words that only a leaked database error or schema could put into an answer (inputs never
/// contain them, so an echoed input cannot trip this).
const SQL_MARKERS: &[&str] = &[
    "sqlx",
    "SQLSTATE",
    "syntax error",
    "no such table",
    "no such column",
    "constraint failed",
    "violates",
    "relation \"",
    "login_throttle",
    "security_events",
    "password_hash",
    "token_hash",
    "RETURNING",
    "ON CONFLICT",
    "database error",
    "panicked",
];

/// Strings people (and attackers) put into form fields.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => r"\PC{0,40}",
        2 => "[a-zA-Z0-9._%+-]{1,12}@[a-z0-9-]{1,10}\\.[a-z]{2,4}",
        1 => Just("ada@example.com".to_string()),
        1 => Just(PASSWORD.to_string()),
        1 => prop::sample::select(vec![
            "' OR '1'='1", "'; DROP TABLE sessions; --", "\" OR 1=1 --", "ada@example.com' --", "\0", "%00",
            "${jndi:ldap://x}", "<script>alert(1)</script>", "../../etc/passwd", "\u{202e}\u{feff}", "",
        ])
        .prop_map(str::to_string),
        1 => "[a-zA-Z0-9 ]{250,3000}",
    ]
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        field().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop_oneof!["email|password|device_name", any::<String>()], inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Bytes a header value may carry (visible ASCII, space, tab, obs-text).
fn header_value(prefixes: &'static [&'static str]) -> impl Strategy<Value = HeaderValue> {
    let byte = prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t'), Just(b';'), Just(b'=')];
    (prop::sample::select(prefixes), prop::collection::vec(byte, 0..200)).prop_map(|(prefix, rest)| {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend(rest);
        HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| HeaderValue::from_static("x"))
    })
}

/// Percent-encodes everything but unreserved characters, for one path segment.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One server on a fresh SQLite database with throttling effectively off (so that every case
/// reaches the code behind it), a signed-in browser and a logged-in mail app.
struct Env {
    server: TestServer,
    _db: TestDb,
    cookie: RefCell<String>,
    token: String,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let db = TestDb::sqlite();
        let (server, cookie, token) = rt.block_on(async {
            let free = ["--throttle-account-free", "1000000", "--throttle-ip-free", "1000000"];
            let server = TestServer::start_with(&db, ManualClock::new(T0), &free).await;
            let (web, app) = browser_and_app(&server, "ada@example.com").await;
            (server, web.cookie.unwrap(), app.token.unwrap())
        });
        Env { server, _db: db, cookie: RefCell::new(cookie), token, rt }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.server.raw().request(method, self.server.url(path))
    }

    /// A server-function call from the signed-in page.
    fn call(&self, name: &str) -> RequestBuilder {
        self.request(Method::POST, &format!("/api/fn/{name}"))
            .header("sec-fetch-site", "same-origin")
            .header(COOKIE, format!("{COOKIE_NAME}={}", self.cookie.borrow()))
    }

    /// Sends `req` and checks the answer: there is one, it is not a 5xx, it holds no SQL. A
    /// renewed session cookie (a password change that went through) is kept.
    fn check(&self, req: RequestBuilder, what: &str) -> Result<Answer, TestCaseError> {
        let answer = self.rt.block_on(async {
            let res =
                req.send().await.map_err(|e| TestCaseError::fail(format!("{what}: no answer (a panic?): {e}")))?;
            Ok::<_, TestCaseError>(Answer::read(res).await)
        })?;
        prop_assert!(answer.status.as_u16() < 500, "{}: {:?} {}", what, answer.status, answer.text);
        for marker in SQL_MARKERS {
            prop_assert!(!answer.text.contains(marker), "{}: {:?} in {}", what, marker, answer.text);
        }
        if let Some(set) = answer.session_set_cookie() {
            let value = set[COOKIE_NAME.len() + 1..].split(';').next().unwrap_or("");
            if !value.is_empty() && !set.contains("Max-Age=0") {
                *self.cookie.borrow_mut() = value.to_string();
            }
        }
        Ok(answer)
    }

    fn run<S: Strategy>(&self, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
    where
        S::Value: std::fmt::Debug,
    {
        let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
        if let Err(err) = runner.run(&strategy, test) {
            panic!("{err}");
        }
        self.rt.block_on(async {
            let health = Answer::read(self.server.raw().get(self.server.url("/healthz")).send().await.unwrap()).await;
            assert_eq!(health.status, StatusCode::OK, "still serving");
        });
    }

    /// Whether the mail app's session still works.
    fn app_session_alive(&self) -> bool {
        self.rt.block_on(async { self.server.app_with(&self.token).me().await.status == StatusCode::OK })
    }
}

#[test]
fn sign_up_and_login_forms_take_anything() {
    let env = Env::start();
    let strategy = (field(), field(), field(), field(), prop::option::of(field()), any::<bool>());
    env.run(strategy, |(name, email, password, repeat, remember, signup)| {
        let anonymous =
            |name: &str| env.request(Method::POST, &format!("/api/fn/{name}")).header("sec-fetch-site", "same-origin");
        if signup {
            let form = [("name", &name), ("email", &email), ("password", &password), ("repeat_password", &repeat)];
            let res = env.check(anonymous("signup").form(&form), "signup")?;
            prop_assert!(matches!(res.status.as_u16(), 200 | 400), "signup: {:?} {}", res.status, res.text);
        } else {
            let mut form = vec![("email", &email), ("password", &password)];
            if let Some(remember) = &remember {
                form.push(("remember", remember));
            }
            let res = env.check(anonymous("login").form(&form), "login")?;
            prop_assert!(matches!(res.status.as_u16(), 200 | 400 | 401), "login: {:?} {}", res.status, res.text);
        }
        Ok(())
    });
}

#[test]
fn password_forms_of_a_signed_in_person_take_anything() {
    let env = Env::start();
    let current = prop_oneof![1 => Just(PASSWORD.to_string()), 3 => field()];
    env.run((current, field(), field(), any::<bool>()), |(current, new, repeat, change)| {
        let res = if change {
            let form = [("current_password", &current), ("new_password", &new), ("repeat_new_password", &repeat)];
            env.check(env.call("change_password").form(&form), "change_password")?
        } else {
            env.check(env.call("reset_auto_login").form(&[("password", &current)]), "reset_auto_login")?
        };
        prop_assert!(matches!(res.status.as_u16(), 200 | 400), "{:?} {}", res.status, res.text);
        Ok(())
    });
}

#[test]
fn session_forms_take_any_id() {
    let env = Env::start();
    env.run(field(), |id| {
        let res = env.check(env.call("end_session").form(&[("id", &id)]), "end_session")?;
        prop_assert!(matches!(res.status.as_u16(), 400 | 404), "{:?} {}", res.status, res.text);
        Ok(())
    });
}

#[test]
fn server_functions_take_any_raw_body() {
    let env = Env::start();
    let names = prop::sample::select(vec![
        "login",
        "signup",
        "logout_x",
        "me",
        "sessions",
        "end_session",
        "change_password",
        "reset_auto_login",
        "nope",
        "",
    ]);
    let content_types = prop::sample::select(vec![
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]);
    let body = prop::collection::vec(any::<u8>(), 0..600);
    env.run((names, content_types, body), |(name, content_type, body)| {
        let mut req = env.call(name).body(body);
        if !content_type.is_empty() {
            req = req.header(CONTENT_TYPE, content_type);
        }
        env.check(req, name)?;
        Ok(())
    });
}

#[test]
fn the_api_login_takes_any_json() {
    let env = Env::start();
    let typed = (field(), field(), field())
        .prop_map(|(e, p, d)| serde_json::json!({ "email": e, "password": p, "device_name": d }));
    env.run(prop_oneof![typed, json_value()], |body| {
        let res = env.check(env.request(Method::POST, "/api/v1/login").json(&body), "api login")?;
        prop_assert!(matches!(res.status.as_u16(), 200 | 400 | 401 | 415 | 422), "{:?} {}", res.status, res.text);
        prop_assert!(
            res.header("content-type").is_some_and(|v| v.starts_with("application/json")),
            "{:?}",
            res.headers
        );
        Ok(())
    });
}

#[test]
fn the_api_answers_malformed_json_with_a_json_error() {
    let env = Env::start();
    let text = prop_oneof![any::<String>(), r#"\{"email":[^}]{0,40}"#, r"[\[\]{}:,\x22a-z0-9 ]{0,60}"];
    env.run(text, |body| {
        let req = env.request(Method::POST, "/api/v1/login").header(CONTENT_TYPE, "application/json").body(body);
        let res = env.check(req, "api login")?;
        prop_assert!(res.status.is_client_error(), "{:?} {}", res.status, res.text);
        prop_assert!(res.json()["error"].is_string(), "{}", res.text);
        Ok(())
    });
}

#[test]
fn ending_a_session_through_the_api_takes_any_id() {
    let env = Env::start();
    env.run((field(), any::<bool>()), |(id, encode)| {
        // Encoded, the id is one path segment; raw, it may also be several, or none.
        let path =
            if encode { format!("/api/v1/sessions/{}", encode_segment(&id)) } else { format!("/api/v1/sessions/{id}") };
        let req = env.request(Method::DELETE, &path).bearer_auth(&env.token);
        let res = env.check(req, "api end session")?;
        // A raw id with dot segments ("../..") leaves /api/v1 once the client normalises the path:
        // a cookie-less DELETE elsewhere is refused as cross-site (403).
        prop_assert!(
            matches!(res.status.as_u16(), 204 | 400 | 401 | 403 | 404 | 405),
            "{}: {:?} {}",
            path,
            res.status,
            res.text
        );
        Ok(())
    });
    assert!(env.app_session_alive(), "no arbitrary id ended the caller's own session");
}

#[test]
fn any_cookie_header_is_harmless() {
    let env = Env::start();
    let cookie = header_value(&[
        "",
        "postern_session=",
        "postern_session=AAAA",
        "a=1; postern_session=",
        "__Host-postern_session=",
    ]);
    let targets = prop::sample::select(vec![
        (Method::GET, "/"),
        (Method::GET, "/login"),
        (Method::GET, "/settings/sessions"),
        (Method::GET, "/api/session/status"),
        (Method::POST, "/api/fn/sessions"),
        (Method::POST, "/api/fn/logout"),
    ]);
    env.run((cookie, targets), |(cookie, (method, path))| {
        let req = env.request(method, path).header(COOKIE, cookie).header("sec-fetch-site", "same-origin");
        let res = env.check(req, path)?;
        prop_assert!(res.status != StatusCode::OK || path != "/settings/sessions", "no arbitrary cookie is a session");
        Ok(())
    });
}

#[test]
fn any_authorization_header_is_harmless() {
    let env = Env::start();
    let auth = header_value(&["", "Bearer ", "Bearer", "Basic ", "bearer "]);
    let targets = prop::sample::select(vec![
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/sessions"),
        (Method::DELETE, "/api/v1/sessions"),
        (Method::POST, "/api/v1/logout"),
        (Method::DELETE, "/api/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
    ]);
    env.run((auth, targets), |(auth, (method, path))| {
        let res = env.check(env.request(method, path).header(AUTHORIZATION, auth), path)?;
        prop_assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}: {}", path, res.text);
        Ok(())
    });
}

/// One HTTP/1.1 exchange on a raw socket: writes `head`, then the body parts (stopping quietly if
/// the server has stopped reading), and returns the answer's status line and the rest. A raw
/// socket, because a server that refuses a body before reading it closes the connection, and a
/// client still busy sending may then lose the answer.
async fn raw_exchange(addr: &str, head: String, body: Vec<Vec<u8>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket.write_all(head.as_bytes()).await.expect("write head");
    for part in body {
        if socket.write_all(&part).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(std::time::Duration::from_secs(10), socket.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn bodies_over_16_kib_are_refused_with_413() {
    let env = Env::start();
    let addr = env.server.base.trim_start_matches("http://").to_string();
    let targets = prop::sample::select(vec![
        "/api/fn/login",
        "/api/fn/signup",
        "/api/fn/change_password",
        "/api/fn/end_session",
        "/api/v1/login",
        "/api/v1/logout",
        "/login",
        "/no-such-path",
    ]);
    env.run((targets, 16 * 1024 + 1..64 * 1024usize, any::<u8>(), any::<bool>()), |(path, size, byte, chunked)| {
        let content_type =
            if path.starts_with("/api/v1/") { "application/json" } else { "application/x-www-form-urlencoded" };
        let common = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nSec-Fetch-Site: same-origin\r\nCookie: {COOKIE_NAME}={}\r\n\
             Authorization: Bearer {}\r\nContent-Type: {content_type}\r\nConnection: close\r\n",
            env.cookie.borrow(),
            env.token
        );
        let answer = env.rt.block_on(if chunked {
            // No length up front: the server has to read to find out.
            let mut parts = Vec::new();
            for chunk in vec![byte; size].chunks(4096) {
                parts.push(format!("{:x}\r\n", chunk.len()).into_bytes());
                parts.push(chunk.to_vec());
                parts.push(b"\r\n".to_vec());
            }
            parts.push(b"0\r\n\r\n".to_vec());
            raw_exchange(&addr, format!("{common}Transfer-Encoding: chunked\r\n\r\n"), parts)
        } else {
            // Refused on the declared length alone, before a byte of the body is sent.
            raw_exchange(&addr, format!("{common}Content-Length: {size}\r\n\r\n"), Vec::new())
        });
        prop_assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{} with {} bytes (chunked: {}): {:?}",
            path,
            size,
            chunked,
            answer
        );
        Ok(())
    });
}
