//! An event stream read straight off its connection, plain or TLS, to see how it is framed on
//! the wire and when the server closes it (reqwest hides both).

use super::{COOKIE_NAME, STREAM_PATIENCE};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub struct RawStream<S> {
    io: S,
    /// The answer's head, status line and headers, as sent (CRLF line ends, without the blank line).
    pub head: String,
    /// What came after the head and has not been taken yet.
    pub body: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawStream<S> {
    /// Asks for the pages' event stream with `cookie` on `io`, and reads the answer's head.
    pub async fn open(io: S, host: &str, cookie: &str) -> Self {
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nSec-Fetch-Site: same-origin\r\n\
             Cookie: {COOKIE_NAME}={cookie}\r\n\r\n",
            app::model::EVENTS_PATH
        );
        Self::ask(io, &request).await
    }

    /// Sends `request` on `io` and reads the answer's head.
    pub async fn ask(mut io: S, request: &str) -> Self {
        io.write_all(request.as_bytes()).await.expect("send the request");
        let mut raw = RawStream { io, head: String::new(), body: String::new() };
        raw.read_until("\r\n\r\n").await;
        let at = raw.body.find("\r\n\r\n").unwrap();
        raw.head = raw.body.drain(..at + 4).collect::<String>().trim_end().to_string();
        raw
    }

    /// The head's value of `name` (lower case), if it has the header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Reads until what came holds `needle`; fails the test if the connection closes first or
    /// nothing comes for a long while.
    pub async fn read_until(&mut self, needle: &str) {
        while !self.body.contains(needle) {
            assert!(self.read_some().await > 0, "closed before {needle:?} came: {:?}", self.body);
        }
    }

    /// Reads until the server closes the connection.
    pub async fn expect_closed(&mut self) {
        while self.read_some().await > 0 {}
    }

    async fn read_some(&mut self) -> usize {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(STREAM_PATIENCE, self.io.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("the connection said nothing for {STREAM_PATIENCE:?} (so far {:?})", self.body))
            .unwrap_or(0);
        self.body.push_str(std::str::from_utf8(&buf[..n]).expect("UTF-8"));
        n
    }

    /// Gives the connection up, as a client that goes away does.
    pub fn into_inner(self) -> S {
        self.io
    }
}
