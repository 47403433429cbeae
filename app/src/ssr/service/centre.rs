//! The security centre: the activity log, recently ended sessions, the Inbox's new-login
//! messages with "This wasn't me", "End all other sessions", and the login-notification setting.
//! Every method acts on the caller's own account only.

use super::*;
use crate::model::{
    ActivityFilter, ActivityPage, EndedSessionView, EventView, Inbox, MessageReply, MessageView, SecurityOverview,
    ACTIVITY_PAGE_SIZE, ENDED_SHOWN,
};
use crate::ssr::store::{ActivityRow, EndedRow, MessageRow};

const DAY_MS: i64 = 86_400_000;

/// What a person would call the device of a session the log names, if it is still kept: the
/// name its owner gave it, else the parsed device.
fn described(
    custom_name: Option<&str>,
    kind: Option<SessionKind>,
    device_name: Option<&str>,
    user_agent: Option<&str>,
) -> Option<String> {
    custom_name.map(str::to_string).or_else(|| Some(device::describe(kind?, device_name, user_agent?)))
}

pub(super) fn event_view(row: ActivityRow, current: Option<&SessionId>) -> EventView {
    let by_device = described(None, row.by_kind, row.by_device_name.as_deref(), row.by_user_agent.as_deref());
    let active_session = row.session_id.filter(|_| row.kind == EventKind::LoginSucceeded && row.by_active == 1);
    EventView {
        at: row.at,
        kind: row.kind,
        // A rename shows everywhere the session is named; else what was recorded at the time.
        device: row.by_custom_name.or(row.device).or(by_device),
        ip: row.ip,
        location: row.by_location,
        count: row.count,
        current: active_session.is_some() && active_session.as_ref() == current,
        active_session,
        target_device: described(
            row.target_custom_name.as_deref(),
            row.target_kind,
            row.target_device_name.as_deref(),
            row.target_user_agent.as_deref(),
        ),
    }
}

fn ended_view(row: EndedRow) -> EndedSessionView {
    EndedSessionView {
        device: device::named(
            row.custom_name.as_deref(),
            device::describe(row.kind, row.device_name.as_deref(), &row.user_agent),
        ),
        ended_by_device: described(
            row.by_custom_name.as_deref(),
            row.by_kind,
            row.by_device_name.as_deref(),
            row.by_user_agent.as_deref(),
        ),
        id: row.id,
        user_agent: row.user_agent,
        ip: row.ip,
        location: row.location,
        kind: row.kind,
        ended_at: row.ended_at,
        reason: row.end_reason.unwrap_or(EndReason::Other),
    }
}

fn message_view(row: MessageRow, current: &CurrentSession) -> MessageView {
    MessageView {
        id: row.id,
        at: row.at,
        this_session: row.session_id == current.session_id,
        session_id: row.session_id,
        device: device::named(row.custom_name.as_deref(), row.device),
        ip: row.ip,
        location: row.location,
        read: row.read_at.is_some(),
        reply: row.reply,
    }
}

/// What "This wasn't me" does, as the person asked for it on the "Secure your account" page.
pub struct SecureAccount<'a> {
    /// The login the person says was not theirs.
    pub reported: &'a SessionId,
    pub current_password: &'a str,
    pub new_password: &'a str,
    pub repeat: &'a str,
}

impl AuthService {
    /// How many days events and ended sessions are kept.
    pub fn retention_days(&self) -> i64 {
        (self.policy.retention_ms / DAY_MS).max(1)
    }

    /// Page `page` (1 is the newest) of the caller's activity log.
    pub async fn activity(
        &self,
        current: &CurrentSession,
        filter: ActivityFilter,
        page: u32,
    ) -> Result<ActivityPage, AppError> {
        let page = page.max(1);
        let size = ACTIVITY_PAGE_SIZE as i64;
        let offset = i64::from(page - 1) * size;
        // One row more than a page says whether there are older ones.
        let mut rows = self.store.activity(current.account_id, filter.kinds(), self.now(), offset, size + 1).await?;
        let has_older = rows.len() > ACTIVITY_PAGE_SIZE;
        rows.truncate(ACTIVITY_PAGE_SIZE);
        Ok(ActivityPage {
            events: rows.into_iter().map(|r| event_view(r, Some(&current.session_id))).collect(),
            page,
            has_older,
            filter,
        })
    }

    /// The caller's whole retained activity log of `filter`, for the CSV download.
    pub async fn activity_export(
        &self,
        current: &CurrentSession,
        filter: ActivityFilter,
    ) -> Result<Vec<EventView>, AppError> {
        let rows = self.store.activity(current.account_id, filter.kinds(), self.now(), 0, i64::MAX).await?;
        Ok(rows.into_iter().map(|r| event_view(r, Some(&current.session_id))).collect())
    }

    /// "Recently ended": the caller's sessions that ended within the retention period.
    pub async fn ended_sessions(&self, current: &CurrentSession) -> Result<Vec<EndedSessionView>, AppError> {
        let since = self.now() - self.policy.retention_ms;
        let rows = self.store.ended_sessions(current.account_id, since, ENDED_SHOWN as i64).await?;
        Ok(rows.into_iter().map(ended_view).collect())
    }

    /// "End all other sessions": every session of the account but the caller's. Logins in flight
    /// are stopped too (the credentials version moves). Returns how many ended.
    pub async fn end_other_sessions(&self, current: &CurrentSession, client: &ClientInfo) -> Result<u64, AppError> {
        let event = Event::new(EventKind::OtherSessionsEnded, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::EndedOthers,
            only_auto_login: false,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: None, demote: None }),
            new_password_hash: None,
            forget_device_of: None,
        };
        let ended = self.store.end_sessions(current.account_id, &plan, &event).await?;
        // Nothing was applied if the caller's own session ended meanwhile.
        if !self.store.is_session_active(&current.session_id, self.now()).await? {
            return Err(AppError::SessionEnded { reason: EndReason::Other });
        }
        Ok(ended)
    }

    pub async fn inbox(&self, current: &CurrentSession) -> Result<Inbox, AppError> {
        let rows = self.store.messages(current.account_id).await?;
        Ok(Inbox { messages: rows.into_iter().map(|r| message_view(r, current)).collect() })
    }

    /// One of the caller's messages; another account's is not found, like one that never was.
    pub async fn message(&self, current: &CurrentSession, id: i64) -> Result<MessageView, AppError> {
        let row = self.store.message(current.account_id, id).await?.ok_or(AppError::MessageNotFound)?;
        Ok(message_view(row, current))
    }

    /// A message the caller may answer or delete: not one about the caller's own login (the
    /// intruder reads the same Inbox, and must not be able to confirm or hide the alert).
    async fn answerable(&self, current: &CurrentSession, id: i64) -> Result<MessageView, AppError> {
        let message = self.message(current, id).await?;
        if message.this_session {
            return Err(AppError::Conflict {
                message: "This is the login from this device: answer it from another device of yours.".into(),
            });
        }
        Ok(message)
    }

    /// "Yes, it was me": the message is read. Nothing else changes.
    pub async fn mark_message_read(&self, current: &CurrentSession, id: i64) -> Result<(), AppError> {
        self.answerable(current, id).await?;
        match self.store.answer_message(current.account_id, id, MessageReply::Confirmed, self.now()).await? {
            true => Ok(()),
            false => Err(AppError::MessageNotFound),
        }
    }

    pub async fn delete_message(&self, current: &CurrentSession, id: i64) -> Result<(), AppError> {
        self.answerable(current, id).await?;
        match self.store.delete_message(current.account_id, id).await? {
            true => Ok(()),
            false => Err(AppError::MessageNotFound),
        }
    }

    /// "This wasn't me" on a message: answered as reported, and the login it is about (for the
    /// "Secure your account" page).
    pub async fn report_not_me(&self, current: &CurrentSession, id: i64) -> Result<SessionId, AppError> {
        let message = self.answerable(current, id).await?;
        self.store.answer_message(current.account_id, id, MessageReply::Reported, self.now()).await?;
        Ok(message.session_id)
    }

    /// The login a "Secure your account" page is about: one of the caller's sessions, active or
    /// ended, but not the caller's own.
    pub async fn reported_session(&self, current: &CurrentSession, id: &SessionId) -> Result<SessionView, AppError> {
        if *id == current.session_id {
            return Err(AppError::Conflict {
                message: "This is the session you are using. Report the login you do not recognise.".into(),
            });
        }
        if !token::looks_like_session_id(id.as_str()) {
            return Err(AppError::NotFound);
        }
        let Some(row) = self.store.session_of_account(current.account_id, id).await? else {
            // Purged after the retention period, while its message is kept: the rest can still
            // happen, described from the message.
            let message = self.store.message_about(current.account_id, id).await?.ok_or(AppError::NotFound)?;
            return Ok(SessionView {
                id: message.session_id,
                device: message.device,
                parsed_device: None,
                device_type: crate::model::DeviceType::Desktop,
                user_agent: String::new(),
                ip: message.ip,
                location: message.location,
                bound: false,
                kind: SessionKind::Browser,
                auto_login: false,
                created_at: message.at,
                last_active_at: message.at,
                current: false,
            });
        };
        Ok(super::sessions::session_view(row, Some(&current.session_id)))
    }

    /// "Secure my account", in one transaction: the reported login and every other session but
    /// the caller's end (`not_me`), auto-login is reset (the caller's session is no longer
    /// remembered), the reported device is forgotten, and the new password set. A wrong current
    /// password counts on this session's own counter. Returns the caller's new token.
    pub async fn secure_account(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        ask: &SecureAccount<'_>,
    ) -> Result<String, AppError> {
        let reported = self.reported_session(current, ask.reported).await?;
        let hash = self.new_password_hash(current, client, ask.current_password, ask.new_password, ask.repeat).await?;
        let now = self.now();
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let demote = self.demotion(current, now);
        let event = Event::new(EventKind::AccountSecured, Some(current.account_id), now)
            .by(&current.session_id, &client.ip)
            .target(&reported.id);
        let plan = BulkEnd {
            reason: EndReason::NotMe,
            only_auto_login: false,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: Some(&token_hash), demote }),
            new_password_hash: Some(&hash),
            forget_device_of: Some(&reported.id),
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// Whether this session secured the account ("Secure my account") in the last minutes: only
    /// then does Manage Sessions say so (a link alone must not make anyone believe it).
    pub async fn recently_secured(&self, current: &CurrentSession) -> Result<bool, AppError> {
        let now = self.now();
        let latest = self.store.activity(current.account_id, Some(&[EventKind::AccountSecured]), now, 0, 1).await?;
        Ok(latest
            .first()
            .is_some_and(|e| e.session_id.as_ref() == Some(&current.session_id) && e.at > now - 10 * 60_000))
    }

    /// "Tell me about logins from new devices".
    pub async fn set_login_notifications(&self, current: &CurrentSession, notify: bool) -> Result<(), AppError> {
        Ok(self.store.set_notify_new_devices(current.account_id, notify).await?)
    }

    /// Security options at a glance: password, sessions, the latest activity, notifications.
    pub async fn security_overview(&self, current: &CurrentSession) -> Result<SecurityOverview, AppError> {
        let account = self.store.account_by_id(current.account_id).await?.ok_or(AppError::Unauthorized)?;
        let now = self.now();
        let active_sessions = self.store.active_session_count(current.account_id, now).await?;
        let latest = self.store.activity(current.account_id, None, now, 0, 3).await?;
        Ok(SecurityOverview {
            password_changed_at: account.password_changed_at,
            active_sessions,
            latest: latest.into_iter().map(|r| event_view(r, Some(&current.session_id))).collect(),
            notify_new_devices: account.notify_new_devices,
        })
    }
}
