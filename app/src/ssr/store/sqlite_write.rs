//! The direct SQLite write path, for the one write that comes in bursts: ending sessions.

use super::ending::{EndJob, EndOutcome};
use super::ending::{END_ONE_SQL, SESSION_OF_ACCOUNT_SQL};
use super::feed::FeedDialect;
use super::{Result, StoreError, EVENT_INSERT_SQL, SESSIONS_VERSION_SQL};
use crate::ssr::push::Hub;
use rusqlite::{named_params, Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A connection that commits a group of ends in one hop to a blocking thread. Through sqlx, each
/// statement is a round trip to the connection's own thread (a channel send and a futex wake
/// each way), five statements an end: at 64 concurrent ends most of the CPU went to waking
/// threads (`perf`: 60 % in the kernel's wake-up and task-switch paths). Here the whole group,
/// its transaction, the wake-up of this process's streams and the counters run on one blocking
/// thread, which the caller awaits once. The SQL is the store's own (the same constants sqlx runs
/// on PostgreSQL). Only this process's write turn holder uses it (the mutex is never contended).
pub(super) struct SqliteWriter {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
    /// Set when the store closes: like sqlx's closed pool, a write after that is refused.
    closed: std::sync::atomic::AtomicBool,
    hub: Hub,
    origin: i64,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// `None` for an in-memory database, which another connection could not see.
    pub(super) fn for_file(path: &Path, hub: Hub, origin: i64) -> Option<Self> {
        super::SqliteReader::is_file(path).then(|| SqliteWriter {
            path: path.to_owned(),
            conn: Mutex::new(None),
            closed: Default::default(),
            hub,
            origin,
        })
    }

    /// The pool's settings that matter for a write: commits without an fsync in WAL mode,
    /// foreign keys enforced, and another process's write lock waited for, not failed on.
    fn open(&self) -> rusqlite::Result<Connection> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn)
    }

    /// Ends `jobs` in one transaction on a blocking thread; the caller holds the write turn. If
    /// the group fails, each is tried again alone, so that one job's error is only its own.
    ///
    /// A caller dropped while this runs does not stop it: the group commits (or not) as a whole,
    /// and its callers, finding their replies gone, do their own job again (`group::Queue`),
    /// which then finds it already ended.
    pub(super) async fn end_each(self: &Arc<Self>, jobs: Vec<EndJob>) -> Vec<Result<EndOutcome>> {
        let (this, count) = (self.clone(), jobs.len());
        match tokio::task::spawn_blocking(move || this.end_each_now(&jobs)).await {
            Ok(outcomes) => outcomes,
            // The runtime is shutting down, or the thread panicked: nothing to say of the group.
            Err(err) => {
                tracing::error!(error = %err, "the write thread failed");
                let message = err.to_string();
                (0..count).map(|_| Err(StoreError::Unavailable(message.clone().into()))).collect()
            }
        }
    }

    fn end_each_now(&self, jobs: &[EndJob]) -> Vec<Result<EndOutcome>> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return jobs.iter().map(|_| Err(StoreError::Unavailable("the database is closed".into()))).collect();
        }
        match self.end_together(&mut slot, jobs) {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(err) if jobs.len() == 1 => vec![Err(err.into())],
            Err(err) => {
                tracing::debug!(error = %err, jobs = jobs.len(), "a group of ends failed: one at a time");
                jobs.iter().map(|job| Ok(self.end_together(&mut slot, std::slice::from_ref(job))?.remove(0))).collect()
            }
        }
    }

    /// Closes the connection (after a write in progress) and refuses writes from now on.
    pub(super) fn close(&self) {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        *slot = None;
    }

    /// One transaction for `jobs`, on the connection in `slot` (opened if there is none, dropped
    /// if the transaction failed: a connection in an unknown state is not reused).
    fn end_together(&self, slot: &mut Option<Connection>, jobs: &[EndJob]) -> rusqlite::Result<Vec<EndOutcome>> {
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        let outcomes = Self::commit_ends(&mut conn, self.origin, jobs)?;
        *slot = Some(conn);
        for (job, _) in jobs.iter().zip(&outcomes).filter(|(_, o)| **o == EndOutcome::Ended) {
            self.hub.changed(job.account_id);
            crate::ssr::metrics::sessions_ended(job.reason, 1);
        }
        Ok(outcomes)
    }

    fn commit_ends(conn: &mut Connection, origin: i64, jobs: &[EndJob]) -> rusqlite::Result<Vec<EndOutcome>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            let ev = &job.event;
            let ended = tx.prepare_cached(END_ONE_SQL)?.execute(named_params! {
                "$1": job.session_id, "$2": job.account_id, "$3": ev.at, "$4": job.reason, "$5": ev.session_id,
            })?;
            let outcome = if ended > 0 {
                // What `session_set_changed!` and `insert_event!` do on the sqlx path.
                tx.prepare_cached(SESSIONS_VERSION_SQL)?.execute(named_params! { "$1": job.account_id })?;
                tx.prepare_cached(<sqlx::Sqlite as FeedDialect>::ACCOUNT)?
                    .execute(named_params! { "$1": job.account_id, "$2": origin })?;
                tx.prepare_cached(EVENT_INSERT_SQL)?.execute(named_params! {
                    "$1": ev.account_id, "$2": ev.at, "$3": ev.kind, "$4": ev.session_id, "$5": ev.target_id,
                    "$6": ev.ip, "$7": ev.detail, "$8": ev.device,
                })?;
                EndOutcome::Ended
            } else if tx
                .prepare_cached(SESSION_OF_ACCOUNT_SQL)?
                .exists(named_params! { "$1": job.session_id, "$2": job.account_id })?
            {
                EndOutcome::AlreadyEnded
            } else {
                EndOutcome::NotFound
            };
            outcomes.push(outcome);
        }
        tx.commit()?;
        Ok(outcomes)
    }
}
