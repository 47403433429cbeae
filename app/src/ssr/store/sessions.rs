//! Sessions: created at login, read by every request, ended by their owner, by expiry or in bulk.

use super::*;

/// The three times of [`Store::touch`], named so that they cannot be passed in the wrong order.
#[derive(Clone, Copy, Debug)]
pub struct Touch {
    pub now: i64,
    pub idle_expires_at: i64,
    /// Activity recorded after this is recent enough: no write.
    pub stale_before: i64,
}

/// What authenticating a request needs: the session and its account, in one lookup.
#[derive(Clone, Debug, FromRow)]
pub struct AuthRow {
    pub id: SessionId,
    pub account_id: AccountId,
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
    pub unread_messages: i64,
    /// Device-bound (DBSC): the hash of the short-lived cookie the session needs, and until when
    /// it counts; both `None` for a session that is not bound.
    pub bound_cookie_hash: Option<Vec<u8>>,
    pub bound_cookie_expires_at: Option<i64>,
    /// The cookie the last refresh replaced, until its own expiry.
    pub bound_previous_hash: Option<Vec<u8>>,
    pub bound_previous_expires_at: Option<i64>,
}

/// What an open event stream watches of its session, read again each time it is woken.
#[derive(Clone, Debug, FromRow)]
pub struct StreamRow {
    pub account_id: AccountId,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<EndReason>,
    pub sessions_version: i64,
    pub unread_messages: i64,
    /// The newest Inbox message's id (0 for none): a larger one means a new message arrived.
    pub last_message_id: i64,
}

/// A session as listed to its owner. No token, no hash.
#[derive(Clone, Debug, FromRow)]
pub struct SessionRow {
    pub id: SessionId,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub device_name: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_active_at: i64,
    /// What the owner renamed it to, if they did.
    pub custom_name: Option<String>,
    /// Where it logged in from, if the GeoIP database knew.
    pub location: Option<String>,
    /// Device-bound (DBSC): its cookies only work on the device that holds its key.
    pub bound: bool,
}

/// A session about to be created.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: SessionId,
    pub token_hash: Vec<u8>,
    pub account_id: AccountId,
    pub kind: SessionKind,
    pub auto_login: bool,
    pub device_name: Option<String>,
    pub ip: String,
    /// Where `ip` is, looked up at login (see `ssr::geo`).
    pub location: Option<String>,
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
    /// Leave "New login to your account" in the Inbox if the device is new to the account (and
    /// the account wants to be told): this is a login, not the sign-up that created the account.
    pub announce_if_new: bool,
    /// What the message calls the device: "Firefox on Windows".
    pub device_label: String,
}

impl Store {
    /// Creates a session. An account at its limit of active sessions loses its least recently
    /// active ones first, in the same transaction.
    pub async fn create_session(&self, s: &NewSession, max_active: i64, event: &Event) -> Result<()> {
        let (_turn, begin) = self.begin_write(WritePath::CreateSession).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // First, so that it locks the account row (PostgreSQL): concurrent logins of one
            // account queue here, and each counts the sessions the others created.
            session_set_changed!(self, tx, account = s.account_id);
            let (credentials_version,): (i64,) =
                sqlx::query_as("SELECT credentials_version FROM accounts WHERE id = $1")
                    .bind(s.account_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if credentials_version != s.credentials_version {
                tx.rollback().await?;
                return Err(StoreError::CredentialsChanged);
            }
            let (active,): (i64,) =
                sqlx::query_as(concat!("SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND ", active_at!("$2")))
                    .bind(s.account_id)
                    .bind(s.now)
                    .fetch_one(&mut *tx)
                    .await?;
            let excess = active - max_active + 1;
            let evicted = u64::try_from(excess.max(0)).unwrap_or(0);
            if excess > 0 {
                let oldest: Vec<(SessionId,)> = sqlx::query_as(concat!(
                    "SELECT id FROM sessions WHERE account_id = $1 AND ",
                    active_at!("$2"),
                    " ORDER BY last_active_at ASC, created_at ASC LIMIT $3"
                ))
                .bind(s.account_id)
                .bind(s.now)
                .bind(excess)
                .fetch_all(&mut *tx)
                .await?;
                for (id,) in oldest {
                    sqlx::query(
                        "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL",
                    )
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
                                       created_at, last_active_at, idle_expires_at, expires_at, device_hash, location)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)",
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
            .bind(s.device_hash.as_deref())
            .bind(s.location.as_deref())
            .execute(&mut *tx)
            .await?;
            if let Some(device_hash) = &s.device_hash {
                // Read in the transaction that locked the account row: two logins of one new
                // device cannot both find it new.
                let known: Option<(i64,)> = sqlx::query_as(
                    "SELECT first_seen_at FROM known_devices WHERE account_id = $1 AND device_hash = $2",
                )
                .bind(s.account_id)
                .bind(device_hash)
                .fetch_optional(&mut *tx)
                .await?;
                if known.is_none() && s.announce_if_new {
                    insert_new_login_message!(tx, s);
                }
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
            self.announce([s.account_id]);
            crate::ssr::metrics::session_started(s.kind);
            crate::ssr::metrics::sessions_ended(EndReason::SessionLimit, evicted);
            Ok(())
        })
    }

    /// The session a token belongs to, with its account: the one lookup of every request.
    pub async fn session_by_token_hash(&self, token_hash: Vec<u8>) -> Result<Option<AuthRow>> {
        const SQL: &str = "SELECT s.id, s.account_id, s.kind, s.auto_login, s.last_active_at, s.idle_expires_at,
                                  s.expires_at, s.ended_at, s.end_reason, a.email, a.name, a.sessions_version,
                                  a.unread_messages, s.bound_cookie_hash, s.bound_cookie_expires_at,
                                  s.bound_previous_hash, s.bound_previous_expires_at
                           FROM sessions s JOIN accounts a ON a.id = s.account_id
                           WHERE s.token_hash = $1";
        if let Some(reader) = &self.reader {
            let lookup = |stmt: &mut rusqlite::CachedStatement<'_>, token_hash: &Vec<u8>| {
                use rusqlite::OptionalExtension;
                stmt.query_row([token_hash], |r| {
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
                        unread_messages: r.get(12)?,
                        bound_cookie_hash: r.get(13)?,
                        bound_cookie_expires_at: r.get(14)?,
                        bound_previous_hash: r.get(15)?,
                        bound_previous_expires_at: r.get(16)?,
                    })
                })
                .optional()
            };
            return reader.read_each(&reader.session_lookups, token_hash, SQL, lookup).await;
        }
        // Boxed: inline, the pool's future would size the future of every request that reads a
        // session, the SQLite reads above included, and it is moved several times on its way to
        // the executor (callgrind, bench/results.md).
        Ok(Box::pin(async { with_pool!(self, |pool| sqlx::query_as(SQL).bind(token_hash).fetch_optional(pool).await) })
            .await?)
    }

    /// Records activity, unless it was recorded after `stale_before`: of several requests that
    /// all read an old "last active" at once (a page and its server functions, many tabs), only the
    /// first writes; the others match no row. So a session is written at most once a minute on
    /// every instance, without any state kept in a process.
    pub async fn touch(&self, session_id: &SessionId, t: Touch) -> Result<()> {
        const SQL: &str = "UPDATE sessions SET last_active_at = $2, idle_expires_at = $3
                           WHERE id = $1 AND ended_at IS NULL AND last_active_at <= $4";
        let _turn = self.write_turn(WritePath::Touch).await;
        with_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(session_id)
                .bind(t.now)
                .bind(t.idle_expires_at)
                .bind(t.stale_before)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The state an event stream of `session_id` watches; `None` once the session is deleted.
    pub async fn stream_row(&self, session_id: &SessionId) -> Result<Option<StreamRow>> {
        const SQL: &str = "SELECT s.account_id, s.idle_expires_at, s.expires_at, s.ended_at, s.end_reason,
                                  a.sessions_version, a.unread_messages,
                                  COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.account_id = s.account_id), 0)
                                      AS last_message_id
                           FROM sessions s JOIN accounts a ON a.id = s.account_id
                           WHERE s.id = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(session_id).fetch_optional(pool).await?))
    }

    /// Names an active session of the account (`None`: back to the parsed device). `false` when
    /// the account has no such active session: another account's is not found either.
    pub async fn rename_session(
        &self,
        account_id: AccountId,
        id: &SessionId,
        custom_name: Option<&str>,
        event: &Event,
    ) -> Result<bool> {
        const SQL: &str =
            concat!("UPDATE sessions SET custom_name = $3 WHERE account_id = $1 AND id = $2 AND ", active_at!("$4"));
        let (_turn, begin) = self.begin_write(WritePath::RenameSession).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let done =
                sqlx::query(SQL).bind(account_id).bind(id).bind(custom_name).bind(event.at).execute(&mut *tx).await?;
            let renamed = done.rows_affected() > 0;
            if renamed {
                // Other open lists of the account show the new name at once.
                session_set_changed!(self, tx, account = account_id);
                insert_event!(tx, event);
            }
            tx.commit().await?;
            if renamed {
                self.announce([account_id]);
            }
            Ok(renamed)
        })
    }

    /// One session of the account, active or ended; another account's is `None`.
    pub async fn session_of_account(&self, account_id: AccountId, id: &SessionId) -> Result<Option<SessionRow>> {
        const SQL: &str = "SELECT id, kind, auto_login, device_name, ip, user_agent, created_at, last_active_at, custom_name, location, bound_key IS NOT NULL AS bound
                           FROM sessions WHERE account_id = $1 AND id = $2";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(id).fetch_optional(pool).await?))
    }

    /// Whether the session is active at `now`.
    pub async fn is_session_active(&self, id: &SessionId, now: i64) -> Result<bool> {
        const SQL: &str = concat!("SELECT 1 FROM sessions WHERE id = $1 AND ", active_at!("$2"));
        let row: Option<(i32,)> =
            with_pool!(self, |pool| sqlx::query_as(SQL).bind(id).bind(now).fetch_optional(pool).await?);
        Ok(row.is_some())
    }

    /// The account's active sessions, most recently active first.
    pub async fn active_sessions(&self, account_id: AccountId, now: i64) -> Result<Vec<SessionRow>> {
        const SQL: &str = concat!(
            "SELECT id, kind, auto_login, device_name, ip, user_agent, created_at, last_active_at, custom_name, location, bound_key IS NOT NULL AS bound
             FROM sessions WHERE account_id = $1 AND ",
            active_at!("$2"),
            " ORDER BY last_active_at DESC, created_at DESC"
        );
        if let Some(reader) = &self.reader {
            return reader
                .read(|conn| {
                    conn.prepare_cached(SQL)?
                        .query_map((account_id, now), |r| {
                            Ok(SessionRow {
                                id: r.get(0)?,
                                kind: r.get(1)?,
                                auto_login: r.get(2)?,
                                device_name: r.get(3)?,
                                ip: r.get(4)?,
                                user_agent: r.get(5)?,
                                created_at: r.get(6)?,
                                last_active_at: r.get(7)?,
                                custom_name: r.get(8)?,
                                location: r.get(9)?,
                                bound: r.get(10)?,
                            })
                        })?
                        .collect()
                })
                .await;
        }
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(now).fetch_all(pool).await?))
    }
}
