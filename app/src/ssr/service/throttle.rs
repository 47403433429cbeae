//! The login-throttle counters: which keys an attempt is charged to, charging and refunding.

use super::*;

pub(super) const ACCOUNT_KEY: &str = "account:";

/// The throttle counter of an account, by normalised e-mail, whether or not the account exists.
pub fn account_throttle_key(email: &str) -> String {
    format!("{ACCOUNT_KEY}{email}")
}

/// The throttle counter of a client address. IPv6 clients are counted per /64, the block one
/// subscriber usually gets, so that rotating through it does not escape the count.
pub fn ip_throttle_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => format!("ip:{}", v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default()),
        Ok(v4) => format!("ip:{v4}"),
        Err(_) => format!("ip:{}", truncate(ip, 64)),
    }
}

/// An attempt charged to the throttle counters, to be taken back if it succeeds.
pub(super) struct Attempt {
    at: i64,
    account_key: String,
    before: Vec<ThrottleRow>,
}

impl AuthService {
    /// The cheap early answer while a counter says wait: no queueing for a hashing slot.
    pub(super) async fn refuse_if_throttled(&self, email: &str, client: &ClientInfo) -> Result<(), AppError> {
        let now = self.now();
        for key in [account_throttle_key(email), ip_throttle_key(&client.ip)] {
            if let Some(row) = self.store.throttle_row(&key).await? {
                if self.throttle.must_wait(&row, now) {
                    return Err(self.throttled(client));
                }
            }
        }
        Ok(())
    }

    /// Counts an attempt to prove the password of `email` as a failure before the password is
    /// checked, atomically with the check of the counters, so that parallel guesses cannot all
    /// pass before any is counted; or refuses it while the account's or the client's counter
    /// says wait.
    pub(super) async fn charge_attempt(&self, email: &str, client: &ClientInfo) -> Result<Attempt, AppError> {
        let now = self.now();
        let account_key = account_throttle_key(email);
        let ip_key = ip_throttle_key(&client.ip);
        let stale_at = now - self.throttle.window_ms;
        let allow = |rows: &[ThrottleRow]| !rows.iter().any(|row| self.throttle.must_wait(row, now));
        match self.store.charge_login_attempt(&[&account_key, &ip_key], now, stale_at, allow).await? {
            Some(before) => Ok(Attempt { at: now, account_key, before }),
            None => Err(self.throttled(client)),
        }
    }

    pub(super) fn throttled(&self, client: &ClientInfo) -> AppError {
        tracing::warn!(ip = %client.ip, "login attempt throttled");
        AppError::TooManyAttempts
    }

    /// The password was right: the account's counter starts again; the client's loses the
    /// attempt it was charged, so successful logins never count against an address.
    pub(super) async fn refund_attempt(&self, attempt: &Attempt) -> Result<(), AppError> {
        let refunds: Vec<Refund> = attempt
            .before
            .iter()
            .filter(|row| row.key != attempt.account_key)
            .map(|row| Refund {
                key: &row.key,
                charged_at: attempt.at,
                failures_after_charge: self.throttle.failures_at(row, attempt.at) + 1,
                previous_failure_at: row.last_failure_at,
            })
            .collect();
        Ok(self.store.refund_login_attempt(&refunds, &[&attempt.account_key]).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_waits_double_from_the_first_unfree_failure_up_to_the_cap() {
        let p = ThrottlePolicy::default();
        let waits: Vec<i64> = (0..12).map(|f| p.delay_ms(f, p.account_free) / 1000).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(p.delay_ms(19, p.ip_free), 0);
        assert_eq!(p.delay_ms(20, p.ip_free), 30_000);
        assert_eq!(p.delay_ms(i64::MAX, 0), p.max_delay_ms, "no overflow");
    }

    #[test]
    fn a_throttle_counter_stops_counting_after_the_quiet_window() {
        let p = ThrottlePolicy::default();
        let row = ThrottleRow { key: account_throttle_key("a@example.com"), failures: 6, last_failure_at: 1_000_000 };
        assert!(p.must_wait(&row, 1_000_000 + 60_000 - 1));
        assert!(!p.must_wait(&row, 1_000_000 + 60_000));
        assert_eq!(p.failures_at(&row, 1_000_000 + p.window_ms - 1), 6);
        assert_eq!(p.failures_at(&row, 1_000_000 + p.window_ms), 0);
        let ip_row = ThrottleRow { key: ip_throttle_key("192.0.2.1"), ..row };
        assert!(!p.must_wait(&ip_row, 1_000_000), "an address has 20 free failures");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_block() {
        assert_eq!(ip_throttle_key("2001:db8:1:2:aaaa::1"), ip_throttle_key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_eq!(ip_throttle_key("2001:db8:1:2::7"), "ip:2001:db8:1:2::/64");
        assert_ne!(ip_throttle_key("2001:db8:1:2::1"), ip_throttle_key("2001:db8:1:3::1"));
        assert_eq!(ip_throttle_key("::ffff:192.0.2.1"), "ip:192.0.2.1");
        assert_eq!(ip_throttle_key("192.0.2.1"), "ip:192.0.2.1");
        assert_eq!(ip_throttle_key("unknown"), "ip:unknown");
        assert_eq!(ip_throttle_key(&"x".repeat(500)).len(), 3 + 64);
    }
}
