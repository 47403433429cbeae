//! Typed configuration from command-line flags and the environment (`--help` lists them all).

use clap::Parser;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Parser, Clone, Debug)]
#[command(name = "postern", version, about = "Postern: see and end every login to your mail account")]
pub struct Config {
    /// Database URL: `sqlite://data/postern.db` (default, a file created on first start) or
    /// `postgres://user:password@host/db` for deployments with several instances.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/postern.db", hide_env_values = true)]
    pub database_url: String,

    /// `admin …`: the operators' commands (without one, the server serves).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long, env = "POSTERN_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// The URL people use to reach Postern. With `https://` the session cookie is `Secure` and
    /// `__Host-` prefixed; its origin is the one cross-site checks compare `Origin` against.
    #[arg(long, env = "POSTERN_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,

    /// Reverse proxies whose `X-Forwarded-For` is believed (comma-separated IP addresses). The
    /// client address is the right-most one in the header that is not a trusted proxy.
    #[arg(long, env = "POSTERN_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// Minutes without activity after which a browser session ends.
    #[arg(long, env = "POSTERN_IDLE_TIMEOUT_MINUTES", default_value_t = 30)]
    pub idle_timeout_minutes: i64,

    /// Hours after login at which a browser session ends, however active.
    #[arg(long, env = "POSTERN_MAX_AGE_HOURS", default_value_t = 12)]
    pub max_age_hours: i64,

    /// Days without activity after which a remembered login ("Stay logged in", mail app) ends.
    #[arg(long, env = "POSTERN_REMEMBERED_IDLE_DAYS", default_value_t = 14)]
    pub remembered_idle_days: i64,

    /// Days after login at which a remembered login ends, however active.
    #[arg(long, env = "POSTERN_REMEMBERED_MAX_AGE_DAYS", default_value_t = 30)]
    pub remembered_max_age_days: i64,

    /// Days ended sessions and security events are kept before they are purged.
    #[arg(long, env = "POSTERN_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: i64,

    /// Days after its last login that a device stays known to an account: a login from it
    /// after that counts as a new device again (and leaves a "New login" message).
    #[arg(long, env = "POSTERN_KNOWN_DEVICE_DAYS", default_value_t = 365)]
    pub known_device_days: i64,

    /// Active sessions an account may have; a login beyond it ends the least recently active.
    #[arg(long, env = "POSTERN_MAX_SESSIONS", default_value_t = 100)]
    pub max_sessions: i64,

    /// Failed logins an account (by e-mail, known or not) may have before each further attempt
    /// has to wait; see the README's "Login throttling".
    #[arg(long, env = "POSTERN_THROTTLE_ACCOUNT_FREE", default_value_t = 5)]
    pub throttle_account_free: i64,

    /// Failed logins one client address (IPv6: one /64) may have before each further attempt has
    /// to wait.
    #[arg(long, env = "POSTERN_THROTTLE_IP_FREE", default_value_t = 20)]
    pub throttle_ip_free: i64,

    /// The first wait, in seconds; it doubles with every further failure.
    #[arg(long, env = "POSTERN_THROTTLE_BASE_DELAY_SECS", default_value_t = 30)]
    pub throttle_base_delay_secs: i64,

    /// The longest wait, in minutes.
    #[arg(long, env = "POSTERN_THROTTLE_MAX_DELAY_MINUTES", default_value_t = 15)]
    pub throttle_max_delay_minutes: i64,

    /// Minutes without a failure after which a client address's counter starts again from zero.
    #[arg(long, env = "POSTERN_THROTTLE_WINDOW_MINUTES", default_value_t = 15)]
    pub throttle_window_minutes: i64,

    /// Hours an account's counter (and a known device's, and a session's password re-entries)
    /// remembers failures.
    #[arg(long, env = "POSTERN_THROTTLE_ACCOUNT_WINDOW_HOURS", default_value_t = 24)]
    pub throttle_account_window_hours: i64,

    /// Failures within the account window after which logins from devices the account does not
    /// know are refused until the window has passed (NIST 800-63B: at most 100).
    #[arg(long, env = "POSTERN_THROTTLE_ACCOUNT_LOCKOUT", default_value_t = 100)]
    pub throttle_account_lockout: i64,

    /// New accounts one client address (IPv6: one /64) may create per hour.
    #[arg(long, env = "POSTERN_SIGNUP_LIMIT_PER_HOUR", default_value_t = 20)]
    pub signup_limit_per_hour: i64,

    /// How often open pages ask whether their session still exists, in milliseconds.
    #[arg(long, env = "POSTERN_POLL_INTERVAL_MS", default_value_t = 5000)]
    pub poll_interval_ms: u64,

    /// How often open pages poll while their event stream is healthy, in milliseconds: a safety
    /// net only, since the stream says at once when the session ends. When the stream fails,
    /// pages return to `--poll-interval-ms` until it is back.
    #[arg(long, env = "POSTERN_STREAM_POLL_INTERVAL_MS", default_value_t = 60_000)]
    pub stream_poll_interval_ms: u64,

    /// Serve Prometheus metrics at `/metrics` on this address (e.g. `127.0.0.1:9100`); off when
    /// not given. Never the public listener.
    #[arg(long, env = "POSTERN_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Device-bound sessions: seconds a bound session's short cookie lasts before the browser
    /// proves again that it holds the session's key. A copied cookie works at most this long.
    #[arg(long, env = "POSTERN_BOUND_COOKIE_SECS", default_value_t = 600)]
    pub bound_cookie_secs: i64,

    /// Serve HTTPS with this PEM certificate chain (and `--tls-key`), with rustls; without it the
    /// server speaks plain HTTP (behind a proxy that terminates TLS). Device-bound sessions need
    /// HTTPS, one way or the other.
    #[arg(long, env = "POSTERN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "POSTERN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// A MaxMind-format City database (GeoLite2 City, DB-IP Lite City) to show roughly where each
    /// login came from ("near Berlin, Germany"); looked up once at login. Nothing without it.
    #[arg(long, env = "POSTERN_GEOIP_DB")]
    pub geoip_db: Option<std::path::PathBuf>,

    /// Log lines as `text` (readable) or `json` (one object per line, for log shippers).
    #[arg(long, env = "POSTERN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Seconds that requests in flight may take to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "POSTERN_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// How often expired sessions are marked and old ones purged, in seconds.
    #[arg(long, env = "POSTERN_PURGE_INTERVAL_SECS", default_value_t = 3600)]
    pub purge_interval_secs: u64,

    /// Password hashes computed at once (each takes 19 MiB); defaults to the number of cores minus
    /// one (at least one), so that a login storm leaves a core to everything else.
    #[arg(long, env = "POSTERN_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Seconds a request may wait for a hashing slot (clients take turns) before it is answered
    /// 503 with `Retry-After`, so a flood of logins cannot make the queue grow without end.
    #[arg(long, env = "POSTERN_HASH_QUEUE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub hash_queue_timeout_secs: u64,

    /// Seconds a client may take to send a request's header (also how long a kept-alive
    /// connection may sit idle); a slower one is disconnected, so trickled headers cannot hold
    /// connections open for ever.
    #[arg(long, env = "POSTERN_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// Seconds a client may take to send a request's body; a slower one gets 408.
    #[arg(long, env = "POSTERN_BODY_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_secs: u64,

    /// Where the built site (WASM, JS, CSS) is served from.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable, for people.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Operators' commands on the configured database (never migrates it).
    Admin(crate::admin::AdminArgs),
}

impl Config {
    pub fn session_policy(&self) -> app::ssr::SessionPolicy {
        const MINUTE: i64 = 60_000;
        app::ssr::SessionPolicy {
            idle_ms: self.idle_timeout_minutes * MINUTE,
            max_age_ms: self.max_age_hours * 60 * MINUTE,
            remembered_idle_ms: self.remembered_idle_days * 24 * 60 * MINUTE,
            remembered_max_age_ms: self.remembered_max_age_days * 24 * 60 * MINUTE,
            retention_ms: self.retention_days * 24 * 60 * MINUTE,
            known_device_retention_ms: self.known_device_days * 24 * 60 * MINUTE,
            max_active: self.max_sessions,
            bound_cookie_ms: self.bound_cookie_secs.max(1) * 1000,
            ..Default::default()
        }
    }

    pub fn throttle_policy(&self) -> app::ssr::ThrottlePolicy {
        const MINUTE: i64 = 60_000;
        app::ssr::ThrottlePolicy {
            account_free: self.throttle_account_free,
            ip_free: self.throttle_ip_free,
            base_delay_ms: self.throttle_base_delay_secs * 1000,
            max_delay_ms: self.throttle_max_delay_minutes * MINUTE,
            window_ms: self.throttle_window_minutes * MINUTE,
            account_window_ms: self.throttle_account_window_hours * 60 * MINUTE,
            account_lockout: self.throttle_account_lockout,
            signups_per_hour: self.signup_limit_per_hour,
        }
    }

    pub fn hash_queue_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.hash_queue_timeout_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        let url = self.public_url.trim_end_matches('/');
        match url.find("://") {
            Some(i) => match url[i + 3..].find('/') {
                Some(j) => url[..i + 3 + j].to_string(),
                None => url.to_string(),
            },
            None => url.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sane() {
        let c = Config::parse_from(["postern"]);
        assert_eq!(c.database_url, "sqlite://data/postern.db");
        assert!(!c.secure_cookies());
        assert_eq!(c.session_policy(), app::ssr::SessionPolicy::default());
        assert_eq!(c.throttle_policy(), app::ssr::ThrottlePolicy::default());
        assert_eq!(c.hash_queue_timeout(), app::ssr::password::DEFAULT_HASH_QUEUE_TIMEOUT);
        assert_eq!(
            (c.header_read_timeout(), c.body_read_timeout()),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
        assert!(
            Config::try_parse_from(["postern", "--header-read-timeout-secs", "0"]).is_err(),
            "no timeout is no protection"
        );
    }

    #[test]
    fn public_origin_drops_the_path() {
        let c = Config::parse_from(["postern", "--public-url", "https://mail.example.com/postern/"]);
        assert_eq!(c.public_origin(), "https://mail.example.com");
        assert!(c.secure_cookies());
    }
}
