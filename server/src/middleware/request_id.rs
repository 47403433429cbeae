//! A request id for every request: in every log line of the request (a tracing span) and in the
//! answer's `X-Request-Id`. A trusted proxy's own id is kept when it is short and plain (at most
//! 64 of `[A-Za-z0-9._-]`), so that its logs and ours can be joined; anything else gets a new one.

use super::client_ip::{canonical_ip, is_trusted};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};

pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Whether `id` may be taken over as it is.
pub fn is_plain(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The id of a request from `peer` with `headers`, as the header value it is sent back in: a
/// trusted proxy's plain one, or a new one.
pub fn request_id_for(trusted: &[IpAddr], peer: Option<SocketAddr>, headers: &HeaderMap) -> HeaderValue {
    // The sender first: most servers trust no proxy, and then no request's headers need a look.
    let from_trusted = !trusted.is_empty() && peer.is_some_and(|p| is_trusted(canonical_ip(p.ip()), trusted));
    let offered = from_trusted.then(|| headers.get(&HEADER)).flatten();
    offered.filter(|id| id.to_str().is_ok_and(is_plain)).cloned().unwrap_or_else(new_id)
}

/// A new id. It must be unique, not secret (it is in logs and answers, and opens nothing), so a
/// count is enough: each thread counts on from a random start with its top bit set (every id has
/// 19 or 20 digits), which puts the ids of other threads, processes and instances elsewhere among
/// the 2^63 values. Made in about a third of the instructions of the 128 random bits in base64
/// it was (README, "What every request costs").
fn new_id() -> HeaderValue {
    const TOP: u64 = 1 << 63;
    thread_local!(static NEXT: Cell<u64> = Cell::new(rand::random::<u64>() | TOP));
    HeaderValue::from(NEXT.with(|next| next.replace(next.get().wrapping_add(1) | TOP)))
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
    fn new_ids_are_plain_long_and_unique() {
        let ids: Vec<HeaderValue> = (0..1000).map(|_| new_id()).collect();
        for id in &ids {
            let id = id.to_str().unwrap();
            assert!(is_plain(id), "{id}");
            assert!(id.len() >= 19, "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Another thread starts elsewhere.
        let other = std::thread::spawn(new_id).join().unwrap();
        assert!(!ids.contains(&other));
    }

    fn ask(trusted: &[IpAddr], peer: &str, offered: Option<&str>) -> HeaderValue {
        let mut headers = HeaderMap::new();
        if let Some(id) = offered {
            headers.insert(&HEADER, HeaderValue::from_str(id).unwrap());
        }
        request_id_for(trusted, Some(peer.parse().unwrap()), &headers)
    }

    #[test]
    fn only_a_trusted_proxy_names_the_id() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let kept = ask(&[proxy], "10.0.0.1:4000", Some("lb-7f3a.42_x"));
        assert_eq!(kept, "lb-7f3a.42_x");
        let mapped = ask(&[proxy], "[::ffff:10.0.0.1]:4000", Some("lb-1"));
        assert_eq!(mapped, "lb-1", "an IPv4 proxy on a dual-stack socket");
        for (trusted, peer, offered) in [
            (&[proxy][..], "198.51.100.1:4000", Some("lb-7f3a.42_x")),
            (&[][..], "10.0.0.1:4000", Some("lb-7f3a.42_x")),
            (&[proxy][..], "10.0.0.1:4000", Some("a b;<c>")),
            (&[proxy][..], "10.0.0.1:4000", None),
        ] {
            let id = ask(trusted, peer, offered);
            assert!(Some(id.to_str().unwrap()) != offered && id.len() >= 19, "{peer} {offered:?}: {id:?}");
        }
    }
}
