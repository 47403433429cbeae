//! Device-bound sessions (DBSC): single-use challenges, the key a session is bound to (once), and
//! the short-lived cookie a bound session needs. Verifying proofs is `ssr::dbsc`'s; this is only
//! what must hold in the database, so that any instance can take any step.

use super::*;

/// A challenge older than this is refused (and purged).
pub const CHALLENGE_LIFETIME_MS: i64 = 60_000;

/// Deletes the session's challenge if it is still fresh; whether it was there. Deleting is what
/// makes it single-use, on every instance at once.
macro_rules! consume_challenge {
    ($tx:expr, $session_id:expr, $challenge:expr, $now:expr) => {{
        let done =
            sqlx::query("DELETE FROM dbsc_challenges WHERE challenge = $1 AND session_id = $2 AND created_at > $3")
                .bind($challenge)
                .bind($session_id)
                .bind($now - CHALLENGE_LIFETIME_MS)
                .execute(&mut *$tx)
                .await?;
        done.rows_affected() == 1
    }};
}

/// What a refresh needs to know about a session.
#[derive(Clone, Debug, FromRow)]
pub struct BoundRow {
    pub account_id: AccountId,
    pub bound_key: Option<Vec<u8>>,
    pub ended_at: Option<i64>,
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

/// The outcome of consuming a challenge and binding or refreshing with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindOutcome {
    Done,
    /// No such challenge for this session, already used, or over a minute old.
    ChallengeRefused,
    /// Registration only: the session is bound already (it registers once) or not active.
    NotBindable,
}

/// A new short-lived cookie: its hash and when it stops counting.
#[derive(Clone, Copy, Debug)]
pub struct BoundCookie<'a> {
    pub hash: &'a [u8],
    pub expires_at: i64,
}

impl Store {
    /// Issues `challenge` to the session `session_id`.
    pub async fn add_challenge(&self, session_id: &SessionId, challenge: &str, now: i64) -> Result<()> {
        const SQL: &str = "INSERT INTO dbsc_challenges (challenge, session_id, created_at) VALUES ($1, $2, $3)";
        let _turn = self.write_turn(WritePath::DeviceBinding).await;
        with_pool!(self, |pool| {
            sqlx::query(SQL).bind(challenge).bind(session_id).bind(now).execute(pool).await?;
            Ok(())
        })
    }

    /// The session a challenge was issued to, if it is still waiting for its answer.
    pub async fn challenge_session(&self, challenge: &str) -> Result<Option<SessionId>> {
        const SQL: &str = "SELECT session_id FROM dbsc_challenges WHERE challenge = $1";
        let row: Option<(SessionId,)> =
            with_pool!(self, |pool| sqlx::query_as(SQL).bind(challenge).fetch_optional(pool).await?);
        Ok(row.map(|(id,)| id))
    }

    pub async fn bound_session(&self, session_id: &SessionId) -> Result<Option<BoundRow>> {
        const SQL: &str =
            "SELECT account_id, bound_key, ended_at, idle_expires_at, expires_at FROM sessions WHERE id = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(session_id).fetch_optional(pool).await?))
    }

    /// Registration: consumes the challenge (whatever happens next: it is single-use) and binds the
    /// active, not yet bound session to `key`, with its first short-lived cookie.
    pub async fn bind_session(
        &self,
        session_id: &SessionId,
        challenge: &str,
        key: &[u8],
        cookie: BoundCookie<'_>,
        now: i64,
    ) -> Result<BindOutcome> {
        const BIND: &str = concat!(
            "UPDATE sessions SET bound_key = $2, bound_at = $3, bound_cookie_hash = $4, bound_cookie_expires_at = $5
             WHERE id = $1 AND bound_key IS NULL AND ",
            active_at!("$3"),
            " RETURNING account_id"
        );
        let (_turn, begin) = self.begin_write(WritePath::DeviceBinding).await;
        let account = with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            if !consume_challenge!(tx, session_id, challenge, now) {
                tx.commit().await?;
                return Ok(BindOutcome::ChallengeRefused);
            }
            let bound: Option<(AccountId,)> = sqlx::query_as(BIND)
                .bind(session_id)
                .bind(key)
                .bind(now)
                .bind(cookie.hash)
                .bind(cookie.expires_at)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((account_id,)) = bound else {
                tx.commit().await?;
                return Ok(BindOutcome::NotBindable);
            };
            // The list's "Device-bound" badge appears on the account's other open pages.
            session_set_changed!(self, tx, account = account_id);
            tx.commit().await?;
            Ok::<_, StoreError>(account_id)
        })?;
        self.announce([account]);
        Ok(BindOutcome::Done)
    }

    /// Refresh: consumes the challenge and gives the bound, active session a new short-lived
    /// cookie. The one it replaces keeps counting until its own expiry (requests sent with it
    /// may still be on their way), never longer.
    pub async fn refresh_bound_cookie(
        &self,
        session_id: &SessionId,
        challenge: &str,
        cookie: BoundCookie<'_>,
        now: i64,
    ) -> Result<BindOutcome> {
        const REFRESH: &str = concat!(
            "UPDATE sessions SET bound_previous_hash = bound_cookie_hash,
                                 bound_previous_expires_at = bound_cookie_expires_at,
                                 bound_cookie_hash = $2, bound_cookie_expires_at = $3
             WHERE id = $1 AND bound_key IS NOT NULL AND ",
            active_at!("$4")
        );
        let (_turn, begin) = self.begin_write(WritePath::DeviceBinding).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            if !consume_challenge!(tx, session_id, challenge, now) {
                tx.commit().await?;
                return Ok(BindOutcome::ChallengeRefused);
            }
            let done = sqlx::query(REFRESH)
                .bind(session_id)
                .bind(cookie.hash)
                .bind(cookie.expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(if done.rows_affected() == 1 { BindOutcome::Done } else { BindOutcome::NotBindable })
        })
    }
}
