//! The security event log: what happened to an account, for its owner to see.

use super::*;

/// One entry of the security event log.
#[derive(Clone, Debug)]
pub struct Event {
    pub account_id: Option<AccountId>,
    pub at: i64,
    pub kind: EventKind,
    /// The session that acted.
    pub session_id: Option<SessionId>,
    /// The session acted upon.
    pub target_id: Option<SessionId>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind, account_id: Option<AccountId>, at: i64) -> Self {
        Self { account_id, at, kind, session_id: None, target_id: None, ip: None, detail: None }
    }
    pub fn by(mut self, session_id: &SessionId, ip: &str) -> Self {
        self.session_id = Some(session_id.clone());
        self.ip = Some(ip.to_string());
        self
    }
    pub fn target(mut self, target_id: &SessionId) -> Self {
        self.target_id = Some(target_id.clone());
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
    pub kind: EventKind,
    pub session_id: Option<SessionId>,
    pub target_id: Option<SessionId>,
    pub ip: Option<String>,
    pub detail: Option<String>,
    /// How many attempts an aggregated row stands for; 1 for any other.
    pub count: i64,
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

    /// Adds `count` refused attempts to the account's row for the throttle window starting at
    /// `window_start` (creating it), with the time and address of the latest.
    pub async fn record_refused(
        &self,
        account_id: AccountId,
        window_start: i64,
        count: i64,
        at: i64,
        ip: &str,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO security_events (account_id, at, kind, ip, count, aggregate_key)
                           VALUES ($1, $2, $3, $4, $5, $6)
                           ON CONFLICT (aggregate_key) DO UPDATE SET count = security_events.count + excluded.count,
                               at = CASE WHEN excluded.at > security_events.at THEN excluded.at ELSE security_events.at END,
                               ip = excluded.ip";
        let key = format!("refused:{account_id}:{window_start}");
        with_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(account_id)
                .bind(at)
                .bind(EventKind::AttemptsRefused)
                .bind(ip)
                .bind(count)
                .bind(&key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The account's security events, newest first.
    pub async fn events(&self, account_id: AccountId) -> Result<Vec<EventRow>> {
        const SQL: &str = "SELECT at, kind, session_id, target_id, ip, detail, count FROM security_events
                           WHERE account_id = $1 ORDER BY at DESC, id DESC";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).fetch_all(pool).await?))
    }
}
