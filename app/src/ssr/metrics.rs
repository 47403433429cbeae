//! Every metric Postern records, named in one place (the `metrics` facade; the server installs a
//! Prometheus recorder when `--metrics-listen` is set, and without one these calls do nothing).
//! Labels are words from closed sets (results, kinds, reasons, route templates): never an
//! e-mail address, an IP address, a token or a raw path.

use crate::model::{EndReason, SessionKind};

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginResult {
    Ok,
    /// A wrong e-mail or password.
    Invalid,
    /// Refused by the throttle before any password check.
    Throttled,
    /// Anything else (a refused device name, the database away).
    Error,
}

impl LoginResult {
    fn as_str(self) -> &'static str {
        match self {
            LoginResult::Ok => "ok",
            LoginResult::Invalid => "invalid",
            LoginResult::Throttled => "throttled",
            LoginResult::Error => "error",
        }
    }
}

pub fn login(result: LoginResult) {
    metrics::counter!("postern_logins_total", "result" => result.as_str()).increment(1);
}

pub fn sign_up() {
    metrics::counter!("postern_signups_total").increment(1);
}

pub fn session_started(kind: SessionKind) {
    metrics::counter!("postern_sessions_started_total", "kind" => kind.as_str()).increment(1);
}

pub fn sessions_ended(reason: EndReason, count: u64) {
    if count > 0 {
        metrics::counter!("postern_sessions_ended_total", "reason" => reason.as_str()).increment(count);
    }
}

/// Set by the housekeeping job (a count per request would cost a query per request).
pub fn active_sessions(count: i64) {
    metrics::gauge!("postern_active_sessions").set(count as f64);
}

pub fn event_streams_open(count: usize) {
    metrics::gauge!("postern_event_streams_open").set(count as f64);
}

/// Requests waiting for a password-hashing slot.
pub fn hash_queue_length(count: usize) {
    metrics::gauge!("postern_hash_queue_length").set(count as f64);
}

/// `kind`: `unavailable` (cannot reach the database) or `other`.
pub fn database_error(kind: &'static str) {
    metrics::counter!("postern_database_errors_total", "kind" => kind).increment(1);
}

/// The store's writes, each a label of `postern_db_write_seconds`: from asking for the write turn
/// (SQLite) or the transaction (PostgreSQL) to its commit, so the time spent waiting behind other
/// writers counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePath {
    CreateAccount,
    AccountSetting,
    CreateSession,
    /// "Last active", at most once a minute per session.
    Touch,
    RenameSession,
    EndSession,
    /// Terminate all, end the others, reset auto-login, "This wasn't me", ended by the admin.
    EndSessions,
    /// The new hash and the other sessions' end, in one transaction.
    PasswordChange,
    MarkExpired,
    Purge,
    ThrottleCharge,
    ThrottleRefund,
    SecurityEvent,
    Message,
    DeviceBinding,
    Seed,
}

impl WritePath {
    pub fn as_str(self) -> &'static str {
        match self {
            WritePath::CreateAccount => "create_account",
            WritePath::AccountSetting => "account_setting",
            WritePath::CreateSession => "create_session",
            WritePath::Touch => "touch",
            WritePath::RenameSession => "rename_session",
            WritePath::EndSession => "end_session",
            WritePath::EndSessions => "end_sessions",
            WritePath::PasswordChange => "password_change",
            WritePath::MarkExpired => "mark_expired",
            WritePath::Purge => "purge",
            WritePath::ThrottleCharge => "throttle_charge",
            WritePath::ThrottleRefund => "throttle_refund",
            WritePath::SecurityEvent => "security_event",
            WritePath::Message => "message",
            WritePath::DeviceBinding => "device_binding",
            WritePath::Seed => "seed",
        }
    }
}

/// A write of `path` took `seconds`, its wait for the write turn included.
pub fn db_write(path: WritePath, seconds: f64) {
    metrics::histogram!("postern_db_write_seconds", "write" => path.as_str()).record(seconds);
}
