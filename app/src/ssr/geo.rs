//! Approximate location of a login's IP address, from a local MaxMind-format database (GeoLite2
//! City, DB-IP Lite City) that the operator downloads: nothing is fetched at run time. Looked up
//! once at login and stored with the session, never per page view.

use crate::model::LOCAL_NETWORK;
use maxminddb::geoip2;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read the GeoIP database {path}: {source}")]
    Open { path: String, source: maxminddb::MaxMindDbError },
}

/// Where an address is; without a database, nowhere (nothing is shown, nothing breaks).
#[derive(Clone, Default)]
pub struct Locator {
    reader: Option<Arc<maxminddb::Reader<Vec<u8>>>>,
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator").field("database", &self.reader.is_some()).finish()
    }
}

impl Locator {
    /// Reads the whole database into memory (a City database is some 60 MB; lookups then never
    /// touch the disk).
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|source| GeoError::Open { path: path.display().to_string(), source })?;
        Ok(Self { reader: Some(Arc::new(reader)) })
    }

    /// "Berlin, Germany", "Germany" when the database knows only the country, "Local network"
    /// for loopback and private addresses; `None` without a database or an answer.
    pub fn locate(&self, ip: &str) -> Option<String> {
        let reader = self.reader.as_ref()?;
        let ip: IpAddr = ip.parse().ok()?;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if is_local(ip) {
            return Some(LOCAL_NETWORK.to_string());
        }
        let found = reader.lookup(ip).ok()?;
        let city: geoip2::City = found.decode().ok()??;
        let country = city.country.names.english;
        match (city.city.names.english, country) {
            (Some(city), Some(country)) => Some(format!("{city}, {country}")),
            (None, Some(country)) => Some(country.to_string()),
            _ => None,
        }
    }
}

/// Loopback, private and link-local addresses: the database cannot know where they are, and the
/// owner can — it is their own network. (The documentation ranges are not among them.)
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_loopback_addresses_are_local_and_documentation_ranges_are_not() {
        for local in ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "169.254.3.4", "::1", "fd12::1", "fe80::1"]
        {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for public in ["192.0.2.10", "198.51.100.7", "203.0.113.5", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_local(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn without_a_database_nothing_is_located() {
        assert_eq!(Locator::default().locate("127.0.0.1"), None);
        assert_eq!(Locator::default().locate("192.0.2.10"), None);
    }
}
