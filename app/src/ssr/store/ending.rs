//! Ending sessions: one, in bulk (password change, auto-login reset, terminate all), when they
//! ran out, and the housekeeping that deletes old ones. Each end also moves the account's
//! `sessions_version` (see `session_set_changed!`).

use super::*;

/// What happened when one session was to be ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndOutcome {
    Ended,
    /// It is the caller's, but had ended before: not an error.
    AlreadyEnded,
    /// Never existed, or belongs to another account: the same answer for both.
    NotFound,
}

/// Ends one session of an account, if it is active: `$1` the session, `$2` the account, `$3` when,
/// `$4` the reason, `$5` the session that ended it.
pub(super) const END_ONE_SQL: &str = "UPDATE sessions SET ended_at = $3, end_reason = $4, ended_by_session = $5
                                      WHERE id = $1 AND account_id = $2 AND ended_at IS NULL";
/// Whether the session `$1` is the account `$2`'s.
pub(super) const SESSION_OF_ACCOUNT_SQL: &str = "SELECT id FROM sessions WHERE id = $1 AND account_id = $2";

/// One session to end, as `end_session` was asked.
#[derive(Clone, Debug)]
pub(super) struct EndJob {
    pub(super) account_id: AccountId,
    pub(super) session_id: SessionId,
    pub(super) reason: EndReason,
    pub(super) event: Event,
}

/// The new lifetime of the current session when it stops being an auto-login.
#[derive(Clone, Copy, Debug)]
pub struct Demotion {
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

/// The times of [`Store::purge`], named so that they cannot be passed in the wrong order.
#[derive(Clone, Copy, Debug)]
pub struct Purge {
    pub now: i64,
    /// Ended sessions and events older than this are deleted.
    pub retained_since: i64,
    /// Throttle counters whose last failure is at or before this no longer count.
    pub throttle_stale_at: i64,
    /// Known devices whose last login is older than this are forgotten.
    pub devices_unused_since: i64,
}

/// A session that ended, for "Recently ended".
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct EndedRow {
    pub id: SessionId,
    pub kind: SessionKind,
    pub device_name: Option<String>,
    pub user_agent: String,
    pub ip: String,
    pub ended_at: i64,
    pub end_reason: Option<EndReason>,
    pub custom_name: Option<String>,
    pub location: Option<String>,
    pub by_kind: Option<SessionKind>,
    pub by_device_name: Option<String>,
    pub by_user_agent: Option<String>,
    pub by_custom_name: Option<String>,
}

/// What `end_sessions` does.
#[derive(Clone, Copy, Debug)]
pub struct BulkEnd<'a> {
    pub reason: EndReason,
    pub only_auto_login: bool,
    pub keep: Option<Keep<'a>>,
    pub new_password_hash: Option<&'a str>,
    /// "This wasn't me": the device this session logged in with is no longer a known device.
    pub forget_device_of: Option<&'a SessionId>,
}

/// The session that survives a bulk end, with its new token (where the end changes credentials).
#[derive(Clone, Copy, Debug)]
pub struct Keep<'a> {
    pub session_id: &'a SessionId,
    pub new_token_hash: Option<&'a [u8]>,
    pub demote: Option<Demotion>,
}

impl Store {
    /// Marks a session that has run out as ended at the moment it ran out.
    pub async fn mark_expired(&self, account_id: AccountId, session_id: &SessionId, expired_at: i64) -> Result<()> {
        let (_turn, begin) = self.begin_write(WritePath::MarkExpired).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let done =
                sqlx::query("UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
                    .bind(session_id)
                    .bind(expired_at)
                    .bind(EndReason::Expired)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() > 0 {
                session_set_changed!(self, tx, account = account_id);
                insert_event!(
                    tx,
                    &Event::new(EventKind::SessionExpired, Some(account_id), expired_at).target(session_id)
                );
            }
            tx.commit().await?;
            if done.rows_affected() > 0 {
                self.announce([account_id]);
                crate::ssr::metrics::sessions_ended(EndReason::Expired, 1);
            }
            Ok(())
        })
    }

    /// Ends one session of `account_id`. Another account's session is `NotFound`, exactly like
    /// one that never existed. On SQLite the ends that wait for the write turn at the same time
    /// are committed together (`group::Queue`); each still gets its own outcome.
    pub async fn end_session(
        &self,
        account_id: AccountId,
        session_id: &SessionId,
        reason: EndReason,
        event: &Event,
    ) -> Result<EndOutcome> {
        let job = EndJob { account_id, session_id: session_id.clone(), reason, event: event.clone() };
        let started = std::time::Instant::now();
        let outcome = match &self.writer {
            Some(writer) => match &writer.direct {
                Some(direct) => writer.ends.join(&writer.turn, job, |_, jobs| direct.end_each(jobs)).await,
                None => writer.ends.join(&writer.turn, job, |_, jobs| self.end_each(jobs)).await,
            },
            None => self.end_each(vec![job]).await.pop().expect("one result per job"),
        };
        crate::ssr::metrics::db_write(WritePath::EndSession, started.elapsed().as_secs_f64());
        outcome
    }

    /// Ends `jobs` in one transaction, the caller holding the write turn (SQLite). If that fails,
    /// each is tried again in a transaction of its own, so that one job's error is only its own.
    async fn end_each(&self, jobs: Vec<EndJob>) -> Vec<Result<EndOutcome>> {
        match self.end_together(&jobs).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(err) if jobs.len() == 1 => vec![Err(err)],
            Err(err) => {
                tracing::debug!(error = %err, jobs = jobs.len(), "a group of ends failed: one at a time");
                let mut each = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    each.push(self.end_together(std::slice::from_ref(job)).await.map(|mut o| o.remove(0)));
                }
                each
            }
        }
    }

    async fn end_together(&self, jobs: &[EndJob]) -> Result<Vec<EndOutcome>> {
        let begin = self.begin_statement();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let mut outcomes = Vec::with_capacity(jobs.len());
            for job in jobs {
                let done = sqlx::query(END_ONE_SQL)
                    .bind(&job.session_id)
                    .bind(job.account_id)
                    .bind(job.event.at)
                    .bind(job.reason)
                    .bind(job.event.session_id.as_ref())
                    .execute(&mut *tx)
                    .await?;
                let outcome = if done.rows_affected() > 0 {
                    session_set_changed!(self, tx, account = job.account_id);
                    insert_event!(tx, &job.event);
                    EndOutcome::Ended
                } else {
                    let exists: Option<(String,)> = sqlx::query_as(SESSION_OF_ACCOUNT_SQL)
                        .bind(&job.session_id)
                        .bind(job.account_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if exists.is_some() {
                        EndOutcome::AlreadyEnded
                    } else {
                        EndOutcome::NotFound
                    }
                };
                outcomes.push(outcome);
            }
            tx.commit().await?;
            let ended = || jobs.iter().zip(&outcomes).filter(|(_, o)| **o == EndOutcome::Ended).map(|(j, _)| j);
            self.announce(ended().map(|job| job.account_id));
            for job in ended() {
                crate::ssr::metrics::sessions_ended(job.reason, 1);
            }
            Ok(outcomes)
        })
    }

    /// Ends every session of the account (`except` one, when given, which instead gets a fresh
    /// token, and possibly loses its auto-login). With `only_auto_login`, only remembered logins
    /// end. Optionally replaces the password hash in the same transaction, so a password change
    /// is never half applied. Returns how many sessions ended.
    pub async fn end_sessions(&self, account_id: AccountId, plan: &BulkEnd<'_>, event: &Event) -> Result<u64> {
        let path = if plan.new_password_hash.is_some() { WritePath::PasswordChange } else { WritePath::EndSessions };
        let (_turn, begin) = self.begin_write(path).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // Logins verified before this moment must not create sessions after it.
            sqlx::query(
                "UPDATE accounts SET password_hash = COALESCE($2, password_hash), credentials_version = credentials_version + 1,
                        password_changed_at = CASE WHEN $2 IS NULL THEN password_changed_at ELSE $3 END
                 WHERE id = $1",
            )
            .bind(account_id)
            .bind(plan.new_password_hash)
            .bind(event.at)
            .execute(&mut *tx)
            .await?;
            if let Some(reported) = plan.forget_device_of {
                sqlx::query(
                    "DELETE FROM known_devices WHERE account_id = $1
                       AND device_hash = (SELECT device_hash FROM sessions WHERE id = $2 AND account_id = $1)",
                )
                .bind(account_id)
                .bind(reported)
                .execute(&mut *tx)
                .await?;
            }
            let ended = sqlx::query(
                "UPDATE sessions SET ended_at = $2, end_reason = $3, ended_by_session = $4
                 WHERE account_id = $1 AND ended_at IS NULL
                   AND ($5 IS NULL OR id <> $5) AND (auto_login OR NOT $6)",
            )
            .bind(account_id)
            .bind(event.at)
            .bind(plan.reason)
            .bind(event.session_id.as_ref())
            .bind(plan.keep.map(|k| k.session_id))
            .bind(plan.only_auto_login)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if let Some(keep) = plan.keep {
                let rotated = sqlx::query(
                    "UPDATE sessions SET token_hash = COALESCE($2, token_hash),
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
            session_set_changed!(self, tx, account = account_id);
            insert_event!(tx, event);
            tx.commit().await?;
            self.announce([account_id]);
            crate::ssr::metrics::sessions_ended(plan.reason, ended);
            Ok(ended)
        })
    }

    /// How many sessions are active at `now`, over all accounts (for the metric).
    pub async fn count_active_sessions(&self, now: i64) -> Result<i64> {
        const SQL: &str = concat!("SELECT COUNT(*) FROM sessions WHERE ", active_at!("$1"));
        let (n,): (i64,) = with_pool!(self, |pool| sqlx::query_as(SQL).bind(now).fetch_one(pool).await?);
        Ok(n)
    }

    /// The account's sessions that ended at or after `since`, most recent first, with the device
    /// of the session that ended each (where one did and it is still kept).
    pub async fn ended_sessions(&self, account_id: AccountId, since: i64, limit: i64) -> Result<Vec<EndedRow>> {
        const SQL: &str = "SELECT s.id, s.kind, s.device_name, s.user_agent, s.ip, s.ended_at, s.end_reason,
                                  s.custom_name, s.location,
                                  b.kind AS by_kind, b.device_name AS by_device_name, b.user_agent AS by_user_agent,
                                  b.custom_name AS by_custom_name
                           FROM sessions s
                           LEFT JOIN sessions b ON b.id = s.ended_by_session AND b.account_id = s.account_id
                           WHERE s.account_id = $1 AND s.ended_at IS NOT NULL AND s.ended_at >= $2
                           ORDER BY s.ended_at DESC, s.id LIMIT $3";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(account_id)
            .bind(since)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// Housekeeping: marks sessions that ran out as expired, then deletes sessions and events
    /// that ended before `plan.retained_since`, so IP addresses are not kept forever, and
    /// login-throttle counters whose last failure is at or before `plan.throttle_stale_at`.
    pub async fn purge(&self, plan: Purge) -> Result<(u64, u64)> {
        let Purge { now, retained_since: purge_before, throttle_stale_at, devices_unused_since } = plan;
        let (_turn, begin) = self.begin_write(WritePath::Purge).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let ran_out = session_set_changed!(self, tx, sessions_ran_out_at = now);
            // "Session expired" in each owner's log, at the moment it ran out, as a request with
            // the expired token would have written it.
            sqlx::query(concat!(
                "INSERT INTO security_events (account_id, at, kind, target_id)
                 SELECT account_id, CASE WHEN expires_at < idle_expires_at THEN expires_at ELSE idle_expires_at END, $2, id
                 FROM sessions WHERE ",
                ran_out_at!("$1")
            ))
            .bind(now)
            .bind(EventKind::SessionExpired)
            .execute(&mut *tx)
            .await?;
            let expired = sqlx::query(concat!(
                "UPDATE sessions SET end_reason = $2,
                        ended_at = CASE WHEN expires_at < idle_expires_at THEN expires_at ELSE idle_expires_at END
                 WHERE ",
                ran_out_at!("$1")
            ))
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
            sqlx::query("DELETE FROM known_devices WHERE last_login_at < $1")
                .bind(devices_unused_since)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM login_throttle WHERE last_failure_at <= $1")
                .bind(throttle_stale_at)
                .execute(&mut *tx)
                .await?;
            // Challenges nobody answered in time (see `bound.rs`).
            sqlx::query("DELETE FROM dbsc_challenges WHERE created_at <= $1")
                .bind(now - super::bound::CHALLENGE_LIFETIME_MS)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            self.announce(ran_out);
            crate::ssr::metrics::sessions_ended(EndReason::Expired, expired);
            Ok((expired, deleted))
        })
    }
}
