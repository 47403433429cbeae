//! The direct SQLite read path.

use super::group;
use super::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A read-only SQLite connection used directly on the calling thread, for the reads every request
/// makes. sqlx's SQLite driver runs each connection on a thread of its own and passes the query
/// and each row over channels; for a lookup that SQLite answers in microseconds those hand-offs
/// between threads cost several times the lookup itself (see bench/results.md). Running it inline
/// is safe for an async worker because in WAL mode readers never wait for writers: the lookup is
/// an index probe of pages already in memory. Nothing is cached: every call reads the latest
/// committed state, so a session ended by any connection or process is seen at once.
///
/// One read at a time, in turn (an async lock: a request that waits yields its worker to other
/// requests). Each read transaction takes a read lock in the WAL's shared memory with an `fcntl`
/// call, under a mutex that all of the process's connections to the file share; two workers
/// reading at once kept waiting for each other there, asleep in the kernel (`strace -k`: nearly
/// every futex call of a poll), and serialising the reads ourselves made the poll 25 % faster
/// (bench/results.md). A read is a few microseconds, so the turn is never the limit.
///
/// The session lookup of every request goes further ([`SqliteReader::read_each`]): the lookups
/// that are ready at the same time share one read transaction.
pub(crate) struct SqliteReader {
    path: PathBuf,
    /// The connection, taken for each read; `None` until the first read and after one failed.
    conn: tokio::sync::Mutex<Option<rusqlite::Connection>>,
    /// The session lookups (by token hash) waiting for the connection.
    pub(super) session_lookups: group::Queue<Vec<u8>, rusqlite::Result<Option<super::AuthRow>>>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteReader {
    /// `None` for an in-memory database, which another connection could not see.
    pub(super) fn for_file(path: &Path) -> Option<Self> {
        if !Self::is_file(path) {
            return None;
        }
        Some(SqliteReader {
            path: path.to_owned(),
            conn: tokio::sync::Mutex::new(None),
            session_lookups: group::Queue::gathering(),
        })
    }

    /// Whether a database at `path` can be opened again by another connection (not in memory).
    pub(super) fn is_file(path: &Path) -> bool {
        let name = path.to_string_lossy();
        !(name.is_empty() || name.starts_with(":memory:") || name.contains("mode=memory"))
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

    pub(super) async fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut turn = self.conn.lock().await;
        Ok(self.on_connection(&mut turn, f, rusqlite::Result::is_ok)??)
    }

    /// Runs `f` on the connection in `slot`, opened first if there is none; the connection goes
    /// back into `slot` only if `healthy` says so of the result: one that failed is dropped rather
    /// than reused. An error here is the open's.
    fn on_connection<R>(
        &self,
        slot: &mut Option<rusqlite::Connection>,
        f: impl FnOnce(&rusqlite::Connection) -> R,
        healthy: impl FnOnce(&R) -> bool,
    ) -> rusqlite::Result<R> {
        let conn = match slot.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        if healthy(&result) {
            *slot = Some(conn);
        }
        Ok(result)
    }

    /// Runs `sql` once for each job with `each`, together with the jobs of the same `queue` that
    /// are ready at the same time (a gathering [`group::Queue`]), in one read transaction. That
    /// transaction begins at the batch's first read, after every job in it was asked for, so each
    /// still sees everything committed before its request came: a session ended anywhere is seen
    /// by the next request, as with a read of its own.
    pub(super) async fn read_each<J: Clone, T>(
        &self,
        queue: &group::Queue<J, rusqlite::Result<T>>,
        job: J,
        sql: &'static str,
        each: impl Fn(&mut rusqlite::CachedStatement<'_>, &J) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let run = |slot: &mut Option<rusqlite::Connection>, jobs: Vec<J>| {
            std::future::ready(self.run_batch(slot, sql, &jobs, &each))
        };
        Ok(queue.join(&self.conn, job, run).await?)
    }

    fn run_batch<J, T>(
        &self,
        slot: &mut Option<rusqlite::Connection>,
        sql: &str,
        jobs: &[J],
        each: &impl Fn(&mut rusqlite::CachedStatement<'_>, &J) -> rusqlite::Result<T>,
    ) -> Vec<rusqlite::Result<T>> {
        let all_read = |done: &rusqlite::Result<Vec<rusqlite::Result<T>>>| {
            done.as_ref().is_ok_and(|results| results.iter().all(|r| r.is_ok()))
        };
        match self.on_connection(slot, |conn| Self::run_together(conn, sql, jobs, each), all_read) {
            Ok(Ok(results)) => results,
            Ok(Err(err)) | Err(err) => jobs.iter().map(|_| Err(copy_error(&err))).collect(),
        }
    }

    fn run_together<J, T>(
        conn: &rusqlite::Connection,
        sql: &str,
        jobs: &[J],
        each: &impl Fn(&mut rusqlite::CachedStatement<'_>, &J) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<rusqlite::Result<T>>> {
        // One job alone reads in SQLite's own transaction of one statement.
        let together = jobs.len() > 1;
        if together {
            conn.prepare_cached("BEGIN")?.execute([])?;
        }
        let mut stmt = conn.prepare_cached(sql)?;
        let results = jobs.iter().map(|job| each(&mut stmt, job)).collect();
        drop(stmt);
        if together {
            conn.prepare_cached("COMMIT")?.execute([])?;
        }
        Ok(results)
    }

    /// Closes the connection (the store is closing).
    pub(super) async fn close(&self) {
        *self.conn.lock().await = None;
    }
}

/// The same failure again, for each job of a batch that failed as a whole (rusqlite's errors are
/// not `Clone`).
fn copy_error(err: &rusqlite::Error) -> rusqlite::Error {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => rusqlite::Error::SqliteFailure(*code, message.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
