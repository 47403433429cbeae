//! Who the client is: its address (the socket peer, or what a trusted proxy says) and user agent.

use app::ssr::ClientInfo;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The client's address: the socket peer, or, behind a trusted proxy, what `X-Forwarded-For`
/// says (see [`forwarded_client`]).
pub fn client_info(req: &Request, trusted: &[IpAddr]) -> ClientInfo {
    let user_agent = user_agent(req.headers());
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| canonical_ip(c.0.ip()));
    let ip = match peer {
        Some(peer) if is_trusted(peer, trusted) => match forwarded_client(req.headers(), trusted) {
            Forwarded::Client(ip) => ip.to_string(),
            // A hop we cannot read stands where the client would be: never blame the proxy.
            Forwarded::Unreadable => "unknown".into(),
            Forwarded::Nothing => peer.to_string(),
        },
        Some(peer) => peer.to_string(),
        None => "unknown".into(),
    };
    ClientInfo { ip, user_agent, device_id: None }
}

/// What the `X-Forwarded-For` chain says about the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// The right-most address that is not a trusted proxy (or the left-most, if all are).
    Client(IpAddr),
    /// The walk met a hop that names no address before any untrusted address: whoever wrote it is
    /// the client, and we cannot say who that is.
    Unreadable,
    /// No hops at all: the trusted peer itself is the client.
    Nothing,
}

/// Walks the hops of every `X-Forwarded-For` header (in order; each appended by one more proxy)
/// from the right: trusted proxies are skipped, the first other address is the client. Only hops
/// right of the client were written by our proxies, so a hop there that does not parse stops the
/// walk; junk left of the client is the client's own and changes nothing.
pub fn forwarded_client(headers: &HeaderMap, trusted: &[IpAddr]) -> Forwarded {
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            // Empty elements (`a,,b`, a trailing comma) are no hop at all.
            Ok(text) => hops.extend(text.split(',').map(str::trim).filter(|h| !h.is_empty()).map(parse_hop)),
            Err(_) => hops.push(None),
        }
    }
    let mut leftmost = None;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip, trusted) => leftmost = Some(ip),
            Some(ip) => return Forwarded::Client(ip),
            None => return Forwarded::Unreadable,
        }
    }
    leftmost.map_or(Forwarded::Nothing, Forwarded::Client)
}

/// One hop in any form proxies write it: `ip`, `ip:port`, `[v6]`, `[v6]:port`.
pub fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse::<Ipv6Addr>().ok().map(IpAddr::V6))?;
    Some(canonical_ip(ip))
}

pub(super) fn is_trusted(ip: IpAddr, trusted: &[IpAddr]) -> bool {
    trusted.iter().any(|t| canonical_ip(*t) == ip)
}

/// IPv4 clients on a dual-stack socket show up as `::ffff:a.b.c.d`; show them as people know them.
pub(super) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn user_agent(headers: &HeaderMap) -> String {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(512).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PROXY: &str = "10.0.0.1";

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn walk(values: &[&str]) -> Forwarded {
        forwarded_client(&xff(values), &[PROXY.parse().unwrap(), "2001:db8::10".parse().unwrap()])
    }

    fn client(ip: &str) -> Forwarded {
        Forwarded::Client(ip.parse().unwrap())
    }

    #[test]
    fn every_form_a_proxy_writes_is_read() {
        assert_eq!(parse_hop("203.0.113.7"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(parse_hop("203.0.113.7:51234"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(parse_hop("2001:db8::7"), Some("2001:db8::7".parse().unwrap()));
        assert_eq!(parse_hop("[2001:db8::7]"), Some("2001:db8::7".parse().unwrap()));
        assert_eq!(parse_hop("[2001:db8::7]:443"), Some("2001:db8::7".parse().unwrap()));
        assert_eq!(parse_hop("::ffff:203.0.113.7"), Some("203.0.113.7".parse().unwrap()));
        for junk in [
            "unknown",
            "junk",
            "203.0.113",
            "203.0.113.7:",
            "203.0.113.7:port",
            "[203.0.113.7]",
            "[2001:db8::7",
            "2001:db8::7]:1",
            "_hidden",
            "\"203.0.113.7\"",
        ] {
            assert_eq!(parse_hop(junk), None, "{junk}");
        }
    }

    #[test]
    fn forwarded_for_takes_the_rightmost_untrusted_hop() {
        assert_eq!(walk(&["6.6.6.6, 203.0.113.7, 10.0.0.1"]), client("203.0.113.7"));
        assert_eq!(walk(&["203.0.113.7"]), client("203.0.113.7"));
        assert_eq!(walk(&["203.0.113.7:51234, 10.0.0.1:80"]), client("203.0.113.7"));
        assert_eq!(walk(&["[2001:db8::7]:443, [2001:db8::10]"]), client("2001:db8::7"));
        assert_eq!(walk(&["[2001:db8::7]"]), client("2001:db8::7"));
        assert_eq!(
            walk(&["::ffff:10.0.0.1, 203.0.113.7, ::ffff:10.0.0.1"]),
            client("203.0.113.7"),
            "mapped proxies are still ours"
        );
    }

    #[test]
    fn junk_left_of_the_client_changes_nothing() {
        for spoof in [
            "junk, 203.0.113.7",
            "unknown, 203.0.113.7",
            "1.2.3.4:5:6, 203.0.113.7",
            "[v6], 203.0.113.7",
            ", 203.0.113.7,",
        ] {
            assert_eq!(walk(&[spoof]), client("203.0.113.7"), "{spoof}");
        }
    }

    #[test]
    fn an_unreadable_hop_right_of_the_client_is_the_client_and_never_the_proxy() {
        assert_eq!(walk(&["203.0.113.7, unknown"]), Forwarded::Unreadable);
        assert_eq!(walk(&["203.0.113.7, junk, 10.0.0.1"]), Forwarded::Unreadable);
        assert_eq!(walk(&["not an ip"]), Forwarded::Unreadable);
        assert_eq!(walk(&["unknown"]), Forwarded::Unreadable);
    }

    #[test]
    fn several_headers_are_one_chain() {
        assert_eq!(walk(&["junk, 6.6.6.6", "203.0.113.7", "10.0.0.1"]), client("203.0.113.7"));
        assert_eq!(walk(&["203.0.113.7", "unknown", "10.0.0.1"]), Forwarded::Unreadable);
        let mut h = xff(&["203.0.113.7"]);
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(
            forwarded_client(&h, &[PROXY.parse().unwrap()]),
            Forwarded::Unreadable,
            "a header that is not text is one unreadable hop"
        );
    }

    #[test]
    fn a_chain_of_only_proxies_names_the_one_furthest_away() {
        assert_eq!(walk(&["2001:db8::10, 10.0.0.1"]), client("2001:db8::10"));
        assert_eq!(walk(&[]), Forwarded::Nothing);
        assert_eq!(walk(&[" , "]), Forwarded::Nothing);
    }

    #[test]
    fn the_forwarded_address_is_believed_only_from_a_trusted_peer() {
        let request = |peer: &str| {
            let mut req = Request::builder()
                .header("x-forwarded-for", "203.0.113.7, unknown")
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
            req
        };
        let trusted: Vec<IpAddr> = vec![PROXY.parse().unwrap()];
        assert_eq!(client_info(&request("10.0.0.1:4000"), &trusted).ip, "unknown");
        assert_eq!(client_info(&request("[::ffff:10.0.0.1]:4000"), &trusted).ip, "unknown");
        assert_eq!(client_info(&request("198.51.100.1:4000"), &trusted).ip, "198.51.100.1");
        let mut req = request("10.0.0.1:4000");
        req.headers_mut().remove("x-forwarded-for");
        assert_eq!(client_info(&req, &trusted).ip, "10.0.0.1");
    }
}
