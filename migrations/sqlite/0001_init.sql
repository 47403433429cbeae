-- Times are Unix milliseconds (BIGINT) so that both backends store and compare them the same way.
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    email            TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    password_hash    TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    -- Bumped whenever a session of the account starts or ends: open session lists reload on change.
    sessions_version BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id               TEXT    PRIMARY KEY,           -- public id, never the token
    token_hash       BLOB    NOT NULL UNIQUE,       -- SHA-256 of the token
    account_id       BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL CHECK (kind IN ('browser', 'app')),
    auto_login       BOOLEAN NOT NULL,
    device_name      TEXT,
    ip               TEXT    NOT NULL,
    user_agent       TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    last_active_at   BIGINT  NOT NULL,
    idle_expires_at  BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    ended_at         BIGINT,
    end_reason       TEXT,
    ended_by_session TEXT
);
CREATE INDEX sessions_active_by_account ON sessions (account_id) WHERE ended_at IS NULL;
CREATE INDEX sessions_by_ended_at ON sessions (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE security_events (
    id          INTEGER PRIMARY KEY,
    account_id  BIGINT  REFERENCES accounts(id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    session_id  TEXT,               -- the session that acted
    target_id   TEXT,               -- the session acted upon
    ip          TEXT,
    detail      TEXT
);
CREATE INDEX security_events_by_account ON security_events (account_id, at);
