//! The direct SQLite read path.

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
pub(crate) struct SqliteReader {
    path: PathBuf,
    /// The connection, taken for each read; `None` until the first read and after one failed.
    conn: tokio::sync::Mutex<Option<rusqlite::Connection>>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteReader {
    /// `None` for an in-memory database, which another connection could not see.
    pub(super) fn for_file(path: &Path) -> Option<Self> {
        let name = path.to_string_lossy();
        if name.is_empty() || name.starts_with(":memory:") || name.contains("mode=memory") {
            return None;
        }
        Some(SqliteReader { path: path.to_owned(), conn: tokio::sync::Mutex::new(None) })
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
        let conn = match turn.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        // A connection that failed is dropped rather than reused.
        if result.is_ok() {
            *turn = Some(conn);
        }
        Ok(result?)
    }

    /// Closes the connection (the store is closing).
    pub(super) async fn close(&self) {
        *self.conn.lock().await = None;
    }
}
