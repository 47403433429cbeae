//! A request id for every request: in every log line of the request (a tracing span) and in the
//! answer's `X-Request-Id`. A trusted proxy's own id is kept when it is short and plain (at most
//! 64 of `[A-Za-z0-9._-]`), so that its logs and ours can be joined; anything else gets a new one.

use super::client_ip::{canonical_ip, is_trusted};
use axum::extract::{ConnectInfo, Request};
use std::net::{IpAddr, SocketAddr};

pub const HEADER: &str = "x-request-id";

/// Whether `id` may be taken over as it is.
pub fn is_plain(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The id of this request: a trusted proxy's plain one, or a new random one.
pub fn request_id_for(trusted: &[IpAddr], req: &Request) -> String {
    let offered = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).filter(|id| {
        is_plain(id)
            && req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|c| is_trusted(canonical_ip(c.0.ip()), trusted))
    });
    offered.map_or_else(|| app::ssr::token::new_session_id().0, str::to_string)
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
}
