//! Who the client is: its address (the socket peer, or what a trusted proxy says) and user agent.

use app::ssr::ClientInfo;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap};
use std::net::{IpAddr, SocketAddr};

/// The client's address: the socket peer, or, behind a trusted proxy, the right-most address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_info(req: &Request, trusted: &[IpAddr]) -> ClientInfo {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = match peer {
        Some(peer) if trusted.contains(&peer) => forwarded_client(req.headers(), trusted).unwrap_or(peer),
        Some(peer) => peer,
        None => return ClientInfo { ip: "unknown".into(), user_agent: user_agent(req.headers()) },
    };
    ClientInfo { ip: canonical_ip(ip).to_string(), user_agent: user_agent(req.headers()) }
}

fn forwarded_client(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for part in value.to_str().ok()?.split(',') {
            hops.push(part.trim().parse().ok()?);
        }
    }
    hops.into_iter().rev().find(|ip| !trusted.contains(ip))
}

/// IPv4 clients on a dual-stack socket show up as `::ffff:a.b.c.d`; show them as people know them.
fn canonical_ip(ip: IpAddr) -> IpAddr {
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

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn forwarded_for_takes_the_rightmost_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.1")]);
        assert_eq!(forwarded_client(&h, &[proxy]), Some("203.0.113.7".parse().unwrap()));
        let spoofed = headers(&[("x-forwarded-for", "not an ip")]);
        assert_eq!(forwarded_client(&spoofed, &[proxy]), None);
    }
}
