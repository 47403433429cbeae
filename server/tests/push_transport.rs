//! How an open event stream travels (issue 14, memory per idle stream): once its head is written
//! it leaves hyper for a task of its own (`server::serve`), so it is sent as HTTP/1.0 with no
//! length, its events unframed, until the server closes the connection; a client that goes away
//! frees its stream at once. On SQLite and PostgreSQL; over TLS in `tls.rs`.

#[macro_use]
mod common;

use common::raw::RawStream;
use common::*;
use reqwest::StatusCode;
use std::time::Duration;

backend_tests! {
    async fn an_open_stream_is_http_1_0_with_its_events_unframed_until_the_server_closes_it(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let phone = server.logged_in("ada@example.com", PASSWORD, false).await;
        let cookie = phone.cookie.clone().expect("a session cookie");
        let mut raw = RawStream::open(server.connect().await, "localhost", &cookie).await;

        assert!(raw.head.starts_with("HTTP/1.0 200 OK\r\n"), "{}", raw.head);
        assert_eq!(raw.header("content-type"), Some("text/event-stream"));
        assert_eq!(raw.header("connection"), Some("close"));
        assert_eq!(raw.header("content-length"), None, "the body ends with the connection");
        assert_eq!(raw.header("transfer-encoding"), None, "no chunks: the body is written as it is");
        // What every answer carries is still there: the middleware saw the head as before.
        assert_eq!(raw.header("cache-control"), Some("no-store"));
        assert_eq!(raw.header("x-content-type-options"), Some("nosniff"));
        assert!(raw.header("x-request-id").is_some(), "{}", raw.head);

        raw.read_until("\n\n").await;
        assert!(raw.body.starts_with("event: sessions\ndata: {\"sessions_version\":"), "{:?}", raw.body);
        let id = phone.clone().session_id().await;
        assert_eq!(ada.call("end_session", &[("id", id.as_str())]).await.status, StatusCode::OK);
        raw.read_until("event: ended\ndata: {\"reason\":\"ended_by_user\"}\n\n").await;
        raw.expect_closed().await;
        eventually(Duration::from_secs(5), "the stream is let go", || async {
            server.state.ctx.auth.store.hub().open_streams() == 0
        }).await;
    }

    async fn the_mail_apps_stream_leaves_hyper_too(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut app = server.app();
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let token = app.token.clone().expect("a token");
        let request = format!("GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n");
        let mut raw = RawStream::ask(server.connect().await, &request).await;
        assert!(raw.head.starts_with("HTTP/1.0 200 OK\r\n"), "{}", raw.head);
        assert_eq!(raw.header("transfer-encoding"), None);
        raw.read_until("event: sessions").await;
    }

    async fn a_stream_whose_client_goes_away_is_let_go_at_once(db) {
        let server = TestServer::start(&db).await;
        let ada = server.sign_up("Ada", "ada@example.com").await;
        let cookie = ada.cookie.clone().expect("a session cookie");
        let mut raw = RawStream::open(server.connect().await, "localhost", &cookie).await;
        raw.read_until("\n\n").await;
        assert_eq!(server.state.ctx.auth.store.hub().open_streams(), 1);
        // Gone without a word: long before the next heartbeat (25 s) could find out by writing.
        drop(raw.into_inner());
        eventually(Duration::from_secs(5), "the stream of a client that went away is let go", || async {
            server.state.ctx.auth.store.hub().open_streams() == 0
        }).await;
    }

    async fn a_connection_that_opened_no_stream_stays_kept_alive(db) {
        // The hand-over is only for answers that run until the connection closes: a request to
        // the stream's path that gets a one-event answer (no session) leaves the connection as
        // it was, and the next request on it is answered as usual.
        let server = TestServer::start(&db).await;
        let mut io = server.connect().await;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let ask = format!("GET {} HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: same-origin\r\n\r\n", app::model::EVENTS_PATH);
        io.write_all(ask.as_bytes()).await.unwrap();
        io.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut got = String::new();
        tokio::time::timeout(STREAM_PATIENCE, io.read_to_string(&mut got)).await.expect("both answers").unwrap();
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(got.contains("event: none"), "{got}");
        assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "the health check on the same connection: {got}");
    }
}
