//! Serving connections: the HTTP/1 loop with its header read timeout and graceful shutdown, and
//! the hand-over of an event stream's connection from hyper to a small task of its own.
//!
//! Why the hand-over: hyper keeps two 8 KiB buffers and a header map for every connection for as
//! long as it serves it, about 18 KB, and its builder lets neither buffer go below 8 KiB. An idle
//! event stream needs none of that once its head is written: what follows is a few bytes now and
//! then. So a stream's answer is sent as HTTP/1.0 with no length (its body is whatever comes
//! until the connection closes), hyper is done with the connection after the head, and the
//! stream's body goes on in a task that holds the socket and the stream's own state only
//! (README, "Instant push").

use crate::header_timer::ConnectionTimer;
use crate::Site;
use axum::body::{Body, BodyDataStream, Bytes};
use axum::response::Response;
use futures_util::StreamExt;
use http::{header, Version};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tower::ServiceExt;

/// A client that takes no byte of a detached answer for this long is cut off: it stopped
/// reading, and its stream would otherwise hold its memory for ever.
const WRITE_STALL: Duration = Duration::from_secs(30);

/// The slot through which a handler leaves the body of its answer to the connection's task. Put
/// into the requests of the paths that may use it ([`crate::events::detaches`]), one per
/// connection.
#[derive(Clone, Default)]
pub struct Takeover(Arc<Mutex<Option<BodyDataStream>>>);

impl Takeover {
    /// Answers with `res`'s head alone, as HTTP/1.0 with no length, and leaves its body to the
    /// connection's task, which writes it once hyper has written the head and let go of the
    /// connection. The answer then ends only when the connection closes, so nothing else can be
    /// asked on it: that is what makes handing the socket over safe.
    pub fn detach(&self, res: Response) -> Response {
        let (mut head, body) = res.into_parts();
        head.version = Version::HTTP_10;
        head.headers.remove(header::CONTENT_LENGTH);
        head.headers.insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(body.into_data_stream());
        // No frame and no length: hyper writes the head and ends the answer with the connection.
        let empty = futures_util::stream::empty::<Result<Bytes, Infallible>>();
        Response::from_parts(head, Body::from_stream(empty))
    }

    fn take(&self) -> Option<BodyDataStream> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Serves `router` on `listener` (HTTP/1.1, each request whose handler may read its peer's
/// address knowing it as `ConnectInfo<SocketAddr>`: `WithEssentials::for_peer`) until `shutdown`
/// completes, then lets the requests in flight finish, for at most `grace`. A client must send each request's header within
/// `header_read_timeout` (which also bounds how long a kept-alive connection may sit idle), or it
/// is disconnected: `axum::serve` has no such limit, and a trickled header would hold a
/// connection for ever.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    router: Site,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.header_read_timeout(header_read_timeout);
    // Every connection holds a receiver: the shutdown is the send, and it is over when all are
    // dropped (connections and detached answers alike).
    let (closing, _) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Pages are streamed in several writes. Without TCP_NODELAY, Nagle's algorithm holds the
        // second write back until the client acknowledges the first, and clients delay that ACK by
        // up to 40 ms: every signed-in page on a kept-alive connection took 44 ms (bench/results.md).
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        let router = router.for_peer(peer);
        let takeover = Takeover::default();
        let slot = takeover.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            if crate::events::detaches(req.uri().path()) {
                req.extensions_mut().insert(slot.clone());
            }
            router.clone().oneshot(req.map(Body::new))
        });
        // A TLS handshake runs in the connection's own task, bounded like reading a header is, so
        // a client that stalls it holds nothing but its socket. The TLS connection is boxed: its
        // state (rustls' included) is several times a plain one's, and inline it would size every
        // connection's task (bench/results.md).
        let (mut http, closing, tls) = (http.clone(), closing.subscribe(), tls.clone());
        // A timer of its own: the sleeps of a connection's requests share one (`header_timer`).
        http.timer(ConnectionTimer::default());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(&http, tcp, service, takeover, closing).await,
                Some(tls) => match tokio::time::timeout(header_read_timeout, Box::pin(tls.accept(tcp))).await {
                    Ok(Ok(stream)) => Box::pin(serve_connection(&http, stream, service, takeover, closing)).await,
                    Ok(Err(err)) => tracing::debug!(error = %err, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    closing.send_replace(());
    if tokio::time::timeout(grace, closing.closed()).await.is_err() {
        tracing::warn!(?grace, "requests still in flight after the shutdown timeout: leaving them");
    }
    Ok(())
}

/// Serves one connection until hyper is done with it: the client closed it, an answer ended it,
/// or the shutdown let its last request finish. Then the socket goes to the detached answer, if a
/// handler left one, or is shut down.
async fn serve_connection<I, S>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    takeover: Takeover,
    mut closing: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = Body> + Unpin,
    S::Future: Unpin,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut conn = http.serve_connection(TokioIo::new(io), service);
    let served = {
        let mut signal = pin!(closing.changed());
        let mut asked = false;
        poll_fn(|cx| {
            if !asked && signal.as_mut().poll(cx).is_ready() {
                // Idle: closes now; busy: after the answer in flight.
                asked = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            conn.poll_without_shutdown(cx)
        })
        .await
    };
    if let Err(err) = served {
        // A header timeout, a client that went away: nothing to act on.
        return tracing::debug!(error = %err, "connection ended with an error");
    }
    let mut io = conn.into_parts().io.into_inner();
    match takeover.take() {
        Some(body) => {
            // A task of its own: this one's future has room for all of hyper's connection state.
            tokio::spawn(write_detached(Box::new(io), body, closing));
        }
        None => {
            let _ = tokio::time::timeout(WRITE_STALL, io.shutdown()).await;
        }
    }
}

/// What a detached answer needs of its connection, plain or TLS.
trait Socket: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Socket for T {}

/// Writes `body` to the connection hyper let go of, frame by frame, until the body ends, the
/// client goes away or stops reading; then closes the connection. Holding `_closing` keeps the
/// graceful shutdown waiting for the body's last words (the streams' retry hint).
async fn write_detached(mut io: Box<dyn Socket>, mut body: BodyDataStream, _closing: watch::Receiver<()>) {
    while let Some(frame) = next_frame(&mut *io, &mut body).await {
        match tokio::time::timeout(WRITE_STALL, io.write_all(&frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return tracing::debug!(error = %err, "a detached answer's client went away"),
            Err(_) => return tracing::debug!("a detached answer's client stopped reading: cut off"),
        }
    }
    let _ = tokio::time::timeout(WRITE_STALL, io.shutdown()).await;
}

/// The body's next frame, or `None` once it ended or failed, or the client has gone: it closed
/// its side, or sent something, which no client of an answer that ends with the connection does.
async fn next_frame(io: &mut dyn Socket, body: &mut BodyDataStream) -> Option<Bytes> {
    poll_fn(|cx| {
        let mut byte = [0u8; 1];
        if Pin::new(&mut *io).poll_read(cx, &mut ReadBuf::new(&mut byte)).is_ready() {
            return Poll::Ready(None);
        }
        body.poll_next_unpin(cx).map(|frame| frame.and_then(Result::ok))
    })
    .await
}

/// Like `axum::serve`: a connection that failed before it was accepted concerns only its client;
/// anything else (out of file descriptors, say) is waited out rather than spun on.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn frames(parts: &'static [&'static str]) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p.as_bytes()))))
    }

    fn detached(parts: &'static [&'static str]) -> (Response, BodyDataStream) {
        let takeover = Takeover::default();
        let res =
            Response::builder().header(header::CONTENT_LENGTH, "99").body(Body::from_stream(frames(parts))).unwrap();
        let head = takeover.detach(res);
        (head, takeover.take().expect("the body was left"))
    }

    #[test]
    fn a_detached_answer_is_http_1_0_with_no_length_and_its_body_is_left_in_the_slot() {
        let (head, _) = detached(&["a"]);
        assert_eq!(head.version(), Version::HTTP_10);
        assert!(head.headers().get(header::CONTENT_LENGTH).is_none());
        assert_eq!(head.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn the_writer_sends_every_frame_then_closes() {
        let (_, body) = detached(&["event: a\n\n", ": heartbeat\n\n"]);
        let (server, mut client) = tokio::io::duplex(64);
        let (_tx, rx) = watch::channel(());
        let writer = tokio::spawn(write_detached(Box::new(server), body, rx));
        let mut got = String::new();
        client.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "event: a\n\n: heartbeat\n\n");
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn the_writer_stops_when_the_client_closes_its_side() {
        let takeover = Takeover::default();
        // A body that never ends, as an idle stream's.
        let res = Response::new(Body::from_stream(futures_util::stream::pending::<Result<Bytes, Infallible>>()));
        takeover.detach(res);
        let (server, client) = tokio::io::duplex(64);
        let (_tx, rx) = watch::channel(());
        let writer = tokio::spawn(write_detached(Box::new(server), takeover.take().unwrap(), rx));
        drop(client);
        tokio::time::timeout(Duration::from_secs(10), writer).await.expect("the writer ended").unwrap();
    }
}
