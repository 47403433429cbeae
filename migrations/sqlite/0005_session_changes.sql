-- The change feed of SQLite, which has no LISTEN/NOTIFY: every transaction that changes an
-- account's set of sessions adds a row here, and each server process on this file reads the rows
-- it has not seen yet (a quarter of a second apart) to wake its open event streams, so that a
-- change made by another process (an operator's command) reaches them too. The readers delete
-- rows older than a minute; `at` is SQLite's own clock, so that no process's clock matters.
-- PostgreSQL needs no table: the same transactions send a NOTIFY (see app/src/ssr/store/feed.rs).
CREATE TABLE session_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL,
    -- The writing store's random mark: a process skips its own rows (it woke its streams at once).
    origin BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
);
