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
    /// The device, for an event without a session of its own (a failed login, a sign-up).
    pub device: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind, account_id: Option<AccountId>, at: i64) -> Self {
        Self { account_id, at, kind, session_id: None, target_id: None, ip: None, detail: None, device: None }
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
    /// Where an event without a session came from.
    pub fn from_client(mut self, ip: &str, device: String) -> Self {
        self.ip = Some(ip.to_string());
        self.device = Some(device);
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
        let _turn = self.write_turn(WritePath::SecurityEvent).await;
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
        let _turn = self.write_turn(WritePath::SecurityEvent).await;
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

    /// A page of the account's security events, newest first: `limit` rows from `offset`, of the
    /// `kinds` given (all without), each with the sessions it names.
    pub async fn activity(
        &self,
        account_id: AccountId,
        kinds: Option<&[EventKind]>,
        now: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ActivityRow>> {
        with_pool!(self, |pool| {
            let mut sql = sqlx::QueryBuilder::new(
                "SELECT e.at, e.kind, e.ip, e.count, e.device, e.session_id,
                        s.kind AS by_kind, s.device_name AS by_device_name, s.user_agent AS by_user_agent,
                        s.custom_name AS by_custom_name, CASE WHEN e.ip = s.ip THEN s.location END AS by_location,
                        t.kind AS target_kind, t.device_name AS target_device_name, t.user_agent AS target_user_agent,
                        t.custom_name AS target_custom_name,
                        CASE WHEN s.ended_at IS NULL AND s.expires_at > ",
            );
            sql.push_bind(now).push(" AND s.idle_expires_at > ").push_bind(now);
            sql.push(
                " THEN 1 ELSE 0 END AS by_active
                 FROM security_events e
                 LEFT JOIN sessions s ON s.id = e.session_id AND s.account_id = e.account_id
                 LEFT JOIN sessions t ON t.id = e.target_id AND t.account_id = e.account_id
                 WHERE e.account_id = ",
            );
            sql.push_bind(account_id);
            if let Some(kinds) = kinds {
                sql.push(" AND e.kind IN (");
                let mut list = sql.separated(", ");
                for kind in kinds {
                    list.push_bind(*kind);
                }
                sql.push(")");
            }
            sql.push(" ORDER BY e.at DESC, e.id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
            Ok(sql.build_query_as().fetch_all(pool).await?)
        })
    }

    /// The account's security events, newest first.
    pub async fn events(&self, account_id: AccountId) -> Result<Vec<EventRow>> {
        const SQL: &str = "SELECT at, kind, session_id, target_id, ip, detail, count FROM security_events
                           WHERE account_id = $1 ORDER BY at DESC, id DESC";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).fetch_all(pool).await?))
    }
}

/// One row of the activity log, with the session that acted (`by_…`) and the one acted upon
/// (`target_…`), where they are still kept.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct ActivityRow {
    pub at: i64,
    pub kind: EventKind,
    pub ip: Option<String>,
    pub count: i64,
    pub device: Option<String>,
    pub session_id: Option<SessionId>,
    pub by_kind: Option<SessionKind>,
    pub by_device_name: Option<String>,
    pub by_user_agent: Option<String>,
    pub by_custom_name: Option<String>,
    /// Where the acting session logged in from, when the event came from that same address.
    pub by_location: Option<String>,
    pub target_kind: Option<SessionKind>,
    pub target_device_name: Option<String>,
    pub target_user_agent: Option<String>,
    pub target_custom_name: Option<String>,
    /// 1 while the acting session is active.
    pub by_active: i32,
}
