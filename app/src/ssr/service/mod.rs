//! What Postern does, independent of how the request arrived (page, server function, JSON API):
//! sign-up, login, authenticating a token, listing and ending sessions, password changes.

use super::clock::SharedClock;
use super::device;
use super::geo::Locator;
use super::password::PasswordHasherPool;
use super::store::{
    BulkEnd, Demotion, EndOutcome, Event, EventKind, Keep, NewSession, Purge, Refund, Store, ThrottleRow, Touch,
};
use super::token;
use crate::model::{
    limits, AccountId, AccountView, AppError, EndReason, SessionId, SessionKind, SessionStatus, SessionView,
};

mod admin;
mod auth;
mod bound;
mod centre;
mod policy;
mod refusals;
mod sessions;
mod throttle;
mod validate;

pub use admin::{AdminAccount, AdminEnded, AdminTarget, ADMIN_EVENTS_SHOWN};
pub use bound::{BindError, Bound, RefreshStep};
pub use centre::SecureAccount;
pub use policy::{Rule, SessionPolicy, ThrottleKind, ThrottlePolicy};
pub use refusals::RefusalLog;
pub use sessions::{StreamCheck, StreamSnapshot};
pub use throttle::{account_throttle_key, ip_throttle_key, ThrottleKey};
use validate::truncate;
pub use validate::{login_email, normalize_email, validate_device_name, validate_name};

/// Where a request came from, as recorded on its session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    /// The device id the client sent (the `postern_device` cookie, or the app's `device_id`):
    /// random, long-lived, not a fingerprint. A device that logged in to an account before is
    /// throttled on a counter of its own.
    pub device_id: Option<String>,
}

/// An authenticated session.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentSession {
    pub session_id: SessionId,
    pub account_id: AccountId,
    pub email: String,
    pub name: String,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub expires_at: i64,
    pub sessions_version: i64,
    /// For the Inbox's count in the sidebar.
    pub unread_messages: i64,
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
    pub session_id: SessionId,
    pub auto_login: bool,
    /// Seconds the cookie of a remembered login should persist for.
    pub max_age_secs: i64,
    /// The device id to keep: the one the client sent, or a new one when it sent none (or one
    /// that cannot be ours). Goes back to the client in the device cookie or the API answer.
    pub device_id: String,
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
    pub refusals: RefusalLog,
    /// Where a login comes from (`--geoip-db`); without a database, nowhere.
    pub locator: Locator,
}

impl AuthService {
    /// A service with the default [`ThrottlePolicy`]; see [`AuthService::with_throttle`].
    pub fn new(store: Store, clock: SharedClock, policy: SessionPolicy, hasher: PasswordHasherPool) -> Self {
        Self {
            store,
            clock,
            policy,
            throttle: ThrottlePolicy::default(),
            hasher,
            refusals: RefusalLog::default(),
            locator: Locator::default(),
        }
    }

    pub fn with_locator(mut self, locator: Locator) -> Self {
        self.locator = locator;
        self
    }

    pub fn with_throttle(mut self, throttle: ThrottlePolicy) -> Self {
        self.throttle = throttle;
        self
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
