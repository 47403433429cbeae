//! Sessions: created at login, read by every request, ended by their owner, by expiry or in bulk.

use super::*;

/// What authenticating a request needs: the session and its account, in one lookup.
#[derive(Clone, Debug, FromRow)]
pub struct AuthRow {
    pub id: String,
    pub account_id: i64,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub last_active_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<EndReason>,
    pub email: String,
    pub name: String,
    pub sessions_version: i64,
}

/// A session as listed to its owner. No token, no hash.
#[derive(Clone, Debug, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub device_name: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_active_at: i64,
}

/// A session about to be created.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub account_id: i64,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub device_name: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub now: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    /// The account's credentials version the password was verified against: if a password
    /// change, auto-login reset or "terminate all" committed since, no session is created
    /// ([`StoreError::CredentialsChanged`]). Checked in the creating transaction, so a login in
    /// flight cannot outlive the change that should have ended it.
    pub credentials_version: i64,
    /// The SHA-256 of the logging-in device's id, remembered as a known device of the account.
    pub device_hash: Option<Vec<u8>>,
}

/// What happened when one session was to be ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndOutcome {
    Ended,
    /// It is the caller's, but had ended before: not an error.
    AlreadyEnded,
    /// Never existed, or belongs to another account: the same answer for both.
    NotFound,
}

/// The new lifetime of the current session when it stops being an auto-login.
#[derive(Clone, Copy, Debug)]
pub struct Demotion {
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

/// What `end_sessions` does.
#[derive(Clone, Copy, Debug)]
pub struct BulkEnd<'a> {
    pub reason: EndReason,
    pub only_auto_login: bool,
    pub keep: Option<Keep<'a>>,
    pub new_password_hash: Option<&'a str>,
}

/// The session that survives a bulk end, with its new token.
#[derive(Clone, Copy, Debug)]
pub struct Keep<'a> {
    pub session_id: &'a str,
    pub new_token_hash: &'a [u8],
    pub demote: Option<Demotion>,
}

impl Store {
    /// Creates a session. An account at its limit of active sessions loses its least recently
    /// active ones first, in the same transaction.
    pub async fn create_session(&self, s: &NewSession, max_active: i64, event: &Event) -> Result<()> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // First, so that it locks the account row (PostgreSQL): concurrent logins of one
            // account queue here, and each counts the sessions the others created.
            bump_sessions_version!(tx, s.account_id);
            let (credentials_version,): (i64,) = sqlx::query_as("SELECT credentials_version FROM accounts WHERE id = $1")
                .bind(s.account_id)
                .fetch_one(&mut *tx)
                .await?;
            if credentials_version != s.credentials_version {
                tx.rollback().await?;
                return Err(StoreError::CredentialsChanged);
            }
            let (active,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2")
                    .bind(s.account_id)
                    .bind(s.now)
                    .fetch_one(&mut *tx)
                    .await?;
            let excess = active - max_active + 1;
            if excess > 0 {
                let oldest: Vec<(String,)> = sqlx::query_as(
                    "SELECT id FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
                     ORDER BY last_active_at ASC, created_at ASC LIMIT $3",
                )
                .bind(s.account_id)
                .bind(s.now)
                .bind(excess)
                .fetch_all(&mut *tx)
                .await?;
                for (id,) in oldest {
                    sqlx::query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
                        .bind(&id)
                        .bind(s.now)
                        .bind(EndReason::SessionLimit)
                        .execute(&mut *tx)
                        .await?;
                    insert_event!(
                        tx,
                        &Event::new(EventKind::SessionEnded, Some(s.account_id), s.now)
                            .target(&id)
                            .detail("session limit reached")
                    );
                }
            }
            sqlx::query(
                "INSERT INTO sessions (id, token_hash, account_id, kind, auto_login, device_name, ip, user_agent,
                                       created_at, last_active_at, idle_expires_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
            )
            .bind(&s.id)
            .bind(&s.token_hash)
            .bind(s.account_id)
            .bind(s.kind)
            .bind(s.auto_login)
            .bind(s.device_name.as_deref())
            .bind(&s.ip)
            .bind(&s.user_agent)
            .bind(s.now)
            .bind(s.idle_expires_at)
            .bind(s.expires_at)
            .execute(&mut *tx)
            .await?;
            if let Some(device_hash) = &s.device_hash {
                sqlx::query(
                    "INSERT INTO known_devices (account_id, device_hash, first_seen_at, last_login_at) VALUES ($1, $2, $3, $3)
                     ON CONFLICT (account_id, device_hash) DO UPDATE SET last_login_at = excluded.last_login_at",
                )
                .bind(s.account_id)
                .bind(device_hash)
                .bind(s.now)
                .execute(&mut *tx)
                .await?;
            }
            insert_event!(tx, event);
            tx.commit().await?;
            Ok(())
        })
    }

    /// The session a token belongs to, with its account: the one lookup of every request.
    pub async fn session_by_token_hash(&self, token_hash: &[u8]) -> Result<Option<AuthRow>> {
        const SQL: &str = "SELECT s.id, s.account_id, s.kind, s.auto_login, s.last_active_at, s.idle_expires_at,
                                  s.expires_at, s.ended_at, s.end_reason, a.email, a.name, a.sessions_version
                           FROM sessions s JOIN accounts a ON a.id = s.account_id
                           WHERE s.token_hash = $1";
        if let Some(reader) = &self.reader {
            return reader.read(|conn| {
                use rusqlite::OptionalExtension;
                conn.prepare_cached(SQL)?
                    .query_row([token_hash], |r| {
                        Ok(AuthRow {
                            id: r.get(0)?,
                            account_id: r.get(1)?,
                            kind: r.get(2)?,
                            auto_login: r.get(3)?,
                            last_active_at: r.get(4)?,
                            idle_expires_at: r.get(5)?,
                            expires_at: r.get(6)?,
                            ended_at: r.get(7)?,
                            end_reason: r.get(8)?,
                            email: r.get(9)?,
                            name: r.get(10)?,
                            sessions_version: r.get(11)?,
                        })
                    })
                    .optional()
            });
        }
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(token_hash).fetch_optional(pool).await?))
    }

    /// Marks a session that has run out as ended at the moment it ran out.
    pub async fn mark_expired(&self, account_id: i64, session_id: &str, expired_at: i64) -> Result<()> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let done = sqlx::query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
                .bind(session_id)
                .bind(expired_at)
                .bind(EndReason::Expired)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() > 0 {
                bump_sessions_version!(tx, account_id);
                insert_event!(tx, &Event::new(EventKind::SessionExpired, Some(account_id), expired_at).target(session_id));
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records activity, unless it was recorded after `stale_before`: of several requests that
    /// all read an old "last active" at once (a page and its server functions, many tabs), only the
    /// first writes; the others match no row. So a session is written at most once a minute on
    /// every instance, without any state kept in a process.
    pub async fn touch(&self, session_id: &str, now: i64, idle_expires_at: i64, stale_before: i64) -> Result<()> {
        const SQL: &str = "UPDATE sessions SET last_active_at = $2, idle_expires_at = $3
                           WHERE id = $1 AND ended_at IS NULL AND last_active_at <= $4";
        with_pool!(self, |pool| {
            sqlx::query(SQL).bind(session_id).bind(now).bind(idle_expires_at).bind(stale_before).execute(pool).await?;
        });
        Ok(())
    }

    /// The account's active sessions, most recently active first.
    pub async fn active_sessions(&self, account_id: i64, now: i64) -> Result<Vec<SessionRow>> {
        const SQL: &str = "SELECT id, kind, auto_login, device_name, ip, user_agent, created_at, last_active_at
                           FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
                           ORDER BY last_active_at DESC, created_at DESC";
        if let Some(reader) = &self.reader {
            return reader.read(|conn| {
                conn.prepare_cached(SQL)?
                    .query_map([account_id, now], |r| {
                        Ok(SessionRow {
                            id: r.get(0)?,
                            kind: r.get(1)?,
                            auto_login: r.get(2)?,
                            device_name: r.get(3)?,
                            ip: r.get(4)?,
                            user_agent: r.get(5)?,
                            created_at: r.get(6)?,
                            last_active_at: r.get(7)?,
                        })
                    })?
                    .collect()
            });
        }
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(now).fetch_all(pool).await?))
    }

    /// Ends one session of `account_id`. Another account's session is `NotFound`, exactly like
    /// one that never existed.
    pub async fn end_session(&self, account_id: i64, session_id: &str, reason: EndReason, event: &Event) -> Result<EndOutcome> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let done = sqlx::query(
                "UPDATE sessions SET ended_at = $3, end_reason = $4, ended_by_session = $5
                 WHERE id = $1 AND account_id = $2 AND ended_at IS NULL",
            )
            .bind(session_id)
            .bind(account_id)
            .bind(event.at)
            .bind(reason)
            .bind(event.session_id.as_deref())
            .execute(&mut *tx)
            .await?;
            let outcome = if done.rows_affected() > 0 {
                bump_sessions_version!(tx, account_id);
                insert_event!(tx, event);
                EndOutcome::Ended
            } else {
                let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE id = $1 AND account_id = $2")
                    .bind(session_id)
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() { EndOutcome::AlreadyEnded } else { EndOutcome::NotFound }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// Ends every session of the account (`except` one, when given, which instead gets a fresh
    /// token, and possibly loses its auto-login). With `only_auto_login`, only remembered logins
    /// end. Optionally replaces the password hash in the same transaction, so a password change
    /// is never half applied. Returns how many sessions ended.
    pub async fn end_sessions(&self, account_id: i64, plan: &BulkEnd<'_>, event: &Event) -> Result<u64> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // Logins verified before this moment must not create sessions after it.
            sqlx::query(
                "UPDATE accounts SET password_hash = COALESCE($2, password_hash), credentials_version = credentials_version + 1
                 WHERE id = $1",
            )
            .bind(account_id)
            .bind(plan.new_password_hash)
            .execute(&mut *tx)
            .await?;
            let ended = sqlx::query(
                "UPDATE sessions SET ended_at = $2, end_reason = $3, ended_by_session = $4
                 WHERE account_id = $1 AND ended_at IS NULL
                   AND ($5 IS NULL OR id <> $5) AND (auto_login OR NOT $6)",
            )
            .bind(account_id)
            .bind(event.at)
            .bind(plan.reason)
            .bind(event.session_id.as_deref())
            .bind(plan.keep.map(|k| k.session_id))
            .bind(plan.only_auto_login)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if let Some(keep) = plan.keep {
                let rotated = sqlx::query(
                    "UPDATE sessions SET token_hash = $2,
                            auto_login = CASE WHEN $3 THEN auto_login ELSE FALSE END,
                            idle_expires_at = CASE WHEN $3 THEN idle_expires_at ELSE $4 END,
                            expires_at = CASE WHEN $3 THEN expires_at ELSE $5 END
                     WHERE id = $1 AND ended_at IS NULL",
                )
                .bind(keep.session_id)
                .bind(keep.new_token_hash)
                .bind(keep.demote.is_none())
                .bind(keep.demote.map_or(0, |d| d.idle_expires_at))
                .bind(keep.demote.map_or(0, |d| d.expires_at))
                .execute(&mut *tx)
                .await?;
                if rotated.rows_affected() != 1 {
                    // The acting session ended while we worked: apply nothing.
                    tx.rollback().await?;
                    return Ok(0);
                }
            }
            bump_sessions_version!(tx, account_id);
            insert_event!(tx, event);
            tx.commit().await?;
            Ok(ended)
        })
    }

    /// Housekeeping: marks sessions that ran out as expired, then deletes sessions and events
    /// that ended before `purge_before`, so IP addresses are not kept forever, and login-throttle
    /// counters whose last failure is at or before `throttle_stale_at` (they no longer count).
    pub async fn purge(&self, now: i64, purge_before: i64, throttle_stale_at: i64) -> Result<(u64, u64)> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(
                "UPDATE accounts SET sessions_version = sessions_version + 1
                 WHERE id IN (SELECT account_id FROM sessions
                              WHERE ended_at IS NULL AND (expires_at <= $1 OR idle_expires_at <= $1))",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let expired = sqlx::query(
                "UPDATE sessions SET end_reason = $2,
                        ended_at = CASE WHEN expires_at < idle_expires_at THEN expires_at ELSE idle_expires_at END
                 WHERE ended_at IS NULL AND (expires_at <= $1 OR idle_expires_at <= $1)",
            )
            .bind(now)
            .bind(EndReason::Expired)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let deleted = sqlx::query("DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1")
                .bind(purge_before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM security_events WHERE at < $1").bind(purge_before).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM login_throttle WHERE last_failure_at <= $1")
                .bind(throttle_stale_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((expired, deleted))
        })
    }
}
