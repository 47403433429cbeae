//! A request id for every request: in every log line of the request (a tracing span) and in the
//! answer's `X-Request-Id`. A trusted proxy's own id is kept when it is short and plain (at most
//! 64 of `[A-Za-z0-9._-]`), so that its logs and ours can be joined; anything else gets a new one.

use super::client_ip::{canonical_ip, is_trusted};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue};
use std::net::{IpAddr, SocketAddr};

pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Whether `id` may be taken over as it is.
pub fn is_plain(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The id of this request, as the header value it is sent back in: a trusted proxy's plain one,
/// or a new random one.
pub fn request_id_for(trusted: &[IpAddr], req: &Request) -> HeaderValue {
    let offered = req.headers().get(&HEADER).filter(|id| {
        id.to_str().is_ok_and(is_plain)
            && req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|c| is_trusted(canonical_ip(c.0.ip()), trusted))
    });
    offered.cloned().unwrap_or_else(new_id)
}

/// 128 random bits, like a session id; only the header value allocates.
fn new_id() -> HeaderValue {
    let mut id = [0u8; app::ssr::token::ID_CHARS];
    HeaderValue::from_str(app::ssr::token::new_id_in(&mut id)).expect("base64 is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken_over() {
        for ok in ["a", "req-1.2_3", &"x".repeat(64), "0af7651916cd43dd8448eb211c80319c"] {
            assert!(is_plain(ok), "{ok}");
        }
        for bad in ["", &"x".repeat(65), "a b", "a\\nb", "ä", "a/b", "a;b", "<script>"] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }

    #[test]
    fn new_ids_are_plain_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert!(is_plain(a.to_str().unwrap()), "{a:?}");
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }
}
