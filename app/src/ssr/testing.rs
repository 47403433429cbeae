//! Test support shared by the store tests (`app/tests`) and the HTTP tests (`server/tests`):
//! throw-away databases of both backends, and the `backend_tests!` macro that writes every test
//! once and runs it on SQLite and on PostgreSQL. Not used by the server itself.
//!
//! * SQLite: a fresh database file in its own temporary directory, removed when the test ends.
//! * PostgreSQL: a fresh database created through `POSTERN_TEST_POSTGRES_URL` (a database the
//!   role `postern`, which has CREATEDB, can connect to), dropped when the test ends. Without that
//!   variable at compile time the PostgreSQL half is `#[ignore]`d (`cfg(postern_pg)`, set by
//!   `app/build.rs`), so the runner reports it as ignored; under CI it must run.

use super::password::PasswordHasherPool;
use super::{AuthService, ManualClock, SessionPolicy, SharedClock, Store};
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::Arc;

/// Writes each test once for both backends: `mod sqlite { ... }` and `mod postgres { ... }`.
/// The crate that expands it needs `cfg(postern_pg)` from `app/build.rs` (app and server use it).
///
/// ```ignore
/// backend_tests! {
///     async fn something_holds(db) { let svc = db.service().await; ... }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $db = $crate::ssr::testing::TestDb::sqlite();
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(postern_pg), ignore = "needs PostgreSQL: set POSTERN_TEST_POSTGRES_URL (scripts/pg-test-db.sh --admin)")]
                async fn $name() {
                    let $db = $crate::ssr::testing::TestDb::postgres().await;
                    $body
                }
            )*
        }
    };
}

/// 2023-11-14T22:13:20Z: a fixed start for every manual clock.
pub const T0: i64 = 1_700_000_000_000;
pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

pub const PASSWORD: &str = "Lighthouse-Quartz-Maple-42";
pub const NEW_PASSWORD: &str = "Glacier-Trombone-Saffron-77";

/// 16 random lower-case hex characters (from the app's own token generator, so no extra crate).
pub fn random_hex() -> String {
    let bytes = super::token::hash_token(&super::token::new_token());
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A throw-away database; removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Another `TestDb` owns the database.
    Borrowed,
    Dir(PathBuf),
    PgDatabase {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("postern-test-{}", random_hex()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}", dir.join("postern.db").display());
        TestDb { url, backend: "sqlite", cleanup: Cleanup::Dir(dir) }
    }

    /// A fresh PostgreSQL database. Tests that call it are `#[ignore]`d unless
    /// `cfg(postern_pg)` (see `backend_tests!`), so a missing URL here is a mistake: fail.
    pub async fn postgres() -> Self {
        // The URL is the last word that looks like one: a script that produced it may have
        // printed a status line first (e.g. "Cluster is already running.").
        let configured = std::env::var("POSTERN_TEST_POSTGRES_URL").ok().and_then(|v| {
            v.split_whitespace()
                .rfind(|w| w.starts_with("postgres://") || w.starts_with("postgresql://"))
                .map(str::to_string)
        });
        let Some(admin_url) = configured else {
            panic!(
                "POSTERN_TEST_POSTGRES_URL is not set (or holds no postgres:// URL), but this test needs PostgreSQL: \
                 CI must test it, and a test binary built with the variable set must run with it \
                 (export POSTERN_TEST_POSTGRES_URL=$(scripts/pg-test-db.sh --admin))"
            )
        };
        // The process id lets `scripts/pg-test-db.sh --sweep` drop what a killed run left behind.
        let name = format!("postern_t_{}_{}", std::process::id(), random_hex());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to POSTERN_TEST_POSTGRES_URL: {e}"));
        // Concurrent CREATE DATABASE can trip over each other on the template; retry briefly.
        let mut attempt = 0;
        loop {
            match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await {
                Ok(_) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("CREATE DATABASE {name} failed ({e}); retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => panic!("CREATE DATABASE {name}: {e}"),
            }
        }
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        TestDb { url, backend: "postgres", cleanup: Cleanup::PgDatabase { admin_url, name } }
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }

    /// A service with the default policy and a manual clock at [`T0`].
    pub async fn service(&self) -> (AuthService, Arc<ManualClock>) {
        self.service_with(SessionPolicy::default()).await
    }

    pub async fn service_with(&self, policy: SessionPolicy) -> (AuthService, Arc<ManualClock>) {
        let clock = ManualClock::new(T0);
        let shared: SharedClock = clock.clone();
        (AuthService::new(self.store().await, shared, policy, PasswordHasherPool::for_tests()), clock)
    }
}

impl TestDb {
    /// The same database reached through another URL (a proxy, say); the original cleans up.
    pub fn via(&self, url: String) -> TestDb {
        TestDb { url, backend: self.backend, cleanup: Cleanup::Borrowed }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Borrowed => {}
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                // Best effort, on a thread of its own: Drop cannot await, and the test's runtime
                // may be shutting down. WITH (FORCE) closes the pool connections still open.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                    rt.block_on(async move {
                        // Retried: WITH (FORCE) cannot end an autovacuum worker that is busy in the
                        // database ("must be a member of the role whose process is being
                        // terminated"), and those finish soon.
                        let drop = async {
                            let mut last_error = String::new();
                            for attempt in 1..=20u64 {
                                match drop_database(&admin_url, &name).await {
                                    Ok(()) => return,
                                    Err(e) => last_error = e.to_string(),
                                }
                                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                            }
                            eprintln!("note: could not drop the test database {name}: {last_error} (scripts/pg-test-db.sh --sweep will)");
                        };
                        // Generous: on a loaded machine the drop can queue behind other tests' work.
                        if tokio::time::timeout(std::time::Duration::from_secs(60), drop).await.is_err() {
                            eprintln!("note: dropping the test database {name} took over 60 s (scripts/pg-test-db.sh --sweep will)");
                        }
                    });
                })
                .join();
            }
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    dropped.map(|_| ())
}

/// `admin_url` with its database name replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// A network of a test GeoIP database, and what the database says of it: a city (or none) and
/// a country, in English.
pub struct GeoEntry {
    pub network: &'static str,
    pub city: Option<&'static str>,
    pub country: &'static str,
}

/// The test GeoIP database the tests (and the end-to-end server) look up: documentation ranges
/// only, so no real address is ever placed anywhere.
pub const GEO_TEST_ENTRIES: &[GeoEntry] = &[
    GeoEntry { network: "192.0.2.0/24", city: Some("Berlin"), country: "Germany" },
    GeoEntry { network: "198.51.100.0/24", city: None, country: "Portugal" },
    GeoEntry { network: "2001:db8:1::/48", city: Some("Lyon"), country: "France" },
];

/// A MaxMind-format City database with `entries`, as bytes (always the same bytes for the same
/// entries: the build time is fixed).
pub fn geo_db_bytes(entries: &[GeoEntry]) -> Vec<u8> {
    use maxminddb::geoip2;
    use maxminddb_writer::{metadata::IpVersion, paths::IpAddrWithMask, Database};
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = "Postern-Test-City".into();
    db.metadata.languages = vec!["en".into()];
    db.metadata.build_epoch = 1_700_000_000;
    db.metadata.binary_format_major_version = 2;
    for entry in entries {
        let mut record = geoip2::City::default();
        record.city.names.english = entry.city;
        record.country.names.english = Some(entry.country);
        let data = db.insert_value(&record).expect("a test GeoIP record serialises");
        let network: IpAddrWithMask = entry.network.parse().expect("a test network parses");
        // An IPv6 database keeps IPv4 under ::/96, where readers look for it.
        let network = match network.addr {
            std::net::IpAddr::V4(v4) => IpAddrWithMask::new(v4.to_ipv6_compatible().into(), network.mask + 96),
            std::net::IpAddr::V6(_) => network,
        };
        db.insert_node(network, data);
    }
    db.write_to(Vec::new()).expect("a test GeoIP database writes")
}

/// Writes [`geo_db_bytes`] of `entries` to `path`.
pub fn write_geo_db(path: &std::path::Path, entries: &[GeoEntry]) {
    std::fs::write(path, geo_db_bytes(entries)).expect("the test GeoIP database is written");
}

/// A browser's device-bound-session key (DBSC), as Chromium's software keys do it: a P-256 key
/// pair that signs proofs the way the browser does.
pub struct DbscKey {
    key: ring::signature::EcdsaKeyPair,
}

impl Default for DbscKey {
    fn default() -> Self {
        Self::new()
    }
}

impl DbscKey {
    pub fn new() -> Self {
        use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        DbscKey { key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap() }
    }

    /// The public key, SEC1 uncompressed (65 bytes).
    pub fn public(&self) -> Vec<u8> {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref().to_vec()
    }

    pub fn jwk(&self) -> serde_json::Value {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let p = self.public();
        serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64.encode(&p[1..33]), "y": b64.encode(&p[33..]) })
    }

    /// A JWS of `header` and `payload`, signed with this key.
    pub fn sign(&self, header: serde_json::Value, payload: serde_json::Value) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(payload.to_string()));
        let signature = self.key.sign(&ring::rand::SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64.encode(signature.as_ref()))
    }

    /// The proof of a registration: the key in the header, the challenge as `jti`.
    pub fn registration(&self, challenge: &str) -> String {
        let header = serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": self.jwk() });
        self.sign(header, serde_json::json!({ "jti": challenge }))
    }

    /// The proof of a refresh: no key, the challenge as `jti`.
    pub fn refresh(&self, challenge: &str) -> String {
        self.sign(serde_json::json!({ "alg": "ES256", "typ": "dbsc+jwt" }), serde_json::json!({ "jti": challenge }))
    }
}
