-- The security centre: new-login messages in the Inbox, the login-notification setting, when the
-- password last changed, and what the activity log and the "Recently ended" list show.

-- "Tell me about logins from new devices" (Security options → Login notifications).
ALTER TABLE accounts ADD COLUMN notify_new_devices BOOLEAN NOT NULL DEFAULT TRUE;
-- When the password was last set; NULL means at sign-up (created_at).
ALTER TABLE accounts ADD COLUMN password_changed_at BIGINT;
-- Unread messages of the account, kept with every change of a message, so that every page can
-- show the Inbox count from the session lookup it already does.
ALTER TABLE accounts ADD COLUMN unread_messages BIGINT NOT NULL DEFAULT 0;

-- The hash of the device id a session logged in with: "This wasn't me" forgets that device.
ALTER TABLE sessions ADD COLUMN device_hash BYTEA;

-- What a person would call the device of an event that has no session of its own (a failed
-- login, a sign-up): "Firefox on Windows". Events of a session show that session's device.
ALTER TABLE security_events ADD COLUMN device TEXT;

-- Messages in the account's own Inbox, kept like mail: until their owner deletes them.
CREATE TABLE messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    kind        TEXT   NOT NULL,   -- 'new_login'
    session_id  TEXT   NOT NULL,   -- the login the message is about (public id)
    device      TEXT   NOT NULL,
    ip          TEXT   NOT NULL,
    read_at     BIGINT,
    -- The owner's answer: 'confirmed' ("Yes, it was me") or 'reported' ("This wasn't me").
    reply       TEXT
);
CREATE INDEX messages_by_account ON messages (account_id, at);
CREATE INDEX sessions_ended_by_account ON sessions (account_id, ended_at) WHERE ended_at IS NOT NULL;
