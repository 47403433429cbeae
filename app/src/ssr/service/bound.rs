//! Device-bound sessions (DBSC), the rules: a login over HTTPS is offered registration with a
//! fresh challenge; the browser's proof binds the session to its key, once; after that the
//! session needs a short-lived cookie besides its session cookie, which only a new proof with
//! that key renews. The proofs are checked by `ssr::dbsc`; the challenges live in the database, so
//! any instance can take any step.

use super::*;
use crate::ssr::dbsc::{self, ProofError};
use crate::ssr::store::{BindOutcome, BoundCookie, BoundRow};

/// Why a registration or refresh was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Not a challenge this session was given, already used, or over a minute old.
    #[error("the proof answers no open challenge of this session")]
    Challenge,
    /// Registration: the session is bound already (it registers once), ended, or the cookie
    /// that came with the request belongs to another session.
    #[error("this session cannot be bound")]
    NotBindable,
    /// The database could not be asked: nothing changed (503).
    #[error(transparent)]
    App(#[from] AppError),
}

/// A binding that succeeded: the session and its first short-lived cookie.
#[derive(Clone, Debug)]
pub struct Bound {
    pub session_id: SessionId,
    pub cookie: String,
    pub max_age_secs: i64,
}

/// What a refresh without a proof gets.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshStep {
    /// Sign this.
    Challenge(String),
    /// The session has ended (or never was bound): the browser should drop it.
    Terminate,
}

impl AuthService {
    /// A fresh challenge for the session's registration or refresh.
    pub async fn new_challenge(&self, session_id: &SessionId) -> Result<String, AppError> {
        let challenge = token::new_token();
        self.store.add_challenge(session_id, &challenge, self.now()).await?;
        Ok(challenge)
    }

    /// Registration: `proof` must answer a challenge issued to a session (the login's), under a
    /// minute old and unused; `cookie_session` is the session of the request's session cookie, if
    /// it had one, which must be that same session.
    pub async fn bind_session(&self, proof: &str, cookie_session: Option<&SessionId>) -> Result<Bound, BindError> {
        let proof = dbsc::verify_registration(proof)?;
        let session_id = self.store.challenge_session(&proof.challenge).await.map_err(AppError::from)?;
        let session_id = session_id.ok_or(BindError::Challenge)?;
        if cookie_session.is_some_and(|s| *s != session_id) {
            return Err(BindError::NotBindable);
        }
        let (cookie, hash, expires_at) = self.new_bound_cookie();
        let outcome = self
            .store
            .bind_session(
                &session_id,
                &proof.challenge,
                &proof.key,
                BoundCookie { hash: &hash, expires_at },
                self.now(),
            )
            .await
            .map_err(AppError::from)?;
        match outcome {
            BindOutcome::Done => Ok(self.bound(session_id, cookie)),
            BindOutcome::ChallengeRefused => Err(BindError::Challenge),
            BindOutcome::NotBindable => Err(BindError::NotBindable),
        }
    }

    /// A refresh without a proof: a challenge for a bound, active session; for any other, the
    /// end of it.
    pub async fn refresh_step(&self, session_id: &SessionId) -> Result<RefreshStep, AppError> {
        let row = match token::looks_like_session_id(session_id.as_str()) {
            true => self.store.bound_session(session_id).await?,
            false => None,
        };
        let live = row.is_some_and(|r| live_key(&r, self.now()).is_some());
        Ok(if live { RefreshStep::Challenge(self.new_challenge(session_id).await?) } else { RefreshStep::Terminate })
    }

    /// A refresh with a proof: verified against the key the session registered, for one of its
    /// open challenges; then a new short-lived cookie. A proof that fails is written to the
    /// account's security log ("Device check failed", with the address). `Ok(None)`: the session
    /// ended meanwhile.
    pub async fn refresh_binding(
        &self,
        session_id: &SessionId,
        proof: &str,
        client: &ClientInfo,
    ) -> Result<Option<Bound>, BindError> {
        if !token::looks_like_session_id(session_id.as_str()) {
            return Ok(None);
        }
        let Some(row) = self.store.bound_session(session_id).await.map_err(AppError::from)? else { return Ok(None) };
        let Some(key) = live_key(&row, self.now()) else { return Ok(None) };
        let refused = |err: BindError| async {
            let event = Event::new(EventKind::DeviceCheckFailed, Some(row.account_id), self.now())
                .target(session_id)
                .from_client(&client.ip, device::describe(SessionKind::Browser, None, &client.user_agent))
                .detail(err.to_string());
            self.store.record_event(&event).await.map_err(AppError::from)?;
            Err(err)
        };
        let proof = match dbsc::verify_refresh(proof, key) {
            Ok(proof) => proof,
            Err(err) => return refused(err.into()).await,
        };
        let (cookie, hash, expires_at) = self.new_bound_cookie();
        let outcome = self
            .store
            .refresh_bound_cookie(session_id, &proof.challenge, BoundCookie { hash: &hash, expires_at }, self.now())
            .await
            .map_err(AppError::from)?;
        match outcome {
            BindOutcome::Done => Ok(Some(self.bound(session_id.clone(), cookie))),
            BindOutcome::ChallengeRefused => refused(BindError::Challenge).await,
            BindOutcome::NotBindable => Ok(None),
        }
    }

    fn bound(&self, session_id: SessionId, cookie: String) -> Bound {
        Bound { session_id, cookie, max_age_secs: self.policy.bound_cookie_ms / 1000 }
    }

    /// A new short-lived cookie: (value, its hash, until when it counts).
    fn new_bound_cookie(&self) -> (String, Vec<u8>, i64) {
        let cookie = token::new_token();
        let hash = token::hash_token(&cookie);
        (cookie, hash, self.now() + self.policy.bound_cookie_ms)
    }
}

/// The key a session registered, while it is bound and active at `now` (the requests' deadline
/// rule, `expired_at`).
fn live_key(row: &BoundRow, now: i64) -> Option<&[u8]> {
    let ran_out = super::sessions::expired_at(row.expires_at, row.idle_expires_at, now).is_some();
    row.bound_key.as_deref().filter(|_| row.ended_at.is_none() && !ran_out)
}
