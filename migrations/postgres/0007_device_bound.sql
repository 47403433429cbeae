-- Device-bound sessions (DBSC): the public key a browser proved it holds (SEC1, uncompressed
-- P-256, 65 bytes), set once at registration and never replaced; and the short-lived cookie
-- (postern_bound) a bound session needs besides its session cookie, as a SHA-256 with its expiry.
-- A password change or auto-login reset rotates the session token, not these. The cookie a
-- refresh replaced keeps counting until its own expiry: Chromium refreshes ahead of time while
-- requests with the previous cookie are still on their way.
ALTER TABLE sessions ADD COLUMN bound_key BYTEA;
ALTER TABLE sessions ADD COLUMN bound_at BIGINT;
ALTER TABLE sessions ADD COLUMN bound_cookie_hash BYTEA;
ALTER TABLE sessions ADD COLUMN bound_cookie_expires_at BIGINT;
ALTER TABLE sessions ADD COLUMN bound_previous_hash BYTEA;
ALTER TABLE sessions ADD COLUMN bound_previous_expires_at BIGINT;

-- Single-use challenges, each issued to one session (at login, or asked for by a refresh): any
-- instance may receive the proof. Consumed by deleting; older than a minute they are refused,
-- and the purge job removes them.
CREATE TABLE dbsc_challenges (
    challenge  TEXT   PRIMARY KEY,
    session_id TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX dbsc_challenges_by_created_at ON dbsc_challenges (created_at);
