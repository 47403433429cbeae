//! All SQL lives here. One store, two backends: SQLite (embedded default) and PostgreSQL (several
//! server instances). Every statement is written once in the dialect both accept (`$n`
//! placeholders, BIGINT millisecond times) and run on whichever pool is configured; only the
//! migrations differ where the dialects force it.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::FromRow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::{AppError, EndReason, SessionKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account with this e-mail address already exists")]
    DuplicateEmail,
    /// The database cannot be reached (stopped, network, pool exhausted): retryable, a 503.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An error of the direct SQLite read path ([`SqliteReader`]).
    #[error("database error: {0}")]
    Read(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            // Another connection holds a lock past the busy timeout, or the file is gone: retryable.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked | rusqlite::ErrorCode::CannotOpen) => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Read(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(Box::new(e))
            }
            sqlx::Error::Database(db) if db.is_unique_violation() && db.message().contains("email") => {
                StoreError::DuplicateEmail
            }
            _ => StoreError::Other(e),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateEmail => AppError::validation(
                "email",
                "An account with this e-mail address already exists. Log in instead?",
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                AppError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "database error");
                AppError::Internal
            }
        }
    }
}

type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Handle to the database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// On SQLite, the reads of every request (the session lookup, the session list) bypass sqlx.
    reader: Option<Arc<SqliteReader>>,
}

/// Runs `$body` with `$pool` bound to whichever pool is configured. The body is compiled once per
/// backend, so the same SQL and the same code serve both.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Statements shared by several operations, run inside the caller's transaction.
macro_rules! bump_sessions_version {
    ($tx:expr, $account_id:expr) => {
        sqlx::query("UPDATE accounts SET sessions_version = sessions_version + 1 WHERE id = $1")
            .bind($account_id)
            .execute(&mut *$tx)
            .await?
    };
}

macro_rules! insert_event {
    ($tx:expr, $ev:expr) => {{
        let ev: &Event = $ev;
        sqlx::query(
            "INSERT INTO security_events (account_id, at, kind, session_id, target_id, ip, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ev.account_id)
        .bind(ev.at)
        .bind(ev.kind.as_str())
        .bind(ev.session_id.as_deref())
        .bind(ev.target_id.as_deref())
        .bind(ev.ip.as_deref())
        .bind(ev.detail.as_deref())
        .execute(&mut *$tx)
        .await?
    }};
}

// "Active" below always reads: ended_at IS NULL AND expires_at > now AND idle_expires_at > now.

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

#[derive(Clone, Debug, FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

/// What authenticating a request needs: the session and its account, in one lookup.
#[derive(Clone, Debug, FromRow)]
pub struct AuthRow {
    pub id: String,
    pub account_id: i64,
    pub kind: String,
    pub auto_login: bool,
    pub last_active_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub email: String,
    pub name: String,
    pub sessions_version: i64,
}

/// A session as listed to its owner. No token, no hash.
#[derive(Clone, Debug, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub kind: String,
    pub auto_login: bool,
    pub device_name: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_active_at: i64,
}

/// A session about to be created.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub account_id: i64,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub device_name: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub now: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

/// What happened when one session was to be ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndOutcome {
    Ended,
    /// It is the caller's, but had ended before: not an error.
    AlreadyEnded,
    /// Never existed, or belongs to another account: the same answer for both.
    NotFound,
}

/// The new lifetime of the current session when it stops being an auto-login.
#[derive(Clone, Copy, Debug)]
pub struct Demotion {
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(options);
            Store { backend: Backend::Postgres(pool), reader: None }
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Writers queue behind each other instead of failing with "database is locked".
                .busy_timeout(Duration::from_secs(10));
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Other(sqlx::Error::Io(e)))?;
                }
            }
            let reader = SqliteReader::for_file(options.get_filename()).map(Arc::new);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Store { backend: Backend::Sqlite(pool), reader }
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    async fn migrate(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
            Backend::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// SQLite transactions that write take the write lock at BEGIN, so that two of them never
    /// deadlock upgrading read locks (SQLITE_BUSY that no busy timeout can resolve).
    fn begin_write(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "BEGIN IMMEDIATE",
            Backend::Postgres(_) => "BEGIN",
        }
    }

    /// A cheap round trip, for the readiness endpoint.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(reader) = &self.reader {
            reader.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        with_pool!(self, |pool| pool.close().await)
    }

    // ---- accounts ------------------------------------------------------------------------

    pub async fn create_account(&self, email: &str, name: &str, password_hash: &str, now: i64) -> Result<i64> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO accounts (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(email)
            .bind(name)
            .bind(password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_event!(tx, &Event::new(EventKind::AccountCreated, Some(id), now));
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>> {
        const SQL: &str = "SELECT id, email, name, password_hash FROM accounts WHERE email = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(email).fetch_optional(pool).await?))
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>> {
        const SQL: &str = "SELECT id, email, name, password_hash FROM accounts WHERE id = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }

    // ---- sessions ------------------------------------------------------------------------

    /// Creates a session. An account at its limit of active sessions loses its least recently
    /// active ones first, in the same transaction.
    pub async fn create_session(&self, s: &NewSession, max_active: i64, event: &Event) -> Result<()> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // First, so that it locks the account row (PostgreSQL): concurrent logins of one
            // account queue here, and each counts the sessions the others created.
            bump_sessions_version!(tx, s.account_id);
            let (active,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2")
                    .bind(s.account_id)
                    .bind(s.now)
                    .fetch_one(&mut *tx)
                    .await?;
            let excess = active - max_active + 1;
            if excess > 0 {
                let oldest: Vec<(String,)> = sqlx::query_as(
                    "SELECT id FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
                     ORDER BY last_active_at ASC, created_at ASC LIMIT $3",
                )
                .bind(s.account_id)
                .bind(s.now)
                .bind(excess)
                .fetch_all(&mut *tx)
                .await?;
                for (id,) in oldest {
                    sqlx::query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
                        .bind(&id)
                        .bind(s.now)
                        .bind(EndReason::Expired.as_str())
                        .execute(&mut *tx)
                        .await?;
                    insert_event!(
                        tx,
                        &Event::new(EventKind::SessionExpired, Some(s.account_id), s.now)
                            .target(&id)
                            .detail("session limit reached")
                    );
                }
            }
            sqlx::query(
                "INSERT INTO sessions (id, token_hash, account_id, kind, auto_login, device_name, ip, user_agent,
                                       created_at, last_active_at, idle_expires_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
            )
            .bind(&s.id)
            .bind(&s.token_hash)
            .bind(s.account_id)
            .bind(s.kind.as_str())
            .bind(s.auto_login)
            .bind(s.device_name.as_deref())
            .bind(&s.ip)
            .bind(&s.user_agent)
            .bind(s.now)
            .bind(s.idle_expires_at)
            .bind(s.expires_at)
            .execute(&mut *tx)
            .await?;
            insert_event!(tx, event);
            tx.commit().await?;
            Ok(())
        })
    }

    /// The session a token belongs to, with its account: the one lookup of every request.
    pub async fn session_by_token_hash(&self, token_hash: &[u8]) -> Result<Option<AuthRow>> {
        const SQL: &str = "SELECT s.id, s.account_id, s.kind, s.auto_login, s.last_active_at, s.idle_expires_at,
                                  s.expires_at, s.ended_at, s.end_reason, a.email, a.name, a.sessions_version
                           FROM sessions s JOIN accounts a ON a.id = s.account_id
                           WHERE s.token_hash = $1";
        if let Some(reader) = &self.reader {
            return reader.read(|conn| {
                use rusqlite::OptionalExtension;
                conn.prepare_cached(SQL)?
                    .query_row([token_hash], |r| {
                        Ok(AuthRow {
                            id: r.get(0)?,
                            account_id: r.get(1)?,
                            kind: r.get(2)?,
                            auto_login: r.get(3)?,
                            last_active_at: r.get(4)?,
                            idle_expires_at: r.get(5)?,
                            expires_at: r.get(6)?,
                            ended_at: r.get(7)?,
                            end_reason: r.get(8)?,
                            email: r.get(9)?,
                            name: r.get(10)?,
                            sessions_version: r.get(11)?,
                        })
                    })
                    .optional()
            });
        }
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(token_hash).fetch_optional(pool).await?))
    }

    /// Marks a session that has run out as ended at the moment it ran out.
    pub async fn mark_expired(&self, account_id: i64, session_id: &str, expired_at: i64) -> Result<()> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let done = sqlx::query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
                .bind(session_id)
                .bind(expired_at)
                .bind(EndReason::Expired.as_str())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() > 0 {
                bump_sessions_version!(tx, account_id);
                insert_event!(tx, &Event::new(EventKind::SessionExpired, Some(account_id), expired_at).target(session_id));
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records activity, unless it was recorded after `stale_before`: of several requests that
    /// all read an old "last active" at once (a page and its server functions, many tabs), only the
    /// first writes; the others match no row. So a session is written at most once a minute on
    /// every instance, without any state kept in a process.
    pub async fn touch(&self, session_id: &str, now: i64, idle_expires_at: i64, stale_before: i64) -> Result<()> {
        const SQL: &str = "UPDATE sessions SET last_active_at = $2, idle_expires_at = $3
                           WHERE id = $1 AND ended_at IS NULL AND last_active_at <= $4";
        with_pool!(self, |pool| {
            sqlx::query(SQL).bind(session_id).bind(now).bind(idle_expires_at).bind(stale_before).execute(pool).await?;
        });
        Ok(())
    }

    /// The account's active sessions, most recently active first.
    pub async fn active_sessions(&self, account_id: i64, now: i64) -> Result<Vec<SessionRow>> {
        const SQL: &str = "SELECT id, kind, auto_login, device_name, ip, user_agent, created_at, last_active_at
                           FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
                           ORDER BY last_active_at DESC, created_at DESC";
        if let Some(reader) = &self.reader {
            return reader.read(|conn| {
                conn.prepare_cached(SQL)?
                    .query_map([account_id, now], |r| {
                        Ok(SessionRow {
                            id: r.get(0)?,
                            kind: r.get(1)?,
                            auto_login: r.get(2)?,
                            device_name: r.get(3)?,
                            ip: r.get(4)?,
                            user_agent: r.get(5)?,
                            created_at: r.get(6)?,
                            last_active_at: r.get(7)?,
                        })
                    })?
                    .collect()
            });
        }
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(now).fetch_all(pool).await?))
    }

    /// Ends one session of `account_id`. Another account's session is `NotFound`, exactly like
    /// one that never existed.
    pub async fn end_session(&self, account_id: i64, session_id: &str, reason: EndReason, event: &Event) -> Result<EndOutcome> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let done = sqlx::query(
                "UPDATE sessions SET ended_at = $3, end_reason = $4, ended_by_session = $5
                 WHERE id = $1 AND account_id = $2 AND ended_at IS NULL",
            )
            .bind(session_id)
            .bind(account_id)
            .bind(event.at)
            .bind(reason.as_str())
            .bind(event.session_id.as_deref())
            .execute(&mut *tx)
            .await?;
            let outcome = if done.rows_affected() > 0 {
                bump_sessions_version!(tx, account_id);
                insert_event!(tx, event);
                EndOutcome::Ended
            } else {
                let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE id = $1 AND account_id = $2")
                    .bind(session_id)
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() { EndOutcome::AlreadyEnded } else { EndOutcome::NotFound }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// Ends every session of the account (`except` one, when given, which instead gets a fresh
    /// token, and possibly loses its auto-login). With `only_auto_login`, only remembered logins
    /// end. Optionally replaces the password hash in the same transaction, so a password change
    /// is never half applied. Returns how many sessions ended.
    pub async fn end_sessions(&self, account_id: i64, plan: &BulkEnd<'_>, event: &Event) -> Result<u64> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            if let Some(hash) = plan.new_password_hash {
                sqlx::query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
                    .bind(account_id)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            let ended = sqlx::query(
                "UPDATE sessions SET ended_at = $2, end_reason = $3, ended_by_session = $4
                 WHERE account_id = $1 AND ended_at IS NULL
                   AND ($5 IS NULL OR id <> $5) AND (auto_login OR NOT $6)",
            )
            .bind(account_id)
            .bind(event.at)
            .bind(plan.reason.as_str())
            .bind(event.session_id.as_deref())
            .bind(plan.keep.map(|k| k.session_id))
            .bind(plan.only_auto_login)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if let Some(keep) = plan.keep {
                let rotated = sqlx::query(
                    "UPDATE sessions SET token_hash = $2,
                            auto_login = CASE WHEN $3 THEN auto_login ELSE FALSE END,
                            idle_expires_at = CASE WHEN $3 THEN idle_expires_at ELSE $4 END,
                            expires_at = CASE WHEN $3 THEN expires_at ELSE $5 END
                     WHERE id = $1 AND ended_at IS NULL",
                )
                .bind(keep.session_id)
                .bind(keep.new_token_hash)
                .bind(keep.demote.is_none())
                .bind(keep.demote.map_or(0, |d| d.idle_expires_at))
                .bind(keep.demote.map_or(0, |d| d.expires_at))
                .execute(&mut *tx)
                .await?;
                if rotated.rows_affected() != 1 {
                    // The acting session ended while we worked: apply nothing.
                    tx.rollback().await?;
                    return Ok(0);
                }
            }
            bump_sessions_version!(tx, account_id);
            insert_event!(tx, event);
            tx.commit().await?;
            Ok(ended)
        })
    }

    /// Housekeeping: marks sessions that ran out as expired, then deletes sessions and events
    /// that ended before `purge_before`, so IP addresses are not kept forever, and login-throttle
    /// counters whose last failure is at or before `throttle_stale_at` (they no longer count).
    pub async fn purge(&self, now: i64, purge_before: i64, throttle_stale_at: i64) -> Result<(u64, u64)> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(
                "UPDATE accounts SET sessions_version = sessions_version + 1
                 WHERE id IN (SELECT account_id FROM sessions
                              WHERE ended_at IS NULL AND (expires_at <= $1 OR idle_expires_at <= $1))",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let expired = sqlx::query(
                "UPDATE sessions SET end_reason = $2,
                        ended_at = CASE WHEN expires_at < idle_expires_at THEN expires_at ELSE idle_expires_at END
                 WHERE ended_at IS NULL AND (expires_at <= $1 OR idle_expires_at <= $1)",
            )
            .bind(now)
            .bind(EndReason::Expired.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let deleted = sqlx::query("DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1")
                .bind(purge_before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM security_events WHERE at < $1").bind(purge_before).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM login_throttle WHERE last_failure_at <= $1")
                .bind(throttle_stale_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((expired, deleted))
        })
    }

    // ---- login throttling ------------------------------------------------------------------

    /// Charges one login attempt to each of `keys` (as a failure, until it is refunded), unless
    /// `allow` refuses it given the counters as they stand. Locking the rows, checking and
    /// charging happen in one write transaction, so parallel attempts cannot all pass the check
    /// before any of them is counted. A counter whose last failure is at or before `stale_at`
    /// starts again from one. Returns the counters as they were, or `None` if refused (then
    /// nothing is written).
    pub async fn charge_login_attempt(
        &self,
        keys: &[&str],
        now: i64,
        stale_at: i64,
        allow: impl Fn(&[ThrottleRow]) -> bool,
    ) -> Result<Option<Vec<ThrottleRow>>> {
        // One lock order for everyone (PostgreSQL), so that two attempts never deadlock.
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let mut rows = Vec::with_capacity(keys.len());
            for key in &keys {
                // Creates the row or locks it (the no-op update waits for concurrent chargers)
                // and reads it as it stands, in one statement on both backends.
                let row: ThrottleRow = sqlx::query_as(
                    "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 0, 0)
                     ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures
                     RETURNING key, failures, last_failure_at",
                )
                .bind(*key)
                .fetch_one(&mut *tx)
                .await?;
                rows.push(row);
            }
            if !allow(&rows) {
                tx.rollback().await?;
                return Ok(None);
            }
            for key in &keys {
                sqlx::query(
                    "UPDATE login_throttle
                     SET failures = CASE WHEN last_failure_at <= $3 THEN 1 ELSE failures + 1 END, last_failure_at = $2
                     WHERE key = $1",
                )
                .bind(*key)
                .bind(now)
                .bind(stale_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Some(rows))
        })
    }

    /// Takes back attempts charged by [`Store::charge_login_attempt`] that succeeded: `reset`
    /// counters are cleared; each `refund` loses the one failure it was charged and, when no
    /// other attempt was charged after it, gets its previous failure time back.
    pub async fn refund_login_attempt(&self, refunds: &[Refund<'_>], reset: &[&str]) -> Result<()> {
        // The same lock order as `charge_login_attempt`, or the two could deadlock.
        let mut keys: Vec<(&str, Option<&Refund>)> =
            refunds.iter().map(|r| (r.key, Some(r))).chain(reset.iter().map(|k| (*k, None))).collect();
        keys.sort_unstable_by_key(|(key, _)| *key);
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            for (key, refund) in &keys {
                let Some(r) = refund else {
                    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(*key).execute(&mut *tx).await?;
                    continue;
                };
                // SET expressions read the row as it was, on both backends.
                sqlx::query(
                    "UPDATE login_throttle
                     SET failures = failures - 1,
                         last_failure_at = CASE WHEN last_failure_at = $2 AND failures = $3 THEN $4 ELSE last_failure_at END
                     WHERE key = $1",
                )
                .bind(r.key)
                .bind(r.charged_at)
                .bind(r.failures_after_charge)
                .bind(r.previous_failure_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM login_throttle WHERE key = $1 AND failures <= 0")
                    .bind(r.key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A throttle counter, for tests and diagnostics.
    pub async fn throttle_row(&self, key: &str) -> Result<Option<ThrottleRow>> {
        const SQL: &str = "SELECT key, failures, last_failure_at FROM login_throttle WHERE key = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(key).fetch_optional(pool).await?))
    }

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

    /// Runs raw SQL. For tests only (fault injection, inspecting stored bytes).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &'static str) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::raw_sql(sql).execute(pool).await?;
        });
        Ok(())
    }

    /// Every stored token hash and session column, for tests that prove no raw token is kept.
    #[doc(hidden)]
    pub async fn dump_sessions_text(&self) -> Result<Vec<String>> {
        const SQL: &str = "SELECT id, token_hash, ip, user_agent, COALESCE(device_name, '') FROM sessions";
        let rows: Vec<(String, Vec<u8>, String, String, String)> =
            with_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, hash, ip, ua, dev)| format!("{id}|{}|{ip}|{ua}|{dev}", String::from_utf8_lossy(&hash)))
            .collect())
    }
}

/// What `end_sessions` does.
#[derive(Clone, Copy, Debug)]
pub struct BulkEnd<'a> {
    pub reason: EndReason,
    pub only_auto_login: bool,
    pub keep: Option<Keep<'a>>,
    pub new_password_hash: Option<&'a str>,
}

/// The session that survives a bulk end, with its new token.
#[derive(Clone, Copy, Debug)]
pub struct Keep<'a> {
    pub session_id: &'a str,
    pub new_token_hash: &'a [u8],
    pub demote: Option<Demotion>,
}

/// A login-throttle counter: failed attempts for one account or one client address.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct ThrottleRow {
    pub key: String,
    pub failures: i64,
    /// Unix milliseconds; 0 for a counter that never failed.
    pub last_failure_at: i64,
}

/// One charged attempt to take back, see [`Store::refund_login_attempt`].
#[derive(Clone, Copy, Debug)]
pub struct Refund<'a> {
    pub key: &'a str,
    pub charged_at: i64,
    pub failures_after_charge: i64,
    pub previous_failure_at: i64,
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

/// Read-only SQLite connections used directly on the calling thread, for the reads every request
/// makes. sqlx's SQLite driver runs each connection on a thread of its own and passes the query
/// and each row over channels; for a lookup that SQLite answers in microseconds those hand-offs
/// between threads cost several times the lookup itself (see bench/results.md). Running it inline
/// is safe for an async worker because in WAL mode readers never wait for writers: the lookup is
/// an index probe of pages already in memory. Nothing is cached: every call reads the latest
/// committed state, so a session ended by any connection or process is seen at once.
pub(crate) struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteReader {
    /// Connections kept open for reuse; more are opened under a burst and closed after it.
    const KEEP: usize = 16;

    /// `None` for an in-memory database, which another connection could not see.
    fn for_file(path: &Path) -> Option<Self> {
        let name = path.to_string_lossy();
        if name.is_empty() || name.starts_with(":memory:") || name.contains("mode=memory") {
            return None;
        }
        Some(SqliteReader { path: path.to_owned(), idle: Mutex::new(Vec::new()) })
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        // Opened read-write but refusing writes: a read-only connection could not open a WAL
        // database whose -shm file is missing (after the last writer closed).
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        // Index probes of a large table read pages straight from the OS page cache instead of a
        // pread call per page (virtual address space only; SQLite's page cache stays small).
        conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
        // Reads only wait while a checkpoint resets the WAL, which takes milliseconds.
        conn.busy_timeout(Duration::from_secs(2))?;
        Ok(conn)
    }

    fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        // A connection that failed is dropped rather than reused.
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < Self::KEEP {
                idle.push(conn);
            }
        }
        Ok(result?)
    }
}
