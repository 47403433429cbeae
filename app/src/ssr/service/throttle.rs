//! The throttle counters: which counters an attempt is charged to, charging and refunding.

use super::policy::{Rule, ThrottleKind};
use super::*;

/// One throttle counter: its kind (which decides its [`Rule`]) and the key it is stored under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    pub kind: ThrottleKind,
    stored: String,
}

impl ThrottleKey {
    /// Failed logins to an account, by normalised e-mail, whether or not the account exists.
    pub fn account(email: &str) -> Self {
        Self { kind: ThrottleKind::Account, stored: format!("account:{email}") }
    }

    /// Failed logins from a client address. IPv6 clients are counted per /64, the block one
    /// subscriber usually gets, so that rotating through it does not escape the count.
    pub fn address(ip: &str) -> Self {
        Self { kind: ThrottleKind::Address, stored: format!("ip:{}", address_block(ip)) }
    }

    /// Failed logins to an account from one of its known devices (by the device id's hash).
    pub fn device(account_id: AccountId, device_hash: &[u8]) -> Self {
        let hex: String = device_hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Self { kind: ThrottleKind::Device, stored: format!("device:{account_id}:{hex}") }
    }

    /// Failed password re-entries in one session.
    pub fn reentry(session_id: &SessionId) -> Self {
        Self { kind: ThrottleKind::Reentry, stored: format!("reentry:{session_id}") }
    }

    /// Sign-up attempts from a client address (IPv6: its /64).
    pub fn signup(ip: &str) -> Self {
        Self { kind: ThrottleKind::Signup, stored: format!("signup:{}", address_block(ip)) }
    }

    pub fn as_str(&self) -> &str {
        &self.stored
    }
}

impl AsRef<str> for ThrottleKey {
    fn as_ref(&self) -> &str {
        &self.stored
    }
}

/// The account counter of `email`; see [`ThrottleKey::account`].
pub fn account_throttle_key(email: &str) -> ThrottleKey {
    ThrottleKey::account(email)
}

/// The address counter of `ip`; see [`ThrottleKey::address`].
pub fn ip_throttle_key(ip: &str) -> ThrottleKey {
    ThrottleKey::address(ip)
}

/// A client address as counted: IPv4 as it is, IPv6 as its /64, anything else cut to 64 chars.
fn address_block(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Ok(v4) => v4.to_string(),
        Err(_) => truncate(ip, 64),
    }
}

/// An attempt charged to throttle counters, to be taken back if it succeeds.
pub(super) struct Attempt {
    at: i64,
    charged: Vec<(ThrottleKey, ThrottleRow)>,
}

/// Who an attempt is for, so that a refusal can be shown to the account's owner.
#[derive(Clone, Copy, Debug)]
pub(super) struct Target<'a> {
    pub account_id: Option<AccountId>,
    pub client: &'a ClientInfo,
}

/// A refused attempt: until when the counter that refused it says wait.
#[derive(Clone, Copy, Debug)]
pub(super) struct Refused {
    pub until: i64,
}

impl AuthService {
    fn rule(&self, key: &ThrottleKey) -> Rule {
        self.throttle.rule(key.kind)
    }

    /// The first of `rows` whose counter says wait at `now`: its key, and until when.
    fn first_wait(&self, keys: &[ThrottleKey], rows: &[ThrottleRow], now: i64) -> Option<(ThrottleKey, Refused)> {
        rows.iter().find_map(|row| {
            let key = keys.iter().find(|k| k.as_str() == row.key)?;
            let until = self.throttle.wait_until(row, self.rule(key), now)?;
            Some((key.clone(), Refused { until }))
        })
    }

    /// The cheap early answer while a counter says wait: no queueing for a hashing slot.
    pub(super) async fn refuse_if_throttled(&self, keys: &[ThrottleKey], target: Target<'_>) -> Result<(), AppError> {
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            rows.extend(self.store.throttle_row(key).await?);
        }
        match self.first_wait(keys, &rows, self.now()) {
            Some((key, refused)) => Err(self.refused(&key, refused, target).await),
            None => Ok(()),
        }
    }

    /// Counts an attempt as a failure on each of `keys` before the password is checked,
    /// atomically with the check of the counters, so that parallel guesses cannot all pass
    /// before any is counted; or refuses it while any of them says wait.
    pub(super) async fn charge(&self, keys: &[ThrottleKey], target: Target<'_>) -> Result<Attempt, AppError> {
        let now = self.now();
        let charges: Vec<(&str, i64)> = keys.iter().map(|k| (k.as_str(), now - self.rule(k).window_ms)).collect();
        let mut refusal = None;
        let allow = |rows: &[ThrottleRow]| {
            refusal = self.first_wait(keys, rows, now);
            refusal.is_none()
        };
        match self.store.charge_login_attempt(&charges, now, allow).await? {
            Some(rows) => {
                let charged = rows
                    .into_iter()
                    .filter_map(|row| keys.iter().find(|k| k.as_str() == row.key).map(|k| (k.clone(), row)))
                    .collect();
                Ok(Attempt { at: now, charged })
            }
            None => {
                // The store refuses only when `allow` did, which left the refusal behind.
                let (key, refused) = refusal.unwrap_or_else(|| (keys[0].clone(), Refused { until: now }));
                Err(self.refused(&key, refused, target).await)
            }
        }
    }

    /// The answer to a refused attempt. Refusals of logins to an existing account are shown to
    /// its owner, aggregated per throttle window (see [`RefusalLog`](super::refusals::RefusalLog)).
    async fn refused(&self, key: &ThrottleKey, refused: Refused, target: Target<'_>) -> AppError {
        tracing::warn!(ip = %target.client.ip, counter = ?key.kind, "attempt throttled");
        if let Some(account_id) = target.account_id {
            if let Err(err) = self
                .refusals
                .record(&self.store, account_id, &target.client.ip, self.now(), self.throttle.window_ms)
                .await
            {
                tracing::warn!(error = %err, "could not record a refused attempt");
            }
        }
        match key.kind {
            ThrottleKind::Signup => {
                AppError::TooManySignups { retry_after_secs: ((refused.until - self.now()).max(1000) + 999) / 1000 }
            }
            _ => AppError::TooManyAttempts,
        }
    }

    /// The password was right: counters of who proved it (the account from an unknown device,
    /// the known device, the session) start again; the address loses the attempt it was charged,
    /// so successful logins never count against an address.
    pub(super) async fn refund_attempt(&self, attempt: &Attempt) -> Result<(), AppError> {
        let (resets, refunds): (Vec<_>, Vec<_>) = attempt
            .charged
            .iter()
            .partition(|(key, _)| !matches!(key.kind, ThrottleKind::Address | ThrottleKind::Signup));
        self.refund(attempt.at, &refunds, &resets).await
    }

    /// Takes back one charge on every counter of `attempt`, resetting none (a sign-up that did
    /// not get as far as creating an account).
    pub(super) async fn refund_all(&self, attempt: &Attempt) -> Result<(), AppError> {
        let refunds: Vec<&(ThrottleKey, ThrottleRow)> = attempt.charged.iter().collect();
        self.refund(attempt.at, &refunds, &[]).await
    }

    async fn refund(
        &self,
        at: i64,
        refunds: &[&(ThrottleKey, ThrottleRow)],
        resets: &[&(ThrottleKey, ThrottleRow)],
    ) -> Result<(), AppError> {
        let refunds: Vec<Refund> = refunds
            .iter()
            .map(|(key, row)| Refund {
                key: key.as_str(),
                charged_at: at,
                failures_after_charge: self.throttle.failures_at(row, self.rule(key), at) + 1,
                previous_failure_at: row.last_failure_at,
            })
            .collect();
        let resets: Vec<&str> = resets.iter().map(|(key, _)| key.as_str()).collect();
        Ok(self.store.refund_login_attempt(&refunds, &resets).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::service::policy::{DAY, HOUR};

    #[test]
    fn throttle_waits_double_from_the_first_unfree_failure_up_to_the_cap() {
        let p = ThrottlePolicy::default();
        let waits: Vec<i64> = (0..12).map(|f| p.delay_ms(f, p.account_free) / 1000).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(p.delay_ms(19, p.ip_free), 0);
        assert_eq!(p.delay_ms(20, p.ip_free), 30_000);
        assert_eq!(p.delay_ms(i64::MAX, 0), p.max_delay_ms, "no overflow");
    }

    fn row(key: &ThrottleKey, failures: i64, last_failure_at: i64) -> ThrottleRow {
        ThrottleRow { key: key.as_str().to_string(), failures, last_failure_at }
    }

    #[test]
    fn a_throttle_counter_stops_counting_after_its_window() {
        let p = ThrottlePolicy::default();
        let t = 1_000_000;
        let account = ThrottleKey::account("a@example.com");
        let rule = p.rule(account.kind);
        let r = row(&account, 6, t);
        assert_eq!(p.wait_until(&r, rule, t + 60_000 - 1), Some(t + 60_000));
        assert_eq!(p.wait_until(&r, rule, t + 60_000), None);
        assert_eq!(p.failures_at(&r, rule, t + DAY - 1), 6, "an account remembers its failures for a day");
        assert_eq!(p.failures_at(&r, rule, t + DAY), 0);
        let ip = ThrottleKey::address("192.0.2.1");
        let ip_rule = p.rule(ip.kind);
        assert_eq!(p.wait_until(&row(&ip, 6, t), ip_rule, t), None, "an address has 20 free failures");
        assert_eq!(p.failures_at(&row(&ip, 25, t), ip_rule, t + p.window_ms), 0, "an address forgets after 15 minutes");
    }

    #[test]
    fn the_account_counter_refuses_unknown_devices_after_a_hundred_failures_for_a_day() {
        let p = ThrottlePolicy::default();
        let t = 1_000_000;
        let account = ThrottleKey::account("a@example.com");
        // Long after its last wait, 99 failures still let an attempt through ...
        assert_eq!(p.wait_until(&row(&account, 99, t), p.rule(account.kind), t + p.max_delay_ms), None);
        // ... the hundredth refuses every attempt until the window has passed.
        assert_eq!(p.wait_until(&row(&account, 100, t), p.rule(account.kind), t + p.max_delay_ms), Some(t + DAY));
        assert_eq!(p.wait_until(&row(&account, 100, t), p.rule(account.kind), t + DAY), None);
        // A known device's own counter has no such limit: it waits at most the longest delay.
        let device = ThrottleKey::device(AccountId(7), &[0xab; 32]);
        assert_eq!(p.wait_until(&row(&device, 500, t), p.rule(device.kind), t + p.max_delay_ms), None);
    }

    #[test]
    fn sign_ups_are_limited_per_address_and_hour() {
        let p = ThrottlePolicy::default();
        let t = 1_000_000;
        let key = ThrottleKey::signup("192.0.2.1");
        let rule = p.rule(key.kind);
        assert_eq!(p.wait_until(&row(&key, 19, t), rule, t), None);
        assert_eq!(p.wait_until(&row(&key, 20, t), rule, t + 1), Some(t + HOUR));
        assert_eq!(key, ThrottleKey::signup("::ffff:192.0.2.1"));
        assert_eq!(ThrottleKey::signup("2001:db8:1:2::1"), ThrottleKey::signup("2001:db8:1:2::ffff"));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_block() {
        assert_eq!(ip_throttle_key("2001:db8:1:2:aaaa::1"), ip_throttle_key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_eq!(ip_throttle_key("2001:db8:1:2::7").as_str(), "ip:2001:db8:1:2::/64");
        assert_ne!(ip_throttle_key("2001:db8:1:2::1"), ip_throttle_key("2001:db8:1:3::1"));
        assert_eq!(ip_throttle_key("::ffff:192.0.2.1").as_str(), "ip:192.0.2.1");
        assert_eq!(ip_throttle_key("192.0.2.1").as_str(), "ip:192.0.2.1");
        assert_eq!(ip_throttle_key("unknown").as_str(), "ip:unknown");
        assert_eq!(ip_throttle_key(&"x".repeat(500)).as_str().len(), 3 + 64);
    }

    #[test]
    fn counters_of_different_kinds_never_share_a_key() {
        let keys = [
            ThrottleKey::account("a@example.com").as_str().to_string(),
            ThrottleKey::address("192.0.2.1").as_str().to_string(),
            ThrottleKey::signup("192.0.2.1").as_str().to_string(),
            ThrottleKey::device(AccountId(1), &[1; 32]).as_str().to_string(),
            ThrottleKey::reentry(&SessionId("s1".into())).as_str().to_string(),
        ];
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len());
    }
}
