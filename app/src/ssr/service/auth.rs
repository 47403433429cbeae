//! Sign-up, login, and the changes of credentials that re-check the password.

use super::*;

impl AuthService {
    pub async fn sign_up(
        &self,
        name: &str,
        email: &str,
        password: &str,
        repeat: &str,
        client: &ClientInfo,
    ) -> Result<NewLogin, AppError> {
        let name = validate_name(name)?;
        let email = normalize_email(email)?;
        if password != repeat {
            return Err(AppError::validation("repeat_password", "The two passwords do not match."));
        }
        check_new_password(password, &[&email, &name], "password")?;
        if self.store.account_by_email(&email).await?.is_some() {
            return Err(crate::ssr::store::StoreError::DuplicateEmail.into());
        }
        let hash = self.hasher.hash(password).await?;
        let account_id = self.store.create_account(&email, &name, &hash, self.now()).await?;
        self.start_session(account_id, false, SessionKind::Browser, None, client).await
    }

    /// Logs in. Unknown e-mail and wrong password answer the same and cost the same; so does a
    /// throttled attempt, known e-mail or not, and it never gets to the password check.
    pub async fn log_in(&self, req: &LoginRequest<'_>, client: &ClientInfo) -> Result<NewLogin, AppError> {
        let email = req.email.trim().to_lowercase();
        // Too long to be anyone's: no guess is possible, so nothing to count.
        if email.len() > limits::EMAIL_MAX || req.password.chars().count() > limits::PASSWORD_MAX {
            return Err(AppError::InvalidCredentials);
        }
        let device_name = match req.kind {
            SessionKind::App => Some(validate_device_name(req.device_name.unwrap_or(""))?),
            SessionKind::Browser => None,
        };
        self.refuse_if_throttled(&email, client).await?;
        let account = self.store.account_by_email(&email).await?;
        let hash = account.as_ref().map(|a| a.password_hash.as_str());
        let slot = self.hasher.slot().await?;
        let attempt = self.charge_attempt(&email, client).await?;
        let ok = self.hasher.verify_in_slot(&slot, req.password, hash).await?;
        if ok && account.is_some() {
            self.refund_attempt(&attempt).await?;
        }
        drop(slot);
        let account = match (ok, account) {
            (true, Some(account)) => account,
            (_, account) => {
                // The charged attempt stays counted as a failure.
                let mut event = Event::new(EventKind::LoginFailed, account.map(|a| a.id), self.now())
                    .detail(if req.kind == SessionKind::App { "app" } else { "browser" });
                event.ip = Some(client.ip.clone());
                self.store.record_event(&event).await?;
                return Err(AppError::InvalidCredentials);
            }
        };
        // The mail app stays logged in: its logins are always remembered.
        let remember = req.remember || req.kind == SessionKind::App;
        self.start_session(account.id, remember, req.kind, device_name, client).await
    }

    pub(super) async fn start_session(
        &self,
        account_id: i64,
        auto_login: bool,
        kind: SessionKind,
        device_name: Option<String>,
        client: &ClientInfo,
    ) -> Result<NewLogin, AppError> {
        let now = self.now();
        let token = token::new_token();
        let session = NewSession {
            id: token::new_session_id(),
            token_hash: token::hash_token(&token),
            account_id,
            kind,
            auto_login,
            device_name,
            ip: client.ip.clone(),
            user_agent: truncate(&client.user_agent, 512),
            now,
            idle_expires_at: now + self.policy.idle(auto_login),
            expires_at: now + self.policy.max_age(auto_login),
        };
        let event = Event::new(EventKind::LoginSucceeded, Some(account_id), now)
            .by(&session.id, &client.ip)
            .detail(format!("{}{}", kind.as_str(), if auto_login { ", stay logged in" } else { "" }));
        self.store.create_session(&session, self.policy.max_active, &event).await?;
        Ok(NewLogin {
            token,
            session_id: session.id,
            auto_login,
            max_age_secs: self.policy.max_age(auto_login) / 1000,
        })
    }

    /// Changes the password: every other session ends, the current one gets a fresh token (the
    /// returned one), all in one transaction.
    pub async fn change_password(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        current_password: &str,
        new_password: &str,
        repeat: &str,
    ) -> Result<String, AppError> {
        self.confirm_password(current, client, current_password, "current_password", "Your current password is incorrect.").await?;
        if new_password != repeat {
            return Err(AppError::validation("repeat_new_password", "The two new passwords do not match."));
        }
        check_new_password(new_password, &[&current.email, &current.name], "new_password")?;
        let hash = self.hasher.hash(new_password).await?;
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let event = Event::new(EventKind::PasswordChanged, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::PasswordChanged,
            only_auto_login: false,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: &token_hash, demote: None }),
            new_password_hash: Some(&hash),
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// Ends every remembered login (mail apps, "Stay logged in" browsers) except the current
    /// session, which gets a fresh token and, if it was remembered, stops being so.
    pub async fn reset_auto_login(&self, current: &CurrentSession, client: &ClientInfo, password: &str) -> Result<String, AppError> {
        self.confirm_password(current, client, password, "password", "The password is incorrect.").await?;
        let now = self.now();
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let demote = current.auto_login.then(|| Demotion {
            idle_expires_at: now + self.policy.idle_ms,
            expires_at: current.expires_at.min(now + self.policy.max_age_ms),
        });
        let event = Event::new(EventKind::AutoLoginReset, Some(current.account_id), now).by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::AutoLoginReset,
            only_auto_login: true,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: &token_hash, demote }),
            new_password_hash: None,
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// Re-checks the password of a signed-in person. Counted like a login, so that a stolen
    /// session cannot be used to guess the password at full speed.
    pub(super) async fn confirm_password(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        password: &str,
        field: &str,
        message: &str,
    ) -> Result<(), AppError> {
        if password.chars().count() > limits::PASSWORD_MAX {
            return Err(AppError::validation(field, message));
        }
        let account = self.store.account_by_id(current.account_id).await?.ok_or(AppError::Unauthorized)?;
        self.refuse_if_throttled(&account.email, client).await?;
        let slot = self.hasher.slot().await?;
        let attempt = self.charge_attempt(&account.email, client).await?;
        if !self.hasher.verify_in_slot(&slot, password, Some(&account.password_hash)).await? {
            return Err(AppError::validation(field, message));
        }
        self.refund_attempt(&attempt).await
    }

    /// A bulk change whose acting session ended meanwhile applies nothing; say so.
    pub(super) async fn ensure_still_active(&self, token: &str) -> Result<(), AppError> {
        match self.authenticate(token, false).await? {
            Resolved::Active(_) => Ok(()),
            Resolved::Ended(reason) => Err(AppError::SessionEnded { reason }),
            Resolved::None => Err(AppError::Unauthorized),
        }
    }
}
