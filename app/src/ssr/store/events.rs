//! The security event log: what happened to an account, for its owner to see.

use super::*;

/// Kinds of entries in the security event log. Never holds a password or token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    AccountCreated,
    LoginSucceeded,
    LoginFailed,
    LoggedOut,
    SessionEnded,
    SessionsTerminated,
    SessionExpired,
    PasswordChanged,
    AutoLoginReset,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AccountCreated => "account_created",
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::LoggedOut => "logged_out",
            EventKind::SessionEnded => "session_ended",
            EventKind::SessionsTerminated => "sessions_terminated",
            EventKind::SessionExpired => "session_expired",
            EventKind::PasswordChanged => "password_changed",
            EventKind::AutoLoginReset => "auto_login_reset",
        }
    }
}

/// One entry of the security event log.
#[derive(Clone, Debug)]
pub struct Event {
    pub account_id: Option<i64>,
    pub at: i64,
    pub kind: EventKind,
    pub session_id: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind, account_id: Option<i64>, at: i64) -> Self {
        Self { account_id, at, kind, session_id: None, target_id: None, ip: None, detail: None }
    }
    pub fn by(mut self, session_id: &str, ip: &str) -> Self {
        self.session_id = Some(session_id.to_string());
        self.ip = Some(ip.to_string());
        self
    }
    pub fn target(mut self, target_id: &str) -> Self {
        self.target_id = Some(target_id.to_string());
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct EventRow {
    pub at: i64,
    pub kind: String,
    pub session_id: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    /// Records a security event outside any other change (failed logins, for instance).
    pub async fn record_event(&self, event: &Event) -> Result<()> {
        with_pool!(self, |pool| {
            let mut conn = pool.acquire().await?;
            insert_event!(conn, event);
        });
        Ok(())
    }

    /// The account's security events, newest first: (at, kind, session_id, target_id, ip, detail).
    pub async fn events(&self, account_id: i64) -> Result<Vec<EventRow>> {
        const SQL: &str = "SELECT at, kind, session_id, target_id, ip, detail FROM security_events
                           WHERE account_id = $1 ORDER BY at DESC, id DESC";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).fetch_all(pool).await?))
    }
}
