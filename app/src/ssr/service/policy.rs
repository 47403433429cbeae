//! How long sessions live and how failed logins slow further attempts down.

use crate::ssr::store::ThrottleRow;

pub(super) const MINUTE: i64 = 60_000;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;

/// How long sessions live. Defaults follow OWASP ASVS 5.0 V7.3 and NIST 800-63B: a browser
/// session ends after 30 minutes without activity and 12 hours after login at the latest; a
/// remembered login ("Stay logged in", the mail app) after 14 days without activity and 30 days
/// after login (NIST AAL1's reauthentication bound).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionPolicy {
    pub idle_ms: i64,
    pub max_age_ms: i64,
    pub remembered_idle_ms: i64,
    pub remembered_max_age_ms: i64,
    /// Ended sessions and security events are kept this long, then purged.
    pub retention_ms: i64,
    /// A known device is forgotten this long after its last login (then its next login is "new").
    pub known_device_retention_ms: i64,
    /// Active sessions per account; a login beyond it ends the least recently active one.
    pub max_active: i64,
    /// "Last active" is written at most this often per session, so requests do not become writes.
    pub activity_write_interval_ms: i64,
    /// How long a device-bound session's short cookie (`postern_bound`) lasts before the browser
    /// must prove again that it holds the key: the window in which a copied cookie still works.
    pub bound_cookie_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ms: 30 * MINUTE,
            max_age_ms: 12 * HOUR,
            remembered_idle_ms: 14 * DAY,
            remembered_max_age_ms: 30 * DAY,
            retention_ms: 30 * DAY,
            known_device_retention_ms: 365 * DAY,
            max_active: 100,
            activity_write_interval_ms: MINUTE,
            bound_cookie_ms: 10 * MINUTE,
        }
    }
}

impl SessionPolicy {
    pub(super) fn idle(&self, auto_login: bool) -> i64 {
        if auto_login {
            self.remembered_idle_ms
        } else {
            self.idle_ms
        }
    }
    pub(super) fn max_age(&self, auto_login: bool) -> i64 {
        if auto_login {
            self.remembered_max_age_ms
        } else {
            self.max_age_ms
        }
    }
}

/// How failed attempts slow down further ones (OWASP ASVS 5.0 V6.3, NIST 800-63B 5.2.2). Each
/// counter ([`ThrottleKind`]) has some free failures; after them each attempt waits
/// `base_delay_ms × 2^k` (k = failures beyond the free ones), at most `max_delay_ms`, counted
/// from the last failure. A counter whose last failure is a window old starts again. The account
/// counter also has a limit: after `account_lockout` failures within its window it refuses every
/// attempt from devices the account does not know, until the window has passed; devices that
/// logged in before are judged on counters of their own and keep logging in.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottlePolicy {
    pub account_free: i64,
    pub ip_free: i64,
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
    /// How long the counter of a client address remembers its failures.
    pub window_ms: i64,
    /// How long the counters of an account, a known device and a session remember theirs.
    pub account_window_ms: i64,
    /// Failures within the account window after which unknown devices are refused outright.
    pub account_lockout: i64,
    /// New accounts (sign-up attempts that reach the password check) per client address per hour.
    pub signups_per_hour: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            account_free: 5,
            ip_free: 20,
            base_delay_ms: 30_000,
            max_delay_ms: 15 * MINUTE,
            window_ms: 15 * MINUTE,
            account_window_ms: DAY,
            account_lockout: 100,
            signups_per_hour: 20,
        }
    }
}

/// What a throttle counter counts; each kind has its own [`Rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKind {
    /// Failed logins to an account (by normalised e-mail, known or not) from unknown devices.
    Account,
    /// Failed logins from one client address (IPv6: its /64).
    Address,
    /// Failed logins to an account from one device that has logged in to it before.
    Device,
    /// Failed password re-entries (change password, reset auto-login) in one session.
    Reentry,
    /// Sign-up attempts from one client address.
    Signup,
}

/// How one kind of counter judges an attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    pub free: i64,
    pub window_ms: i64,
    /// Refuse every attempt once this many failures are within the window.
    pub limit: Option<i64>,
}

impl ThrottlePolicy {
    pub fn rule(&self, kind: ThrottleKind) -> Rule {
        let account = Rule { free: self.account_free, window_ms: self.account_window_ms, limit: None };
        match kind {
            ThrottleKind::Account | ThrottleKind::Reentry => Rule { limit: Some(self.account_lockout), ..account },
            ThrottleKind::Device => account,
            ThrottleKind::Address => Rule { free: self.ip_free, window_ms: self.window_ms, limit: None },
            ThrottleKind::Signup => {
                Rule { free: self.signups_per_hour, window_ms: HOUR, limit: Some(self.signups_per_hour) }
            }
        }
    }

    /// Failures that still count at `now`: none once the last one is a window old.
    pub(super) fn failures_at(&self, row: &ThrottleRow, rule: Rule, now: i64) -> i64 {
        if now - row.last_failure_at >= rule.window_ms {
            0
        } else {
            row.failures
        }
    }

    /// How long after the last failure the next attempt must wait.
    pub fn delay_ms(&self, failures: i64, free: i64) -> i64 {
        if failures < free {
            return 0;
        }
        let doublings = (failures - free).min(62) as u32;
        self.base_delay_ms.saturating_mul(1i64 << doublings).min(self.max_delay_ms)
    }

    /// Until when an attempt at `now` must wait, given one counter; `None` if it may go ahead.
    pub(super) fn wait_until(&self, row: &ThrottleRow, rule: Rule, now: i64) -> Option<i64> {
        let failures = self.failures_at(row, rule, now);
        if rule.limit.is_some_and(|limit| failures >= limit) {
            return Some(row.last_failure_at.saturating_add(rule.window_ms));
        }
        let delay = self.delay_ms(failures, rule.free);
        // A free failure never makes anyone wait, even when it was charged a moment *after*
        // `now`: by a parallel request that read the clock later, or by another instance whose
        // clock runs a little ahead.
        let until = row.last_failure_at.saturating_add(delay);
        (delay > 0 && now < until).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_logins_live_longer() {
        let p = SessionPolicy::default();
        assert!(p.idle(true) > p.idle(false));
        assert!(p.max_age(true) > p.max_age(false));
        assert!(p.max_age(false) <= 12 * HOUR, "ASVS: browser sessions re-authenticate within 12 h here");
    }
}
