-- Bumped by every change of credentials or bulk end of sessions (password change, auto-login
-- reset, terminate all): a login whose password was verified against an older version must not
-- create a session (it is answered as invalid credentials).
ALTER TABLE accounts ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 0;

-- Browsers and apps that have logged in to an account successfully before, by the SHA-256 of
-- their random device id (the postern_device cookie, or the app's device_id). A known device is
-- throttled on a counter of its own, so that strangers' failures cannot lock the owner out.
CREATE TABLE known_devices (
    account_id    BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_hash   BLOB  NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_hash)
);

-- Refused (throttled) attempts are aggregated: one row per account and throttle window, with a
-- count and the last address, so a flood of requests does not become a flood of rows.
ALTER TABLE security_events ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE security_events ADD COLUMN aggregate_key TEXT;
CREATE UNIQUE INDEX security_events_by_aggregate_key ON security_events (aggregate_key);
