//! Domain types shared by the server and the browser. None of them ever carries a token or a hash.

use serde::{Deserialize, Serialize};
use std::fmt;

mod centre;
mod error;
mod ids;

pub use centre::*;
pub use error::AppError;
pub use ids::{AccountId, SessionId};

/// Why a session ended. The same words everywhere: database, JSON API, status poll. The list can
/// grow: a reason this build does not know (written by a newer instance during a rolling upgrade,
/// or sent to an open tab of an older page) is [`EndReason::Other`]: still "ended", with the
/// generic notice, never an error and never mistaken for "expired".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    LoggedOut,
    EndedByUser,
    TerminatedAll,
    Expired,
    PasswordChanged,
    AutoLoginReset,
    /// Ended to make room: a login beyond the account's session limit ends the least recently
    /// active session.
    SessionLimit,
    /// "End all other sessions": every session but the one that asked.
    EndedOthers,
    /// "This wasn't me": the reported login and every other session but the reporter's.
    NotMe,
    /// An operator's `server admin sessions end`.
    EndedByAdmin,
    /// A reason this build does not know.
    Other,
}

impl EndReason {
    pub const ALL: [EndReason; 10] = [
        EndReason::LoggedOut,
        EndReason::EndedByUser,
        EndReason::TerminatedAll,
        EndReason::Expired,
        EndReason::PasswordChanged,
        EndReason::AutoLoginReset,
        EndReason::SessionLimit,
        EndReason::EndedOthers,
        EndReason::NotMe,
        EndReason::EndedByAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::LoggedOut => "logged_out",
            EndReason::EndedByUser => "ended_by_user",
            EndReason::TerminatedAll => "terminated_all",
            EndReason::Expired => "expired",
            EndReason::PasswordChanged => "password_changed",
            EndReason::AutoLoginReset => "auto_login_reset",
            EndReason::SessionLimit => "session_limit",
            EndReason::EndedOthers => "ended_others",
            EndReason::NotMe => "not_me",
            EndReason::EndedByAdmin => "ended_by_admin",
            EndReason::Other => "other",
        }
    }

    /// The reason `s` names; [`EndReason::Other`] (with a warning on the server) for any other.
    pub fn parse(s: &str) -> Self {
        match Self::ALL.into_iter().find(|r| r.as_str() == s) {
            Some(reason) => reason,
            None => {
                #[cfg(feature = "ssr")]
                tracing::warn!(reason = s, "unknown end reason: treated as ended");
                EndReason::Other
            }
        }
    }
}

/// How a session logged in: a web browser (cookie) or the mobile mail app (bearer token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    Browser,
    App,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Browser => "browser",
            SessionKind::App => "app",
        }
    }

    /// The kind `s` names. Only these two can be stored (a CHECK constraint), so any other is
    /// refused rather than guessed.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "browser" => Some(SessionKind::Browser),
            "app" => Some(SessionKind::App),
            _ => None,
        }
    }
}

/// Kinds of entries in the security event log. Like [`EndReason`], the list can grow; a kind
/// this build does not know reads as [`EventKind::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// A wrong password re-entered in a session (change password, reset auto-login).
    PasswordReentryFailed,
    /// Attempts refused by the throttle: one row per account and throttle window, with a count.
    AttemptsRefused,
    /// "End all other sessions".
    OtherSessionsEnded,
    /// "This wasn't me" → "Secure my account": sessions ended, auto-login reset, password changed.
    AccountSecured,
    /// An operator ended sessions (`server admin sessions end`).
    EndedByAdmin,
    /// The owner renamed a session ("Rename" on Manage Sessions, or the API).
    SessionRenamed,
    /// A device-bound session's refresh came with a proof that failed: not the device that holds
    /// the key (a copied cookie), or a stale or reused challenge.
    DeviceCheckFailed,
    /// A kind this build does not know.
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::AccountCreated,
        EventKind::LoginSucceeded,
        EventKind::LoginFailed,
        EventKind::LoggedOut,
        EventKind::SessionEnded,
        EventKind::SessionsTerminated,
        EventKind::SessionExpired,
        EventKind::PasswordChanged,
        EventKind::AutoLoginReset,
        EventKind::PasswordReentryFailed,
        EventKind::AttemptsRefused,
        EventKind::OtherSessionsEnded,
        EventKind::AccountSecured,
        EventKind::EndedByAdmin,
        EventKind::SessionRenamed,
        EventKind::DeviceCheckFailed,
    ];

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
            EventKind::PasswordReentryFailed => "password_reentry_failed",
            EventKind::AttemptsRefused => "attempts_refused",
            EventKind::OtherSessionsEnded => "other_sessions_ended",
            EventKind::AccountSecured => "account_secured",
            EventKind::EndedByAdmin => "ended_by_admin",
            EventKind::SessionRenamed => "session_renamed",
            EventKind::DeviceCheckFailed => "device_check_failed",
            EventKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|k| k.as_str() == s).unwrap_or(EventKind::Other)
    }
}

/// JSON (and, on the server, both databases and the rusqlite read path) carry these enums as
/// their words; written once here instead of per query.
macro_rules! text_enum {
    ($ty:ty, |$s:ident| $parse:expr) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let $s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                let $s: &str = &$s;
                $parse.ok_or_else(|| serde::de::Error::custom(format!("unknown value {:?}", $s)))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "ssr")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "ssr")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            &'static str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut DB::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'static str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        #[cfg(feature = "ssr")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let $s = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                $parse.ok_or_else(|| format!("unknown value {:?}", $s).into())
            }
        }

        #[cfg(feature = "ssr")]
        impl rusqlite::types::FromSql for $ty {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let $s = value.as_str()?;
                $parse.ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("unknown value {:?}", $s).into()))
            }
        }

        #[cfg(feature = "ssr")]
        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }
    };
}

text_enum!(EndReason, |s| Some(EndReason::parse(s)));
text_enum!(SessionKind, |s| SessionKind::parse(s));
text_enum!(EventKind, |s| Some(EventKind::parse(s)));
text_enum!(MessageReply, |s| MessageReply::parse(s));

/// What sort of device a session runs on, for its icon.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Desktop,
    Phone,
    App,
}

impl DeviceType {
    /// For screen readers, beside the icon.
    pub fn words(self) -> &'static str {
        match self {
            DeviceType::Desktop => "Computer",
            DeviceType::Phone => "Phone",
            DeviceType::App => "Mail app",
        }
    }
}

/// What a session's location says of a loopback or private address.
pub const LOCAL_NETWORK: &str = "Local network";

/// A stored location in words: "near Berlin, Germany", or "Local network".
pub fn location_words(location: &str) -> String {
    if location == LOCAL_NETWORK {
        location.to_string()
    } else {
        format!("near {location}")
    }
}

/// The signed-in account, as the shell shows it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AccountView {
    pub name: String,
    pub email: String,
}

/// One active session as the Manage Sessions page and the JSON API show it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SessionView {
    pub id: SessionId,
    /// What a person would call the device: "Chrome on Linux", "Mail app on Pixel 8".
    /// What a person would call the device: "Chrome on Linux", "Mail app on Pixel 8", or the name
    /// its owner gave it ("Work laptop").
    pub device: String,
    /// What the user agent says, when the owner renamed the session (shown small beneath).
    pub parsed_device: Option<String>,
    pub device_type: DeviceType,
    /// The raw user agent, shown on hover.
    pub user_agent: String,
    pub ip: String,
    /// "Berlin, Germany", "Germany" or [`LOCAL_NETWORK`], with a GeoIP database configured.
    pub location: Option<String>,
    pub kind: SessionKind,
    pub auto_login: bool,
    /// Device-bound (DBSC): its cookies only work on the device that holds its key.
    pub bound: bool,
    /// Unix time in milliseconds.
    pub created_at: i64,
    /// Unix time in milliseconds.
    pub last_active_at: i64,
    pub current: bool,
}

/// The account's active sessions, with the `sessions_version` they were read at.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SessionList {
    pub sessions_version: i64,
    pub sessions: Vec<SessionView>,
    /// Sessions that ended within the retention period, most recent first.
    pub ended: Vec<EndedSessionView>,
}

/// Device-bound sessions (DBSC): where the browser posts its registration proof, and where it
/// renews the short-lived cookie.
pub const DBSC_REGISTER_PATH: &str = "/dbsc/register";
pub const DBSC_REFRESH_PATH: &str = "/dbsc/refresh";

/// Where pages poll their session's status (see [`SessionStatus`]).
pub const STATUS_PATH: &str = "/api/session/status";

/// Where pages open their stream of session events (server-sent events): `ended` with
/// [`StreamEnded`], `sessions` with [`StreamSessions`], `message` with [`StreamMessage`], `none`
/// for no session; a comment every 25 s keeps it open. Always 200, like the poll.
pub const EVENTS_PATH: &str = "/api/session/events";

/// The data of an `ended` event: this session has ended, and the stream closes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StreamEnded {
    pub reason: EndReason,
}

/// The data of a `sessions` event (the first event of every stream, and each change): the
/// account's `sessions_version`, as the poll answers it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StreamSessions {
    pub sessions_version: i64,
}

/// The data of a `message` event: a new message arrived in the Inbox.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StreamMessage {
    pub unread_messages: i64,
}

/// The answer of `GET /api/session/status`: always 200, so that an ended session never shows up
/// as a failed request in the browser console.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SessionStatus {
    Active {
        /// Changes whenever a session of the account starts or ends, so that open Manage Sessions
        /// pages know when to reload their list.
        sessions_version: i64,
    },
    Ended {
        reason: EndReason,
    },
    None,
}

/// The session lifetimes of the running server, for the texts that explain them (Manage
/// Sessions, the login page): they come from its configuration, never from literals.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Lifetimes {
    pub idle_ms: i64,
    pub max_age_ms: i64,
    pub remembered_max_age_ms: i64,
    /// Ended sessions and security events are kept this many days.
    pub retention_days: i64,
}

impl Default for Lifetimes {
    /// The defaults of the configuration; only ever rendered where no server context exists.
    fn default() -> Self {
        Lifetimes {
            idle_ms: 30 * 60_000,
            max_age_ms: 12 * 3_600_000,
            remembered_max_age_ms: 30 * 86_400_000,
            retention_days: 30,
        }
    }
}

/// Input limits shared by the forms (client hints) and the server (enforced).
pub mod limits {
    pub const EMAIL_MAX: usize = 254;
    pub const NAME_MAX: usize = 100;
    pub const PASSWORD_MIN: usize = 8;
    /// NIST 800-63B asks for at least 64; we accept 256 characters and never truncate.
    pub const PASSWORD_MAX: usize = 256;
    pub const DEVICE_NAME_MAX: usize = 64;
}
