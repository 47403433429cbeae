//! What Postern does, independent of how the request arrived (page, server function, JSON API):
//! sign-up, login, authenticating a token, listing and ending sessions, password changes.

use super::clock::SharedClock;
use super::device;
use super::password::{check_new_password, PasswordHasherPool};
use super::store::{AuthRow, BulkEnd, Demotion, EndOutcome, Event, EventKind, Keep, NewSession, Store};
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
    pub hasher: PasswordHasherPool,
}

impl AuthService {
    pub fn new(store: Store, clock: SharedClock, policy: SessionPolicy, hasher: PasswordHasherPool) -> Self {
        Self { store, clock, policy, hasher }
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
        check_new_password(password, &[&email, &name], "password")?;
        if self.store.account_by_email(&email).await?.is_some() {
            return Err(super::store::StoreError::DuplicateEmail.into());
        }
        let hash = self.hasher.hash(password).await?;
        let account_id = self.store.create_account(&email, &name, &hash, self.now()).await?;
        self.start_session(account_id, false, SessionKind::Browser, None, client).await
    }

    /// Logs in. Unknown e-mail and wrong password answer the same and cost the same.
    pub async fn log_in(&self, req: &LoginRequest<'_>, client: &ClientInfo) -> Result<NewLogin, AppError> {
        let email = req.email.trim().to_lowercase();
        if email.len() > limits::EMAIL_MAX || req.password.chars().count() > limits::PASSWORD_MAX {
            return Err(AppError::InvalidCredentials);
        }
        let device_name = match req.kind {
            SessionKind::App => Some(validate_device_name(req.device_name.unwrap_or(""))?),
            SessionKind::Browser => None,
        };
        let account = self.store.account_by_email(&email).await?;
        let ok = self.hasher.verify(req.password, account.as_ref().map(|a| a.password_hash.as_str())).await?;
        let account = match (ok, account) {
            (true, Some(account)) => account,
            (_, account) => {
                let event = Event::new(EventKind::LoginFailed, account.map(|a| a.id), self.now())
                    .detail(if req.kind == SessionKind::App { "app" } else { "browser" });
                let mut event = event;
                event.ip = Some(client.ip.clone());
                self.store.record_event(&event).await?;
                return Err(AppError::InvalidCredentials);
            }
        };
        // The mail app stays logged in: its logins are always remembered.
        let remember = req.remember || req.kind == SessionKind::App;
        self.start_session(account.id, remember, req.kind, device_name, client).await
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
        if activity && now - row.last_active_at >= self.policy.activity_write_interval_ms {
            self.store.touch(&row.id, now, now + self.policy.idle(row.auto_login)).await?;
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
        self.confirm_password(current, current_password, "current_password", "Your current password is incorrect.").await?;
        if new_password != repeat {
            return Err(AppError::validation("repeat_new_password", "The two new passwords do not match."));
        }
        check_new_password(new_password, &[&current.email, &current.name], "new_password")?;
        let hash = self.hasher.hash(new_password).await?;
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
        self.confirm_password(current, password, "password", "The password is incorrect.").await?;
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

    async fn confirm_password(&self, current: &CurrentSession, password: &str, field: &str, message: &str) -> Result<(), AppError> {
        let account = self.store.account_by_id(current.account_id).await?.ok_or(AppError::Unauthorized)?;
        if password.chars().count() > limits::PASSWORD_MAX || !self.hasher.verify(password, Some(&account.password_hash)).await? {
            return Err(AppError::validation(field, message));
        }
        Ok(())
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
        Ok(self.store.purge(now, now - self.policy.retention_ms).await?)
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
    fn remembered_logins_live_longer() {
        let p = SessionPolicy::default();
        assert!(p.idle(true) > p.idle(false));
        assert!(p.max_age(true) > p.max_age(false));
        assert!(p.max_age(false) <= 12 * HOUR, "ASVS: browser sessions re-authenticate within 12 h here");
    }
}
