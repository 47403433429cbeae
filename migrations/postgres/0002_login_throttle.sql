-- Failed login attempts per account (normalised e-mail) and per client address, so that guessing
-- is slowed down on every server instance alike. A row is stale once `last_failure_at` is older
-- than the quiet window; the purge job deletes stale rows.
CREATE TABLE login_throttle (
    key             TEXT   PRIMARY KEY,   -- 'account:<e-mail>' or 'ip:<address or IPv6 /64>'
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);
CREATE INDEX login_throttle_by_last_failure ON login_throttle (last_failure_at);
