//! All SQL lives here. One store, two backends: SQLite (embedded default) and PostgreSQL (several
//! server instances). Every statement is written once in the dialect both accept (`$n`
//! placeholders, BIGINT millisecond times) and run on whichever pool is configured; only the
//! migrations differ where the dialects force it.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::FromRow;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{AccountId, AppError, EndReason, SessionId, SessionKind};
use crate::ssr::metrics::WritePath;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account with this e-mail address already exists")]
    DuplicateEmail,
    /// The account's credentials changed after the password of a login was verified.
    #[error("the account's credentials changed during the login")]
    CredentialsChanged,
    /// The database cannot be reached (stopped, network, pool exhausted): retryable, a 503.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database lacks migrations this build has ([`Store::open_current`] never runs them).
    #[error("the database is older than this program (missing migrations: {0}); start the server once to migrate it")]
    NotMigrated(String),
    /// [`Store::open_current`] found no SQLite database at the path.
    #[error("there is no database at {0}")]
    NoDatabase(String),
    /// An error of the direct SQLite paths ([`SqliteReader`], [`SqliteWriter`]).
    #[error("database error: {0}")]
    Direct(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            // Another connection holds a lock past the busy timeout, or the file is gone: retryable.
            Some(
                rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::CannotOpen,
            ) => StoreError::Unavailable(Box::new(e)),
            _ => StoreError::Direct(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Other(e),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateEmail => {
                AppError::validation("email", "An account with this e-mail address already exists. Log in instead?")
            }
            // Answered like a wrong password: the password the attacker used is no longer the one.
            StoreError::CredentialsChanged => AppError::InvalidCredentials,
            StoreError::Unavailable(cause) => {
                crate::ssr::metrics::database_error("unavailable");
                tracing::warn!(error = %cause, "database unavailable");
                AppError::Unavailable
            }
            other => {
                crate::ssr::metrics::database_error("other");
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
    /// This process's open event streams, woken after each commit that changes a session set.
    hub: crate::ssr::push::Hub,
    feed: Arc<feed::FeedState>,
    /// SQLite: the writers of this process take turns here (see [`Store::begin_write`]).
    writer: Option<Arc<Writer>>,
}

/// SQLite's one writer at a time, in this process: the turn, and the writes done in groups.
#[derive(Default)]
struct Writer {
    turn: tokio::sync::Mutex<()>,
    /// Ending one session (the Manage Sessions trash button, the API's `DELETE`).
    ends: group::Queue<ending::EndJob, Result<EndOutcome>>,
    /// Where the groups of ends are committed without sqlx; `None` for an in-memory database.
    direct: Option<Arc<SqliteWriter>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
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

/// "Active at `$now`" (a placeholder such as `"$2"`): not ended, and neither deadline passed. The
/// one spelling of it; every query that means it uses this.
macro_rules! active_at {
    ($now:literal) => {
        concat!("ended_at IS NULL AND expires_at > ", $now, " AND idle_expires_at > ", $now)
    };
}

/// "Ran out by `$now` but not marked yet": not ended, and a deadline passed.
macro_rules! ran_out_at {
    ($now:literal) => {
        concat!("ended_at IS NULL AND (expires_at <= ", $now, " OR idle_expires_at <= ", $now, ")")
    };
}

/// `$1`: the account whose set of sessions changed (`session_set_changed!`).
const SESSIONS_VERSION_SQL: &str = "UPDATE accounts SET sessions_version = sessions_version + 1 WHERE id = $1";

/// The one place that records, inside the caller's transaction, that an account's set of
/// sessions changed (a session started or ended): it moves `sessions_version`, which open
/// session lists watch, and tells the change feed of the other processes (`feed.rs`), with this
/// store's origin so that its own feed skips what [`Store::announce`] already did. Every start
/// and end goes through here, the purge job's included; after the commit, the caller passes the
/// accounts to [`Store::announce`] for this process's own streams. The second form evaluates to
/// the accounts whose sessions ran out.
macro_rules! session_set_changed {
    ($store:expr, $tx:expr, account = $account_id:expr) => {{
        sqlx::query(SESSIONS_VERSION_SQL)
            .bind($account_id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(feed::feed_sql(&$tx, false))
            .bind($account_id)
            .bind($store.feed.origin)
            .execute(&mut *$tx)
            .await?;
    }};
    ($store:expr, $tx:expr, sessions_ran_out_at = $now:expr) => {{
        sqlx::query(feed::feed_sql(&$tx, true)).bind($now).bind($store.feed.origin).execute(&mut *$tx).await?;
        let accounts: Vec<(AccountId,)> = sqlx::query_as(concat!(
            "UPDATE accounts SET sessions_version = sessions_version + 1 WHERE id IN (SELECT account_id FROM sessions WHERE ",
            ran_out_at!("$1"),
            ") RETURNING id"
        ))
        .bind($now)
        .fetch_all(&mut *$tx)
        .await?;
        accounts.into_iter().map(|(id,)| id).collect::<Vec<AccountId>>()
    }};
}

/// An [`Event`]'s fields, in their order (`insert_event!`).
const EVENT_INSERT_SQL: &str =
    "INSERT INTO security_events (account_id, at, kind, session_id, target_id, ip, detail, device)
                                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

macro_rules! insert_event {
    ($tx:expr, $ev:expr) => {{
        let ev: &Event = $ev;
        sqlx::query(EVENT_INSERT_SQL)
            .bind(ev.account_id)
            .bind(ev.at)
            .bind(ev.kind)
            .bind(ev.session_id.as_ref())
            .bind(ev.target_id.as_ref())
            .bind(ev.ip.as_deref())
            .bind(ev.detail.as_deref())
            .bind(ev.device.as_deref())
            .execute(&mut *$tx)
            .await?
    }};
}

/// Leaves "New login to your account" for the session `$s` (a [`NewSession`]) in its account's
/// Inbox, inside the caller's transaction, and counts it as unread.
macro_rules! insert_new_login_message {
    ($tx:expr, $s:expr) => {{
        let s: &NewSession = $s;
        sqlx::query(
            "INSERT INTO messages (account_id, at, kind, session_id, device, ip)
             SELECT $1, $2, 'new_login', $3, $4, $5 FROM accounts WHERE id = $1 AND notify_new_devices",
        )
        .bind(s.account_id)
        .bind(s.now)
        .bind(&s.id)
        .bind(&s.device_label)
        .bind(&s.ip)
        .execute(&mut *$tx)
        .await?;
        unread_changed!($tx, s.account_id);
    }};
}

/// Recounts the account's unread messages (kept on the account row, so the session lookup every
/// page makes also gives the Inbox count), inside the caller's transaction.
macro_rules! unread_changed {
    ($tx:expr, $account_id:expr) => {
        sqlx::query(
            "UPDATE accounts SET unread_messages =
                 (SELECT COUNT(*) FROM messages WHERE account_id = $1 AND read_at IS NULL) WHERE id = $1",
        )
        .bind($account_id)
        .execute(&mut *$tx)
        .await?
    };
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::open(url, true).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to an existing database whose migrations are all applied, and never migrates
    /// (operators' commands: a newer program must not change the schema under running servers).
    pub async fn open_current(url: &str) -> Result<Self> {
        let store = Self::open(url, false).await?;
        let applied: Vec<(i64,)> = match with_pool!(store, |pool| {
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await
        }) {
            Ok(rows) => rows,
            // No migrations table: never migrated at all.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let embedded: Vec<i64> = match &store.backend {
            Backend::Sqlite(_) => sqlx::migrate!("../migrations/sqlite").iter().map(|m| m.version).collect(),
            Backend::Postgres(_) => sqlx::migrate!("../migrations/postgres").iter().map(|m| m.version).collect(),
        };
        let missing: Vec<String> =
            embedded.iter().filter(|v| !applied.iter().any(|(a,)| a == *v)).map(|v| v.to_string()).collect();
        if !missing.is_empty() {
            store.close().await;
            return Err(StoreError::NotMigrated(missing.join(", ")));
        }
        Ok(store)
    }

    async fn open(url: &str, create: bool) -> Result<Self> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(options);
            Store {
                backend: Backend::Postgres(pool),
                reader: None,
                hub: Default::default(),
                feed: Default::default(),
                writer: None,
            }
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Writers queue behind each other instead of failing with "database is locked".
                .busy_timeout(Duration::from_secs(10));
            if !create && !options.get_filename().exists() {
                return Err(StoreError::NoDatabase(options.get_filename().display().to_string()));
            }
            if let Some(dir) = options.get_filename().parent().filter(|_| create) {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Other(sqlx::Error::Io(e)))?;
                }
            }
            let reader = SqliteReader::for_file(options.get_filename()).map(Arc::new);
            let (hub, feed) = (crate::ssr::push::Hub::default(), Arc::new(feed::FeedState::default()));
            let direct = SqliteWriter::for_file(options.get_filename(), hub.clone(), feed.origin).map(Arc::new);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Store {
                backend: Backend::Sqlite(pool),
                reader,
                hub,
                feed,
                writer: Some(Arc::new(Writer { direct, ..Default::default() })),
            }
        };
        Ok(store)
    }

    /// A consistent copy of the SQLite database at `path`, while servers run (`VACUUM INTO`).
    /// The file is created here, empty and readable by its owner only, and never replaces one
    /// that exists. PostgreSQL has `pg_dump` for this.
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> std::result::Result<(), String> {
        let Backend::Sqlite(pool) = &self.backend else {
            return Err("backup is for SQLite; on PostgreSQL use pg_dump (see the README)".into());
        };
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        file.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let target = path.to_str().ok_or_else(|| "the path is not UTF-8".to_string())?;
        // VACUUM INTO writes into an empty file; on failure the empty file is removed again.
        if let Err(e) = sqlx::query("VACUUM INTO $1").bind(target).execute(pool).await {
            let _ = std::fs::remove_file(path);
            return Err(format!("the backup failed: {e}"));
        }
        Ok(())
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

    /// How a transaction that writes begins, and (SQLite) this process's turn to write, held
    /// until the transaction is over. SQLite has one writer at a time: without the turn, writers
    /// of this process would wait in SQLite's busy handler, which sleeps in growing steps (a p99
    /// of 200 ms for ending a session at full load); with it they queue in order, in memory, and
    /// the busy timeout only ever waits for another process. BEGIN IMMEDIATE takes SQLite's
    /// write lock at once, so that two transactions never deadlock upgrading read locks.
    async fn begin_write(&self, path: WritePath) -> (WriteTurn<'_>, &'static str) {
        (self.write_turn(path).await, self.begin_statement())
    }

    /// How a transaction that writes begins, for a caller that holds the turn already.
    fn begin_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "BEGIN IMMEDIATE",
            Backend::Postgres(_) => "BEGIN",
        }
    }

    /// This process's turn to write (SQLite; nothing on PostgreSQL), first come first served;
    /// held until the write is done, which it times (`postern_db_write_seconds`).
    async fn write_turn(&self, path: WritePath) -> WriteTurn<'_> {
        let started = std::time::Instant::now();
        let turn = match &self.writer {
            Some(writer) => Some(writer.turn.lock().await),
            None => None,
        };
        WriteTurn { _turn: turn, path, started }
    }

    /// A cheap round trip, for the readiness endpoint.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the open event streams, stops the change feed and closes the pools.
    pub async fn close(&self) {
        self.hub.shut_down();
        if let Some(reader) = &self.reader {
            reader.close().await;
        }
        if let Some(direct) = self.writer.as_ref().and_then(|w| w.direct.clone()) {
            // It waits for a group being committed, on a blocking thread like the group's.
            let _ = tokio::task::spawn_blocking(move || direct.close()).await;
        }
        with_pool!(self, |pool| pool.close().await)
    }
}

/// A write in progress: the write turn, if the backend has one, and the write's timer, recorded
/// when the write is over (committed, failed or abandoned).
struct WriteTurn<'a> {
    _turn: Option<tokio::sync::MutexGuard<'a, ()>>,
    path: WritePath,
    started: std::time::Instant,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        crate::ssr::metrics::db_write(self.path, self.started.elapsed().as_secs_f64());
    }
}

mod accounts;
pub(crate) mod bound;
mod ending;
mod events;
mod feed;
mod group;
mod messages;
/// Bulk inserts for the benchmark's seeding program (server/examples/postern-seed.rs): not in the server.
#[cfg(feature = "test-support")]
mod seed;
mod sessions;
mod sqlite_read;
mod sqlite_write;
/// Raw SQL for fault injection and inspection: tests only.
#[cfg(feature = "test-support")]
pub mod test_hooks;
mod throttle;

pub use crate::model::EventKind;
pub use accounts::AccountRow;
pub use bound::{BindOutcome, BoundCookie, BoundRow, CHALLENGE_LIFETIME_MS};
pub use ending::{BulkEnd, Demotion, EndOutcome, EndedRow, Keep, Purge};
pub use events::{ActivityRow, Event, EventRow};
pub use feed::{FeedState, CHANNEL as FEED_CHANNEL, LISTENER_NAME as FEED_LISTENER_NAME};
pub use messages::MessageRow;
pub use sessions::{AuthRow, NewSession, SessionRow, StreamRow, Touch};
pub(crate) use sqlite_read::SqliteReader;
use sqlite_write::SqliteWriter;
pub use throttle::{Refund, ThrottleRow};
