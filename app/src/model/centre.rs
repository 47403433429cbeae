//! What the security centre shows: the activity log, recently ended sessions, the Inbox's
//! new-login messages, and the words each of them is shown in (page, CSV and API alike).

use super::{EndReason, EventKind, SessionId, SessionKind};
use serde::{Deserialize, Serialize};

/// Subject of the message a login from a new device leaves in the Inbox.
pub const NEW_LOGIN_SUBJECT: &str = "New login to your account";
/// Sender of the security centre's messages.
pub const SECURITY_SENDER: &str = "Postern security";
/// Rows on one page of the activity log.
pub const ACTIVITY_PAGE_SIZE: usize = 50;
/// At most this many recently ended sessions are shown on Manage Sessions.
pub const ENDED_SHOWN: usize = 50;

impl EventKind {
    /// The activity log's words for this kind.
    pub fn words(self) -> &'static str {
        match self {
            EventKind::AccountCreated => "Account created",
            EventKind::LoginSucceeded => "Logged in",
            EventKind::LoginFailed | EventKind::AttemptsRefused => "Login failed",
            EventKind::LoggedOut => "Logged out",
            EventKind::SessionEnded => "Session ended",
            EventKind::OtherSessionsEnded => "Other sessions ended",
            EventKind::SessionsTerminated => "All sessions terminated",
            EventKind::SessionExpired => "Session expired",
            EventKind::PasswordChanged => "Password changed",
            EventKind::PasswordReentryFailed => "Password check failed",
            EventKind::AutoLoginReset => "Auto-login reset",
            EventKind::AccountSecured => "Account secured",
            EventKind::EndedByAdmin => "Ended by the administrator",
            EventKind::SessionRenamed => "Session renamed",
            EventKind::DeviceCheckFailed => "Device check failed",
            EventKind::Other => "Other activity",
        }
    }
}

/// The activity page's "Show" filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityFilter {
    #[default]
    All,
    Logins,
    Failed,
    Ended,
    Password,
}

impl ActivityFilter {
    pub const ALL: [ActivityFilter; 5] = [
        ActivityFilter::All,
        ActivityFilter::Logins,
        ActivityFilter::Failed,
        ActivityFilter::Ended,
        ActivityFilter::Password,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityFilter::All => "all",
            ActivityFilter::Logins => "logins",
            ActivityFilter::Failed => "failed",
            ActivityFilter::Ended => "ended",
            ActivityFilter::Password => "password",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ActivityFilter::All => "All",
            ActivityFilter::Logins => "Logins",
            ActivityFilter::Failed => "Failed attempts",
            ActivityFilter::Ended => "Ended sessions",
            ActivityFilter::Password => "Password and auto-login",
        }
    }

    /// The filter `s` names; anything else shows everything.
    pub fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|f| f.as_str() == s).unwrap_or_default()
    }

    /// The kinds this filter shows; `None` for all of them.
    pub fn kinds(self) -> Option<&'static [EventKind]> {
        use EventKind::*;
        match self {
            ActivityFilter::All => None,
            ActivityFilter::Logins => Some(&[AccountCreated, LoginSucceeded, LoggedOut]),
            ActivityFilter::Failed => Some(&[LoginFailed, AttemptsRefused, PasswordReentryFailed, DeviceCheckFailed]),
            ActivityFilter::Ended => Some(&[
                LoggedOut,
                SessionEnded,
                OtherSessionsEnded,
                SessionsTerminated,
                SessionExpired,
                AccountSecured,
                EndedByAdmin,
            ]),
            ActivityFilter::Password => Some(&[PasswordChanged, PasswordReentryFailed, AutoLoginReset, AccountSecured]),
        }
    }
}

/// One row of the activity log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EventView {
    /// Unix time in milliseconds.
    pub at: i64,
    pub kind: EventKind,
    /// The device that acted (the session's, or the one a failed login came from).
    pub device: Option<String>,
    pub ip: Option<String>,
    /// Where that session logged in from, when the event came from the same address.
    pub location: Option<String>,
    /// Refused attempts an aggregated "Login failed" row stands for; 1 for any other row.
    pub count: i64,
    /// The session a "Logged in" row created, while it is still active (it can be ended here).
    pub active_session: Option<SessionId>,
    /// Whether that session is the one reading the log.
    pub current: bool,
    /// The device of the session an end acted on ("Session ended": which one).
    pub target_device: Option<String>,
}

impl EventView {
    /// The "What" column: the kind's words, plus what a person needs to tell rows apart.
    pub fn what(&self) -> String {
        let words = self.kind.words();
        match (self.kind, &self.target_device) {
            (EventKind::AttemptsRefused, _) => format!("{words} ({} attempts refused as too many)", self.count),
            (EventKind::SessionEnded | EventKind::EndedByAdmin | EventKind::SessionRenamed, Some(target)) => {
                format!("{words}: {target}")
            }
            _ => words.to_string(),
        }
    }
}

/// A page of the activity log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ActivityPage {
    pub events: Vec<EventView>,
    /// 1 is the newest.
    pub page: u32,
    pub has_older: bool,
    pub filter: ActivityFilter,
}

/// A session that ended, as "Recently ended" shows it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EndedSessionView {
    pub id: SessionId,
    pub device: String,
    pub user_agent: String,
    pub ip: String,
    pub location: Option<String>,
    pub kind: SessionKind,
    /// Unix time in milliseconds.
    pub ended_at: i64,
    pub reason: EndReason,
    /// The device of the session that ended it, where one did ("Ended from Chrome on Linux").
    pub ended_by_device: Option<String>,
}

impl EndedSessionView {
    /// How the session ended, in words.
    pub fn how(&self) -> String {
        match (self.reason, &self.ended_by_device) {
            (EndReason::EndedByUser, Some(by)) => format!("Ended from {by}"),
            (EndReason::EndedByUser, None) => "Ended from another session".to_string(),
            (EndReason::LoggedOut, _) => "Logged out".to_string(),
            (EndReason::TerminatedAll, _) => "Terminate all".to_string(),
            (EndReason::EndedOthers, _) => "Other sessions ended".to_string(),
            (EndReason::Expired, _) => "Expired".to_string(),
            (EndReason::PasswordChanged, _) => "Password changed".to_string(),
            (EndReason::AutoLoginReset, _) => "Auto-login reset".to_string(),
            (EndReason::NotMe, _) => "This wasn't me".to_string(),
            (EndReason::SessionLimit, _) => "Too many sessions".to_string(),
            (EndReason::EndedByAdmin, _) => "Ended by the administrator".to_string(),
            (EndReason::Other, _) => "Ended".to_string(),
        }
    }
}

/// The owner's answer to a new-login message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageReply {
    /// "Yes, it was me".
    Confirmed,
    /// "This wasn't me".
    Reported,
}

impl MessageReply {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageReply::Confirmed => "confirmed",
            MessageReply::Reported => "reported",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [MessageReply::Confirmed, MessageReply::Reported].into_iter().find(|r| r.as_str() == s)
    }
}

/// A message in the Inbox: so far only "New login to your account".
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MessageView {
    pub id: i64,
    /// Unix time in milliseconds.
    pub at: i64,
    /// The login it is about.
    pub session_id: SessionId,
    /// The device as the message named it, or the name its owner gave the session since.
    pub device: String,
    pub ip: String,
    pub location: Option<String>,
    pub read: bool,
    pub reply: Option<MessageReply>,
    /// The message is read from the very session it is about: then it offers no buttons (the
    /// intruder reads the same Inbox).
    pub this_session: bool,
}

/// The Inbox: its messages, newest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Inbox {
    pub messages: Vec<MessageView>,
}

/// Security options at a glance.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SecurityOverview {
    /// Unix time in milliseconds.
    pub password_changed_at: i64,
    pub active_sessions: i64,
    /// The three latest events.
    pub latest: Vec<EventView>,
    pub notify_new_devices: bool,
}
