//! Transport limits and headers over real HTTP, on SQLite and on PostgreSQL, through the same
//! serving loop as production (`server::serve_listener`): header and body read timeouts, the
//! headers of answers no handler produced, `Strict-Transport-Security`, `Retry-After`, and `HEAD`.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use common::raw::RawStream;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WRONG: &str = "Not-The-Password-99";

/// Writes `head` at once, then `trickle` one byte every half second, while reading whatever the
/// server answers until it closes the connection; `None` if it is still open after `deadline`.
async fn trickle(server: &TestServer, head: String, trickle: &'static [u8], deadline: Duration) -> Option<String> {
    let stream = server.connect().await;
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        for byte in trickle.iter().cycle() {
            tick.tick().await;
            write.write_all(std::slice::from_ref(byte)).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 4096];
        // A reset after the answer (the server closing with unread bytes) also ends it.
        while let Ok(n @ 1..) = read.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    writer.abort();
    closed.ok().map(|()| String::from_utf8_lossy(&answer).into_owned())
}

backend_tests! {
    async fn a_trickled_request_header_is_cut_off_after_the_header_timeout(db) {
        let server = TestServer::start_with(&db, ManualClock::new(T0), &["--header-read-timeout-secs", "1"]).await;
        let head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_string();
        let answer = trickle(&server, head, b"X-Slow: aaaaaaaaaaaaaaaaaaaa\r\n", Duration::from_secs(15)).await;
        let answer = answer.expect("the connection is closed within the timeout, not held open");
        assert!(!answer.contains(" 200 "), "{answer}");
        // The timeout does not cut off a client that sends its header at once.
        assert_eq!(server.browser().get("/healthz").await.status, StatusCode::OK);
    }

    async fn the_header_timeout_holds_for_each_request_of_a_kept_alive_connection(db) {
        // One timer per connection, moved as its requests come (`header_timer`): it must neither
        // cut off a connection whose requests each come at once, however long it lives…
        let server = TestServer::start_with(&db, ManualClock::new(T0), &["--header-read-timeout-secs", "1"]).await;
        let mut io = server.connect().await;
        for _ in 0..6 {
            let mut raw = RawStream::ask(io, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
            assert!(raw.head.starts_with("HTTP/1.1 200"), "{}", raw.head);
            raw.read_until("ok").await;
            io = raw.into_inner();
            // The client pausing between its requests, a third of the timeout each time: 1.8 s in all.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let raw = RawStream::ask(io, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
        assert!(raw.head.starts_with("HTTP/1.1 200"), "{}", raw.head);
        // …nor spare the trickled header of a request that follows an answered one.
        let head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        let answer = trickle(&server, head.to_string(), b"X-Slow: aaaaaaaaaaaaaaaaaaaa\r\n", Duration::from_secs(15)).await;
        let answer = answer.expect("the connection is closed within the timeout, not held open");
        assert_eq!(answer.matches("HTTP/1.1 200").count(), 1, "the first request answered, the second cut off: {answer}");
    }

    async fn a_trickled_body_gets_408_with_json_and_the_security_headers(db) {
        let server = TestServer::start_with(&db, ManualClock::new(T0), &["--body-read-timeout-secs", "1"]).await;
        let head = "POST /api/fn/login HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: same-origin\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n".to_string();
        let answer = trickle(&server, head, b"email=a", Duration::from_secs(15)).await.expect("answered and closed within the timeout");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        let lower = answer.to_ascii_lowercase();
        for header in ["x-content-type-options: nosniff", "x-frame-options: deny", "content-type: application/json"] {
            assert!(lower.contains(header), "{header}: {answer}");
        }
        let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(serde_json::from_str::<serde_json::Value>(body).unwrap()["error"], "request_timeout", "{answer}");
    }

    async fn body_limit_refusals_are_json_with_the_security_headers(db) {
        let server = TestServer::start(&db).await;
        let res = server.raw().post(server.url("/api/fn/login")).header("sec-fetch-site", "same-origin").body("x".repeat(20_000));
        let res = Answer::read(res.send().await.unwrap()).await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.json(), json!({ "error": "payload_too_large", "message": "The request is too large." }));
        assert_security_headers_are_there_all(&res);
    }

    async fn https_deployments_send_strict_transport_security_on_every_answer(db) {
        let server = TestServer::start_with(&db, ManualClock::new(T0), &["--public-url", "https://mail.example.com"]).await;
        for path in ["/healthz", "/login", "/", "/api/v1/me", "/no-such-page"] {
            let res = server.browser().get(path).await;
            assert_eq!(res.header("strict-transport-security"), Some("max-age=63072000; includeSubDomains"), "{path}");
        }
        let plain = TestServer::start(&TestDb::sqlite()).await;
        assert_eq!(plain.browser().get("/login").await.header("strict-transport-security"), None, "not over plain http");
    }

    async fn every_429_and_503_says_when_to_retry(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut browser = server.browser();
        for _ in 0..5 {
            browser.log_in("ada@example.com", WRONG, false).await;
        }
        let refused = browser.log_in("ada@example.com", WRONG, false).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.header("retry-after"), Some("30"), "the throttle's first wait");
        let mut app = server.app();
        let refused = app.log_in("ada@example.com", WRONG, "Pixel 8").await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.header("retry-after"), Some("30"));

        server.state.ctx.auth.store.close().await;
        let ready = server.browser().get("/readyz").await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready.header("retry-after"), Some("5"));
    }

    async fn head_of_a_page_redirects_like_get(db) {
        let server = TestServer::start(&db).await;
        let web = server.sign_up("Ada", "ada@example.com").await;
        let head = |path: &str, session: Option<&str>| {
            let mut req = server.raw().request(Method::HEAD, server.url(path));
            if let Some(token) = session {
                req = req.header("cookie", format!("{COOKIE_NAME}={token}"));
            }
            async move { Answer::read(req.send().await.unwrap()).await }
        };
        for path in ["/", "/settings", "/settings/sessions", "/settings/password", "/account/security"] {
            let res = head(path, None).await;
            assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/login")), "{path}");
        }
        let res = head("/login", web.cookie.as_deref()).await;
        assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/")));
        assert_eq!(head("/settings/sessions", web.cookie.as_deref()).await.status, StatusCode::OK);
    }
}

fn assert_security_headers_are_there_all(answer: &Answer) {
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert_eq!(answer.header("referrer-policy"), Some("same-origin"));
    assert!(answer.header("content-security-policy").is_some_and(|v| v.contains("frame-ancestors 'none'")));
}
