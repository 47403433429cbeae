//! How long sessions live and how failed logins slow further attempts down.

use super::throttle::ACCOUNT_KEY;
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
    /// Active sessions per account; a login beyond it ends the least recently active one.
    pub max_active: i64,
    /// "Last active" is written at most this often per session, so requests do not become writes.
    pub activity_write_interval_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ms: 30 * MINUTE,
            max_age_ms: 12 * HOUR,
            remembered_idle_ms: 14 * DAY,
            remembered_max_age_ms: 30 * DAY,
            retention_ms: 30 * DAY,
            max_active: 100,
            activity_write_interval_ms: MINUTE,
        }
    }
}

impl SessionPolicy {
    pub(super) fn idle(&self, auto_login: bool) -> i64 {
        if auto_login { self.remembered_idle_ms } else { self.idle_ms }
    }
    pub(super) fn max_age(&self, auto_login: bool) -> i64 {
        if auto_login { self.remembered_max_age_ms } else { self.max_age_ms }
    }
}

/// How failed logins slow down further attempts (OWASP ASVS 5.0 V6.3, NIST 800-63B 5.2.2):
/// per account (normalised e-mail, known or not) and per client address, the first `*_free`
/// failures cost nothing; after that each attempt waits `base_delay_ms × 2^k` (k = failures
/// beyond the free ones), at most `max_delay_ms`, counted from the last failure. A counter whose
/// last failure is `window_ms` old starts again, and a successful login clears its account's
/// counter. There is no permanent lock-out: after the delay the owner can log in.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottlePolicy {
    pub account_free: i64,
    pub ip_free: i64,
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
    pub window_ms: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { account_free: 5, ip_free: 20, base_delay_ms: 30_000, max_delay_ms: 15 * MINUTE, window_ms: 15 * MINUTE }
    }
}

impl ThrottlePolicy {
    /// Failures that still count at `now`: none once the last one is a quiet window old.
    pub(super) fn failures_at(&self, row: &ThrottleRow, now: i64) -> i64 {
        if now - row.last_failure_at >= self.window_ms { 0 } else { row.failures }
    }

    /// How long after the last failure the next attempt must wait.
    pub fn delay_ms(&self, failures: i64, free: i64) -> i64 {
        if failures < free {
            return 0;
        }
        let doublings = (failures - free).min(62) as u32;
        self.base_delay_ms.saturating_mul(1i64 << doublings).min(self.max_delay_ms)
    }

    /// Whether an attempt at `now` must still wait, given one counter.
    pub(super) fn must_wait(&self, row: &ThrottleRow, now: i64) -> bool {
        let free = if row.key.starts_with(ACCOUNT_KEY) { self.account_free } else { self.ip_free };
        let delay = self.delay_ms(self.failures_at(row, now), free);
        // A free failure never makes anyone wait, even when it was charged a moment *after*
        // `now`: by a parallel request that read the clock later, or by another instance whose
        // clock runs a little ahead.
        delay > 0 && now < row.last_failure_at.saturating_add(delay)
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
