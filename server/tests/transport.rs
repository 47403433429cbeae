//! Transport limits over real HTTP, on SQLite and on PostgreSQL, through the same serving loop
//! as production (`server::serve_listener`): the header read timeout.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use common::*;
use reqwest::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes `head` at once, then `trickle` one byte every half second, while reading whatever the
/// server answers until it closes the connection; `None` if it is still open after `deadline`.
async fn trickle(server: &TestServer, head: String, trickle: &'static [u8], deadline: Duration) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await.expect("connect");
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
}
