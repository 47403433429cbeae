//! Authenticating a request, and the signed-in person's own sessions: list, end, log out, terminate all.

use super::*;
use crate::ssr::store::SessionRow;

impl AuthService {
    /// What `token` stands for now. `activity` says whether this request counts as the person
    /// using the session (page loads and actions do; the status poll does not). A device-bound
    /// session needs its short cookie too: this is the bearer API's way in, which has none, so a
    /// bound session's token is no bearer token (see [`AuthService::authenticate_browser`]).
    pub async fn authenticate(&self, token: &str, activity: bool) -> Result<Resolved, AppError> {
        self.authenticate_browser(token, None, activity).await
    }

    /// [`AuthService::authenticate`] for a browser's cookies: the session token and, for a
    /// device-bound session, the short-lived `postern_bound` cookie. A bound session without a
    /// valid one is not logged in (its browser refreshes the cookie before it sends a request; a
    /// copied cookie cannot).
    pub async fn authenticate_browser(
        &self,
        token: &str,
        bound_cookie: Option<&str>,
        activity: bool,
    ) -> Result<Resolved, AppError> {
        self.resolve(token, Binding::Required(bound_cookie), activity).await
    }

    /// What `token` stands for, whatever its binding: for the service's own checks after a change
    /// it made (the request itself was authenticated before).
    pub(super) async fn resolve_unbound(&self, token: &str) -> Result<Resolved, AppError> {
        self.resolve(token, Binding::Ignored, false).await
    }

    async fn resolve(&self, token: &str, binding: Binding<'_>, activity: bool) -> Result<Resolved, AppError> {
        if !token::looks_like_token(token) {
            return Ok(Resolved::None);
        }
        let Some(row) = self.store.session_by_token_hash(token::hash_token(token)).await? else {
            return Ok(Resolved::None);
        };
        let now = self.now();
        if row.ended_at.is_some() {
            // Ended without a reason is impossible to write; read it as the generic "ended".
            let reason = row.end_reason.unwrap_or(EndReason::Other);
            return Ok(Resolved::Ended(reason));
        }
        // The writes below are rare (a session running out, activity once a minute) and boxed, so
        // that their futures do not size the future of every request that only reads.
        if let Some(expired_at) = expired_at(row.expires_at, row.idle_expires_at, now) {
            Box::pin(self.store.mark_expired(row.account_id, &row.id, expired_at)).await?;
            return Ok(Resolved::Ended(EndReason::Expired));
        }
        if let (Some(current), Binding::Required(bound_cookie)) = (&row.bound_cookie_hash, binding) {
            let sent = bound_cookie.map(token::hash_token);
            let counts = |hash: Option<&Vec<u8>>, until: Option<i64>| {
                hash.is_some_and(|h| sent.as_ref() == Some(h)) && until.is_some_and(|until| now < until)
            };
            let valid = counts(Some(current), row.bound_cookie_expires_at)
                || counts(row.bound_previous_hash.as_ref(), row.bound_previous_expires_at);
            if !valid {
                return Ok(Resolved::None);
            }
        }
        let stale_before = now - self.policy.activity_write_interval_ms;
        if activity && row.last_active_at <= stale_before {
            let idle_expires_at = now + self.policy.idle(row.auto_login);
            Box::pin(self.store.touch(&row.id, Touch { now, idle_expires_at, stale_before })).await?;
        }
        Ok(Resolved::Active(CurrentSession {
            session_id: row.id,
            account_id: row.account_id,
            email: row.email,
            name: row.name,
            kind: row.kind,
            auto_login: row.auto_login,
            expires_at: row.expires_at,
            sessions_version: row.sessions_version,
            unread_messages: row.unread_messages,
        }))
    }

    /// The answer of the status poll (the browser's cookies: session token and, for a bound
    /// session, its short cookie). Never counts as activity.
    pub async fn status(&self, token: Option<&str>, bound_cookie: Option<&str>) -> Result<SessionStatus, AppError> {
        let Some(token) = token else { return Ok(SessionStatus::None) };
        Ok(match self.authenticate_browser(token, bound_cookie, false).await? {
            Resolved::Active(s) => SessionStatus::Active { sessions_version: s.sessions_version },
            Resolved::Ended(reason) => SessionStatus::Ended { reason },
            Resolved::None => SessionStatus::None,
        })
    }

    /// What an open event stream of `session_id` should know now. A session that has run out
    /// is marked expired here, as a request with its token would (so its stream says `expired`
    /// at the moment it runs out, not when the purge job comes).
    pub async fn stream_check(&self, session_id: &SessionId) -> Result<StreamCheck, AppError> {
        let Some(row) = self.store.stream_row(session_id).await? else { return Ok(StreamCheck::Gone) };
        if row.ended_at.is_some() {
            return Ok(StreamCheck::Ended(row.end_reason.unwrap_or(EndReason::Other)));
        }
        if let Some(expired_at) = expired_at(row.expires_at, row.idle_expires_at, self.now()) {
            self.store.mark_expired(row.account_id, session_id, expired_at).await?;
            return Ok(StreamCheck::Ended(EndReason::Expired));
        }
        Ok(StreamCheck::Active(StreamSnapshot {
            sessions_version: row.sessions_version,
            unread_messages: row.unread_messages,
            last_message_id: row.last_message_id,
            runs_out_at: row.expires_at.min(row.idle_expires_at),
        }))
    }

    /// Waits until the service's clock reaches `at_ms` (a session running out).
    pub fn sleep_until(&self, at_ms: i64) -> crate::ssr::clock::Sleep {
        self.clock.sleep_until(at_ms)
    }

    pub fn account_view(current: &CurrentSession) -> AccountView {
        AccountView { name: current.name.clone(), email: current.email.clone() }
    }

    /// Active sessions of the caller's account: the current one first, then by last activity.
    pub async fn list_sessions(&self, current: &CurrentSession) -> Result<Vec<SessionView>, AppError> {
        let rows = self.store.active_sessions(current.account_id, self.now()).await?;
        let mut views: Vec<SessionView> =
            rows.into_iter().map(|r| session_view(r, Some(&current.session_id))).collect();
        // Stable sort: the rest keep the store's most-recent-first order.
        views.sort_by_key(|v| !v.current);
        Ok(views)
    }

    /// Ends one of the caller's *other* sessions. The current one cannot be ended this way.
    pub async fn end_session(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        session_id: &SessionId,
    ) -> Result<(), AppError> {
        if *session_id == current.session_id {
            return Err(AppError::Conflict {
                message: "You cannot end your current session here. Log out, or use \"Terminate all sessions\".".into(),
            });
        }
        if !token::looks_like_session_id(session_id.as_str()) {
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

    /// Names one of the caller's active sessions (the current one too). An empty `name` gives it
    /// back the parsed device; the name follows the API's `device_name` rule. Another account's
    /// session is not found.
    pub async fn rename_session(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        session_id: &SessionId,
        name: &str,
    ) -> Result<(), AppError> {
        let custom_name = match name.trim() {
            "" => None,
            name => Some(validate_device_name(name)?),
        };
        if !token::looks_like_session_id(session_id.as_str()) {
            return Err(AppError::NotFound);
        }
        let event = Event::new(EventKind::SessionRenamed, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip)
            .target(session_id);
        if self.store.rename_session(current.account_id, session_id, custom_name.as_deref(), &event).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
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
        let plan = BulkEnd {
            reason: EndReason::TerminatedAll,
            only_auto_login: false,
            keep: None,
            new_password_hash: None,
            forget_device_of: None,
        };
        Ok(self.store.end_sessions(current.account_id, &plan, &event).await?)
    }

    /// Periodic housekeeping; see `Store::purge`.
    pub async fn purge(&self) -> Result<(u64, u64), AppError> {
        let now = self.now();
        self.refusals.flush(&self.store, now, self.throttle.window_ms).await?;
        // A counter is deleted once no rule remembers it: the longest window decides.
        let longest_window = [
            ThrottleKind::Account,
            ThrottleKind::Address,
            ThrottleKind::Device,
            ThrottleKind::Reentry,
            ThrottleKind::Signup,
        ]
        .into_iter()
        .map(|kind| self.throttle.rule(kind).window_ms)
        .max()
        .unwrap_or(self.throttle.window_ms);
        let plan = Purge {
            now,
            retained_since: now - self.policy.retention_ms,
            throttle_stale_at: now - longest_window,
            devices_unused_since: now - self.policy.known_device_retention_ms,
        };
        let done = self.store.purge(plan).await?;
        crate::ssr::metrics::active_sessions(self.store.count_active_sessions(now).await?);
        Ok(done)
    }
}

/// Whether a device-bound session's short cookie is asked for.
#[derive(Clone, Copy)]
enum Binding<'a> {
    /// A request: the cookie it came with, if any.
    Required(Option<&'a str>),
    Ignored,
}

/// A session as listed; `current` is the session that asks (none for an operator).
pub(super) fn session_view(r: SessionRow, current: Option<&SessionId>) -> SessionView {
    let (parsed, device_type) = device::identify(r.kind, r.device_name.as_deref(), &r.user_agent);
    SessionView {
        device: device::named(r.custom_name.as_deref(), parsed.clone()),
        parsed_device: r.custom_name.is_some().then_some(parsed),
        device_type,
        current: Some(&r.id) == current,
        id: r.id,
        user_agent: r.user_agent,
        ip: r.ip,
        location: r.location,
        bound: r.bound,
        kind: r.kind,
        auto_login: r.auto_login,
        created_at: r.created_at,
        last_active_at: r.last_active_at,
    }
}

/// What an event stream's session is like now (see [`AuthService::stream_check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamCheck {
    Active(StreamSnapshot),
    Ended(EndReason),
    /// The session no longer exists (deleted long after it ended).
    Gone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSnapshot {
    pub sessions_version: i64,
    pub unread_messages: i64,
    pub last_message_id: i64,
    /// When the session runs out unless used again (the earlier of its two deadlines).
    pub runs_out_at: i64,
}

/// When a session with these deadlines ran out, if it has by `now`: the earlier of the two.
pub(super) fn expired_at(expires_at: i64, idle_expires_at: i64, now: i64) -> Option<i64> {
    let deadline = expires_at.min(idle_expires_at);
    (now >= deadline).then_some(deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_exact_at_the_boundary() {
        // (absolute deadline, idle deadline, now)
        assert_eq!(expired_at(5000, 1000, 999), None);
        assert_eq!(expired_at(5000, 1000, 1000), Some(1000));
        assert_eq!(expired_at(5000, 9000, 4999), None);
        assert_eq!(expired_at(5000, 9000, 5000), Some(5000));
    }
}
