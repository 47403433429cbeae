//! What Postern does, independent of how the request arrived (page, server function, JSON API):
//! sign-up, login, authenticating a token, listing and ending sessions, password changes.

use super::clock::SharedClock;
use super::device;
use super::password::PasswordHasherPool;
use super::store::{AuthRow, BulkEnd, Demotion, EndOutcome, Event, EventKind, Keep, NewSession, Refund, Store, ThrottleRow};
use super::token;
use crate::model::{limits, AccountView, AppError, EndReason, SessionKind, SessionStatus, SessionView};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

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
    fn idle(&self, auto_login: bool) -> i64 {
        if auto_login { self.remembered_idle_ms } else { self.idle_ms }
    }
    fn max_age(&self, auto_login: bool) -> i64 {
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
    fn failures_at(&self, row: &ThrottleRow, now: i64) -> i64 {
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
    fn must_wait(&self, row: &ThrottleRow, now: i64) -> bool {
        let free = if row.key.starts_with(ACCOUNT_KEY) { self.account_free } else { self.ip_free };
        let delay = self.delay_ms(self.failures_at(row, now), free);
        // A free failure never makes anyone wait, even when it was charged a moment *after*
        // `now`: by a parallel request that read the clock later, or by another instance whose
        // clock runs a little ahead.
        delay > 0 && now < row.last_failure_at.saturating_add(delay)
    }
}

const ACCOUNT_KEY: &str = "account:";

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
struct Attempt {
    at: i64,
    account_key: String,
    before: Vec<ThrottleRow>,
}

/// Where a request came from, as recorded on its session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// An authenticated session.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentSession {
    pub session_id: String,
    pub account_id: i64,
    pub email: String,
    pub name: String,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub expires_at: i64,
    pub sessions_version: i64,
}

/// What a token stands for right now.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Active(CurrentSession),
    Ended(EndReason),
    None,
}

impl Resolved {
    pub fn active(&self) -> Option<&CurrentSession> {
        match self {
            Resolved::Active(s) => Some(s),
            _ => None,
        }
    }
    /// The session, or the error a request without one gets.
    pub fn require(&self) -> Result<&CurrentSession, AppError> {
        match self {
            Resolved::Active(s) => Ok(s),
            Resolved::Ended(reason) => Err(AppError::SessionEnded { reason: *reason }),
            Resolved::None => Err(AppError::Unauthorized),
        }
    }
}

/// A login that succeeded: the token goes to the client once, and is never stored.
#[derive(Clone, Debug)]
pub struct NewLogin {
    pub token: String,
    pub session_id: String,
    pub auto_login: bool,
    /// Seconds the cookie of a remembered login should persist for.
    pub max_age_secs: i64,
}

/// How a login was asked for.
#[derive(Clone, Debug)]
pub struct LoginRequest<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub remember: bool,
    pub kind: SessionKind,
    pub device_name: Option<&'a str>,
}

#[derive(Clone)]
pub struct AuthService {
    pub store: Store,
    pub clock: SharedClock,
    pub policy: SessionPolicy,
    pub throttle: ThrottlePolicy,
    pub hasher: PasswordHasherPool,
}

impl AuthService {
    /// A service with the default [`ThrottlePolicy`]; see [`AuthService::with_throttle`].
    pub fn new(store: Store, clock: SharedClock, policy: SessionPolicy, hasher: PasswordHasherPool) -> Self {
        Self { store, clock, policy, throttle: ThrottlePolicy::default(), hasher }
    }

    pub fn with_throttle(mut self, throttle: ThrottlePolicy) -> Self {
        self.throttle = throttle;
        self
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    // ---- accounts ------------------------------------------------------------------------

    pub async fn sign_up(
        &self,
        name: &str,
        email: &str,
        password: &str,
        repeat: &str,
        client: &ClientInfo,
    ) -> Result<NewLogin, AppError> {
        let name = validate_name(name)?;
        let email = normalize_email(email)?;
        if password != repeat {
            return Err(AppError::validation("repeat_password", "The two passwords do not match."));
        }
        self.hasher.check_new_password(password, &[&email, &name], "password", &ip_throttle_key(&client.ip)).await?;
        if self.store.account_by_email(&email).await?.is_some() {
            return Err(super::store::StoreError::DuplicateEmail.into());
        }
        let hash = self.hasher.hash(password, &ip_throttle_key(&client.ip)).await?;
        let account_id = self.store.create_account(&email, &name, &hash, self.now()).await?;
        self.start_session(account_id, false, SessionKind::Browser, None, client).await
    }

    /// Logs in. Unknown e-mail and wrong password answer the same and cost the same; so does a
    /// throttled attempt, known e-mail or not, and it never gets to the password check.
    pub async fn log_in(&self, req: &LoginRequest<'_>, client: &ClientInfo) -> Result<NewLogin, AppError> {
        let email = req.email.trim().to_lowercase();
        // Too long to be anyone's: no guess is possible, so nothing to count.
        if email.len() > limits::EMAIL_MAX || req.password.chars().count() > limits::PASSWORD_MAX {
            return Err(AppError::InvalidCredentials);
        }
        let device_name = match req.kind {
            SessionKind::App => Some(validate_device_name(req.device_name.unwrap_or(""))?),
            SessionKind::Browser => None,
        };
        self.refuse_if_throttled(&email, client).await?;
        let account = self.store.account_by_email(&email).await?;
        let hash = account.as_ref().map(|a| a.password_hash.as_str());
        let slot = self.hasher.slot(&ip_throttle_key(&client.ip)).await?;
        let attempt = self.charge_attempt(&email, client).await?;
        let ok = self.hasher.verify_in_slot(&slot, req.password, hash).await?;
        if ok && account.is_some() {
            self.refund_attempt(&attempt).await?;
        }
        drop(slot);
        let account = match (ok, account) {
            (true, Some(account)) => account,
            (_, account) => {
                // The charged attempt stays counted as a failure.
                let mut event = Event::new(EventKind::LoginFailed, account.map(|a| a.id), self.now())
                    .detail(if req.kind == SessionKind::App { "app" } else { "browser" });
                event.ip = Some(client.ip.clone());
                self.store.record_event(&event).await?;
                return Err(AppError::InvalidCredentials);
            }
        };
        // The mail app stays logged in: its logins are always remembered.
        let remember = req.remember || req.kind == SessionKind::App;
        self.start_session(account.id, remember, req.kind, device_name, client).await
    }

    /// The cheap early answer while a counter says wait: no queueing for a hashing slot.
    async fn refuse_if_throttled(&self, email: &str, client: &ClientInfo) -> Result<(), AppError> {
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
    async fn charge_attempt(&self, email: &str, client: &ClientInfo) -> Result<Attempt, AppError> {
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

    fn throttled(&self, client: &ClientInfo) -> AppError {
        tracing::warn!(ip = %client.ip, "login attempt throttled");
        AppError::TooManyAttempts
    }

    /// The password was right: the account's counter starts again; the client's loses the
    /// attempt it was charged, so successful logins never count against an address.
    async fn refund_attempt(&self, attempt: &Attempt) -> Result<(), AppError> {
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

    async fn start_session(
        &self,
        account_id: i64,
        auto_login: bool,
        kind: SessionKind,
        device_name: Option<String>,
        client: &ClientInfo,
    ) -> Result<NewLogin, AppError> {
        let now = self.now();
        let token = token::new_token();
        let session = NewSession {
            id: token::new_session_id(),
            token_hash: token::hash_token(&token),
            account_id,
            kind,
            auto_login,
            device_name,
            ip: client.ip.clone(),
            user_agent: truncate(&client.user_agent, 512),
            now,
            idle_expires_at: now + self.policy.idle(auto_login),
            expires_at: now + self.policy.max_age(auto_login),
        };
        let event = Event::new(EventKind::LoginSucceeded, Some(account_id), now)
            .by(&session.id, &client.ip)
            .detail(format!("{}{}", kind.as_str(), if auto_login { ", stay logged in" } else { "" }));
        self.store.create_session(&session, self.policy.max_active, &event).await?;
        Ok(NewLogin {
            token,
            session_id: session.id,
            auto_login,
            max_age_secs: self.policy.max_age(auto_login) / 1000,
        })
    }

    // ---- authenticating requests ---------------------------------------------------------

    /// What `token` stands for now. `activity` says whether this request counts as the person
    /// using the session (page loads and actions do; the status poll does not).
    pub async fn authenticate(&self, token: &str, activity: bool) -> Result<Resolved, AppError> {
        if !token::looks_like_token(token) {
            return Ok(Resolved::None);
        }
        let Some(row) = self.store.session_by_token_hash(&token::hash_token(token)).await? else {
            return Ok(Resolved::None);
        };
        let now = self.now();
        if row.ended_at.is_some() {
            let reason = row.end_reason.as_deref().and_then(EndReason::parse).unwrap_or(EndReason::Expired);
            return Ok(Resolved::Ended(reason));
        }
        if let Some(expired_at) = expired_at(&row, now) {
            self.store.mark_expired(row.account_id, &row.id, expired_at).await?;
            return Ok(Resolved::Ended(EndReason::Expired));
        }
        let stale_before = now - self.policy.activity_write_interval_ms;
        if activity && row.last_active_at <= stale_before {
            self.store.touch(&row.id, now, now + self.policy.idle(row.auto_login), stale_before).await?;
        }
        Ok(Resolved::Active(CurrentSession {
            session_id: row.id,
            account_id: row.account_id,
            email: row.email,
            name: row.name,
            kind: SessionKind::parse(&row.kind).unwrap_or(SessionKind::Browser),
            auto_login: row.auto_login,
            expires_at: row.expires_at,
            sessions_version: row.sessions_version,
        }))
    }

    /// The answer of the status poll. Never counts as activity.
    pub async fn status(&self, token: Option<&str>) -> Result<SessionStatus, AppError> {
        let Some(token) = token else { return Ok(SessionStatus::None) };
        Ok(match self.authenticate(token, false).await? {
            Resolved::Active(s) => SessionStatus::Active { sessions_version: s.sessions_version },
            Resolved::Ended(reason) => SessionStatus::Ended { reason },
            Resolved::None => SessionStatus::None,
        })
    }

    // ---- the signed-in person's own sessions ---------------------------------------------

    pub fn account_view(current: &CurrentSession) -> AccountView {
        AccountView { name: current.name.clone(), email: current.email.clone() }
    }

    /// Active sessions of the caller's account: the current one first, then by last activity.
    pub async fn list_sessions(&self, current: &CurrentSession) -> Result<Vec<SessionView>, AppError> {
        let rows = self.store.active_sessions(current.account_id, self.now()).await?;
        let mut views: Vec<SessionView> = rows
            .into_iter()
            .map(|r| {
                let kind = SessionKind::parse(&r.kind).unwrap_or(SessionKind::Browser);
                SessionView {
                    device: device::describe(kind, r.device_name.as_deref(), &r.user_agent),
                    current: r.id == current.session_id,
                    id: r.id,
                    user_agent: r.user_agent,
                    ip: r.ip,
                    kind,
                    auto_login: r.auto_login,
                    created_at: r.created_at,
                    last_active_at: r.last_active_at,
                }
            })
            .collect();
        // Stable sort: the rest keep the store's most-recent-first order.
        views.sort_by_key(|v| !v.current);
        Ok(views)
    }

    /// Ends one of the caller's *other* sessions. The current one cannot be ended this way.
    pub async fn end_session(&self, current: &CurrentSession, client: &ClientInfo, session_id: &str) -> Result<(), AppError> {
        if session_id == current.session_id {
            return Err(AppError::Conflict {
                message: "You cannot end your current session here. Log out, or use \"Terminate all sessions\".".into(),
            });
        }
        if session_id.is_empty() || session_id.len() > 64 {
            return Err(AppError::NotFound);
        }
        let event = Event::new(EventKind::SessionEnded, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip)
            .target(session_id);
        match self.store.end_session(current.account_id, session_id, EndReason::EndedByUser, &event).await? {
            EndOutcome::Ended | EndOutcome::AlreadyEnded => Ok(()),
            EndOutcome::NotFound => Err(AppError::NotFound),
        }
    }

    pub async fn log_out(&self, current: &CurrentSession, client: &ClientInfo) -> Result<(), AppError> {
        let event = Event::new(EventKind::LoggedOut, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip)
            .target(&current.session_id);
        self.store.end_session(current.account_id, &current.session_id, EndReason::LoggedOut, &event).await?;
        Ok(())
    }

    /// Ends every session of the account, the caller's included.
    pub async fn terminate_all(&self, current: &CurrentSession, client: &ClientInfo) -> Result<u64, AppError> {
        let event = Event::new(EventKind::SessionsTerminated, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip);
        let plan = BulkEnd { reason: EndReason::TerminatedAll, only_auto_login: false, keep: None, new_password_hash: None };
        Ok(self.store.end_sessions(current.account_id, &plan, &event).await?)
    }

    /// Changes the password: every other session ends, the current one gets a fresh token (the
    /// returned one), all in one transaction.
    pub async fn change_password(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        current_password: &str,
        new_password: &str,
        repeat: &str,
    ) -> Result<String, AppError> {
        self.confirm_password(current, client, current_password, "current_password", "Your current password is incorrect.").await?;
        if new_password != repeat {
            return Err(AppError::validation("repeat_new_password", "The two new passwords do not match."));
        }
        self.hasher.check_new_password(new_password, &[&current.email, &current.name], "new_password", &ip_throttle_key(&client.ip)).await?;
        let hash = self.hasher.hash(new_password, &ip_throttle_key(&client.ip)).await?;
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let event = Event::new(EventKind::PasswordChanged, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::PasswordChanged,
            only_auto_login: false,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: &token_hash, demote: None }),
            new_password_hash: Some(&hash),
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// Ends every remembered login (mail apps, "Stay logged in" browsers) except the current
    /// session, which gets a fresh token and, if it was remembered, stops being so.
    pub async fn reset_auto_login(&self, current: &CurrentSession, client: &ClientInfo, password: &str) -> Result<String, AppError> {
        self.confirm_password(current, client, password, "password", "The password is incorrect.").await?;
        let now = self.now();
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let demote = current.auto_login.then(|| Demotion {
            idle_expires_at: now + self.policy.idle_ms,
            expires_at: current.expires_at.min(now + self.policy.max_age_ms),
        });
        let event = Event::new(EventKind::AutoLoginReset, Some(current.account_id), now).by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::AutoLoginReset,
            only_auto_login: true,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: &token_hash, demote }),
            new_password_hash: None,
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// Re-checks the password of a signed-in person. Counted like a login, so that a stolen
    /// session cannot be used to guess the password at full speed.
    async fn confirm_password(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        password: &str,
        field: &str,
        message: &str,
    ) -> Result<(), AppError> {
        if password.chars().count() > limits::PASSWORD_MAX {
            return Err(AppError::validation(field, message));
        }
        let account = self.store.account_by_id(current.account_id).await?.ok_or(AppError::Unauthorized)?;
        self.refuse_if_throttled(&account.email, client).await?;
        let slot = self.hasher.slot(&ip_throttle_key(&client.ip)).await?;
        let attempt = self.charge_attempt(&account.email, client).await?;
        if !self.hasher.verify_in_slot(&slot, password, Some(&account.password_hash)).await? {
            return Err(AppError::validation(field, message));
        }
        self.refund_attempt(&attempt).await
    }

    /// A bulk change whose acting session ended meanwhile applies nothing; say so.
    async fn ensure_still_active(&self, token: &str) -> Result<(), AppError> {
        match self.authenticate(token, false).await? {
            Resolved::Active(_) => Ok(()),
            Resolved::Ended(reason) => Err(AppError::SessionEnded { reason }),
            Resolved::None => Err(AppError::Unauthorized),
        }
    }

    /// Periodic housekeeping; see `Store::purge`.
    pub async fn purge(&self) -> Result<(u64, u64), AppError> {
        let now = self.now();
        Ok(self.store.purge(now, now - self.policy.retention_ms, now - self.throttle.window_ms).await?)
    }
}

/// When the session ran out, if it has: the earlier of its idle and absolute deadlines.
fn expired_at(row: &AuthRow, now: i64) -> Option<i64> {
    let deadline = row.expires_at.min(row.idle_expires_at);
    (now >= deadline).then_some(deadline)
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max_chars).collect()
}

/// Trimmed and lower-cased; a plausible address (one `@`, a dot in the domain, no spaces).
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let invalid = || AppError::validation("email", "Enter a valid e-mail address, like name@example.com.");
    if email.is_empty() || email.len() > limits::EMAIL_MAX {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok || domain.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    Ok(email)
}

pub fn validate_name(name: &str) -> Result<String, AppError> {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        return Err(AppError::validation("name", "Enter your name."));
    }
    if name.chars().count() > limits::NAME_MAX {
        return Err(AppError::validation("name", "Use at most 100 characters for your name."));
    }
    Ok(name)
}

/// 1–64 characters after control characters are stripped and white space trimmed.
pub fn validate_device_name(name: &str) -> Result<String, AppError> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim().to_string();
    let n = name.chars().count();
    if n == 0 || n > limits::DEVICE_NAME_MAX {
        return Err(AppError::validation("device_name", "The device name must be 1 to 64 characters long."));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in ["", "alice", "alice@", "@example.com", "alice@example", "a b@example.com", "a@b@c.com", "a@.com", "a@b..com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn device_names_lose_control_characters() {
        assert_eq!(validate_device_name(" Pixel\u{0} 8\n").unwrap(), "Pixel 8");
        assert!(validate_device_name("\u{7}\u{1b}").is_err());
        assert!(validate_device_name(&"x".repeat(65)).is_err());
        assert!(validate_device_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn names_are_required_and_bounded() {
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"n".repeat(101)).is_err());
        assert_eq!(validate_name(" Ada Lovelace ").unwrap(), "Ada Lovelace");
    }

    fn row(idle_expires_at: i64, expires_at: i64) -> AuthRow {
        AuthRow {
            id: "s".into(),
            account_id: 1,
            kind: "browser".into(),
            auto_login: false,
            last_active_at: 0,
            idle_expires_at,
            expires_at,
            ended_at: None,
            end_reason: None,
            email: "a@example.com".into(),
            name: "A".into(),
            sessions_version: 0,
        }
    }

    #[test]
    fn expiry_is_exact_at_the_boundary() {
        assert_eq!(expired_at(&row(1000, 5000), 999), None);
        assert_eq!(expired_at(&row(1000, 5000), 1000), Some(1000));
        assert_eq!(expired_at(&row(9000, 5000), 4999), None);
        assert_eq!(expired_at(&row(9000, 5000), 5000), Some(5000));
    }

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

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Anything a form field could hold: arbitrary Unicode, look-alikes of addresses, and
        /// overlong input.
        fn input() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[ \t]{0,2}[A-Za-z0-9._%+-]{0,20}@[A-Za-z0-9.-]{0,20}[ \t]{0,2}",
                r"\PC{0,80}",
                "[a-z@. ]{240,300}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn normalize_email_never_panics_and_accepts_only_plausible_addresses(raw in input()) {
                let result = normalize_email(&raw);
                if let Ok(email) = result.clone() {
                    prop_assert!(!email.is_empty() && email.len() <= limits::EMAIL_MAX);
                    prop_assert_eq!(email.matches('@').count(), 1);
                    prop_assert!(!email.chars().any(|c| c.is_whitespace() || c.is_control()));
                    prop_assert_eq!(email.to_lowercase(), email.clone());
                    prop_assert_eq!(normalize_email(&email).ok(), Some(email.clone()), "normalising twice changes nothing");
                } else {
                    let err = result.unwrap_err();
                    prop_assert_eq!(err.field(), Some("email"));
                }
            }

            #[test]
            fn plausible_addresses_are_accepted_in_any_case(local in "[A-Za-z0-9._+-]{1,30}", domain in "[A-Za-z0-9-]{1,20}(\\.[A-Za-z]{2,6}){1,2}") {
                let raw = format!("  {local}@{domain} ");
                prop_assert_eq!(normalize_email(&raw), Ok(format!("{local}@{domain}").to_lowercase()));
            }

            #[test]
            fn device_names_are_1_to_64_characters_without_control_characters(raw in input()) {
                match validate_device_name(&raw) {
                    Ok(name) => {
                        let n = name.chars().count();
                        prop_assert!((1..=limits::DEVICE_NAME_MAX).contains(&n), "{} characters", n);
                        prop_assert!(!name.chars().any(char::is_control));
                        prop_assert_eq!(name.trim(), name.as_str());
                        prop_assert_eq!(validate_device_name(&name).ok(), Some(name.clone()));
                    }
                    Err(err) => {
                        prop_assert_eq!(err.field(), Some("device_name"));
                    }
                }
            }

            #[test]
            fn throttle_keys_never_panic_and_stay_short(ip in input()) {
                prop_assert!(ip_throttle_key(&ip).chars().count() <= 3 + 64);
            }
        }
    }

    #[test]
    fn remembered_logins_live_longer() {
        let p = SessionPolicy::default();
        assert!(p.idle(true) > p.idle(false));
        assert!(p.max_age(true) > p.max_age(false));
        assert!(p.max_age(false) <= 12 * HOUR, "ASVS: browser sessions re-authenticate within 12 h here");
    }
}
