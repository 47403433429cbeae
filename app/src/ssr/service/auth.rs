//! Sign-up, login, and the changes of credentials that re-check the password.

use super::throttle::Target;
use super::*;

/// The device a request comes from: the id it sent, or a new one.
struct Device {
    id: String,
    hash: Vec<u8>,
    /// Whether the client sent this id (a new one cannot be known to any account yet).
    sent: bool,
}

impl Device {
    fn of(client: &ClientInfo) -> Self {
        match client.device_id.as_deref().filter(|id| token::looks_like_token(id)) {
            Some(id) => Device { id: id.to_string(), hash: token::hash_token(id), sent: true },
            None => {
                let id = token::new_token();
                Device { hash: token::hash_token(&id), id, sent: false }
            }
        }
    }
}

/// Whose turn a request takes in the hashing queue: its client address (IPv6: its /64), so one
/// address's burst waits behind everyone else's next request.
fn queue_key(client: &ClientInfo) -> ThrottleKey {
    ThrottleKey::address(&client.ip)
}

/// The account a new session belongs to, as its password was verified.
struct Verified {
    account_id: AccountId,
    credentials_version: i64,
    /// A login (not the sign-up, whose browser is known from the start): a device new to the
    /// account leaves a message in its Inbox.
    announce_if_new: bool,
}

impl AuthService {
    /// Creates an account and logs the new browser in. Throttled per client address before
    /// anything costly runs; a new and a taken e-mail address cost the same (one hash each).
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
        let attempt = self.charge(&[ThrottleKey::signup(&client.ip)], Target { account_id: None, client }).await?;
        let queue = queue_key(client);
        if let Err(err) = self.hasher.check_new_password(password, &[&email, &name], "password", queue.as_str()).await {
            // Not an account, and nothing learnt about anyone's: it does not count.
            self.refund_all(&attempt).await?;
            return Err(err);
        }
        // Hashed before the e-mail is known to be free, so that a taken address answers no sooner.
        let hash = self.hasher.hash(password, queue.as_str()).await?;
        let device = device::describe(SessionKind::Browser, None, &client.user_agent);
        let created = Event::new(EventKind::AccountCreated, None, self.now()).from_client(&client.ip, device);
        let account_id = self.store.create_account(&email, &name, &hash, created).await?;
        crate::ssr::metrics::sign_up();
        let verified = Verified { account_id, credentials_version: 0, announce_if_new: false };
        self.start_session(&verified, false, SessionKind::Browser, None, client, Device::of(client)).await
    }

    /// Logs in. Unknown e-mail and wrong password answer the same and cost the same; so does a
    /// throttled attempt, known e-mail or not, and it never gets to the password check. A device
    /// that logged in to the account before is judged on its own counter, so strangers' failures
    /// on the account never hold the owner's devices back.
    pub async fn log_in(&self, req: &LoginRequest<'_>, client: &ClientInfo) -> Result<NewLogin, AppError> {
        use crate::ssr::metrics::{login, LoginResult};
        let result = self.try_log_in(req, client).await;
        login(match &result {
            Ok(_) => LoginResult::Ok,
            Err(AppError::InvalidCredentials) => LoginResult::Invalid,
            Err(AppError::TooManyAttempts) => LoginResult::Throttled,
            Err(_) => LoginResult::Error,
        });
        result
    }

    async fn try_log_in(&self, req: &LoginRequest<'_>, client: &ClientInfo) -> Result<NewLogin, AppError> {
        let email = login_email(req.email);
        // Too long to be anyone's, or holding what no address may hold (sign-up refuses control
        // characters; PostgreSQL refuses a NUL with an error): no guess is possible, nothing to count.
        if email.len() > limits::EMAIL_MAX
            || email.chars().any(char::is_control)
            || req.password.chars().count() > limits::PASSWORD_MAX
        {
            return Err(AppError::InvalidCredentials);
        }
        let device_name = match req.kind {
            SessionKind::App => Some(validate_device_name(req.device_name.unwrap_or(""))?),
            SessionKind::Browser => None,
        };
        let account = self.store.account_by_email(&email).await?;
        let device = Device::of(client);
        let known_device = match &account {
            Some(a) if device.sent => self.store.is_known_device(a.id, &device.hash).await?,
            _ => false,
        };
        let keys = [
            match &account {
                Some(a) if known_device => ThrottleKey::device(a.id, &device.hash),
                _ => ThrottleKey::account(&email),
            },
            ThrottleKey::address(&client.ip),
        ];
        let target = Target { account_id: account.as_ref().map(|a| a.id), client };
        self.refuse_if_throttled(&keys, target).await?;
        let hash = account.as_ref().map(|a| a.password_hash.as_str());
        let slot = self.hasher.slot(queue_key(client).as_str()).await?;
        let attempt = self.charge(&keys, target).await?;
        let ok = self.hasher.verify_in_slot(&slot, req.password, hash).await?;
        if ok && account.is_some() {
            self.refund_attempt(&attempt).await?;
        }
        drop(slot);
        let account = match (ok, account) {
            (true, Some(account)) => account,
            (_, account) => {
                // The charged attempt stays counted as a failure.
                let device = device::describe(req.kind, device_name.as_deref(), &client.user_agent);
                let event = Event::new(EventKind::LoginFailed, account.map(|a| a.id), self.now())
                    .from_client(&client.ip, device)
                    .detail(if req.kind == SessionKind::App { "app" } else { "browser" });
                self.store.record_event(&event).await?;
                return Err(AppError::InvalidCredentials);
            }
        };
        // The mail app stays logged in: its logins are always remembered.
        let remember = req.remember || req.kind == SessionKind::App;
        let verified = Verified {
            account_id: account.id,
            credentials_version: account.credentials_version,
            announce_if_new: true,
        };
        self.start_session(&verified, remember, req.kind, device_name, client, device).await
    }

    /// Creates the session of a verified login, unless the account's credentials changed since
    /// they were read (then the login fails as if the password had been wrong).
    async fn start_session(
        &self,
        verified: &Verified,
        auto_login: bool,
        kind: SessionKind,
        device_name: Option<String>,
        client: &ClientInfo,
        device: Device,
    ) -> Result<NewLogin, AppError> {
        let now = self.now();
        let token = token::new_token();
        let device_label = device::describe(kind, device_name.as_deref(), &client.user_agent);
        let session = NewSession {
            id: token::new_session_id(),
            token_hash: token::hash_token(&token),
            account_id: verified.account_id,
            kind,
            auto_login,
            device_name,
            ip: client.ip.clone(),
            location: self.locator.locate(&client.ip),
            user_agent: truncate(&client.user_agent, 512),
            now,
            idle_expires_at: now + self.policy.idle(auto_login),
            expires_at: now + self.policy.max_age(auto_login),
            credentials_version: verified.credentials_version,
            device_hash: Some(device.hash),
            announce_if_new: verified.announce_if_new,
            device_label,
        };
        let event = Event::new(EventKind::LoginSucceeded, Some(verified.account_id), now)
            .by(&session.id, &client.ip)
            .detail(format!("{}{}", kind.as_str(), if auto_login { ", stay logged in" } else { "" }));
        self.store.create_session(&session, self.policy.max_active, &event).await?;
        Ok(NewLogin {
            token,
            session_id: session.id,
            auto_login,
            max_age_secs: self.policy.max_age(auto_login) / 1000,
            device_id: device.id,
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
        let hash = self.new_password_hash(current, client, current_password, new_password, repeat).await?;
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let event = Event::new(EventKind::PasswordChanged, Some(current.account_id), self.now())
            .by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::PasswordChanged,
            only_auto_login: false,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: Some(&token_hash), demote: None }),
            new_password_hash: Some(&hash),
            forget_device_of: None,
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// Ends every remembered login (mail apps, "Stay logged in" browsers) except the current
    /// session, which gets a fresh token and, if it was remembered, stops being so.
    pub async fn reset_auto_login(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        password: &str,
    ) -> Result<String, AppError> {
        self.confirm_password(current, client, password, "password", "The password is incorrect.").await?;
        let now = self.now();
        let token = token::new_token();
        let token_hash = token::hash_token(&token);
        let demote = self.demotion(current, now);
        let event =
            Event::new(EventKind::AutoLoginReset, Some(current.account_id), now).by(&current.session_id, &client.ip);
        let plan = BulkEnd {
            reason: EndReason::AutoLoginReset,
            only_auto_login: true,
            keep: Some(Keep { session_id: &current.session_id, new_token_hash: Some(&token_hash), demote }),
            new_password_hash: None,
            forget_device_of: None,
        };
        self.store.end_sessions(current.account_id, &plan, &event).await?;
        self.ensure_still_active(&token).await?;
        Ok(token)
    }

    /// The hash of a new password, after the current one was re-entered correctly (on this
    /// session's counter) and the new one was repeated and passes the policy. For change password
    /// and "Secure my account" alike.
    pub(super) async fn new_password_hash(
        &self,
        current: &CurrentSession,
        client: &ClientInfo,
        current_password: &str,
        new_password: &str,
        repeat: &str,
    ) -> Result<String, AppError> {
        self.confirm_password(
            current,
            client,
            current_password,
            "current_password",
            "Your current password is incorrect.",
        )
        .await?;
        if new_password != repeat {
            return Err(AppError::validation("repeat_new_password", "The two new passwords do not match."));
        }
        let queue = queue_key(client);
        self.hasher
            .check_new_password(new_password, &[&current.email, &current.name], "new_password", queue.as_str())
            .await?;
        self.hasher.hash(new_password, queue.as_str()).await
    }

    /// The current session's new lifetime when auto-login is reset, if it was remembered.
    pub(super) fn demotion(&self, current: &CurrentSession, now: i64) -> Option<Demotion> {
        current.auto_login.then(|| Demotion {
            idle_expires_at: now + self.policy.idle_ms,
            expires_at: current.expires_at.min(now + self.policy.max_age_ms),
        })
    }

    /// Re-checks the password of a signed-in person. Counted on a counter of the session, so
    /// that a stolen session cannot guess the password at full speed, and failures strangers
    /// caused on the account never block the owner's own remedies.
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
        let keys = [ThrottleKey::reentry(&current.session_id)];
        let target = Target { account_id: Some(current.account_id), client };
        self.refuse_if_throttled(&keys, target).await?;
        let slot = self.hasher.slot(queue_key(client).as_str()).await?;
        let attempt = self.charge(&keys, target).await?;
        if !self.hasher.verify_in_slot(&slot, password, Some(&account.password_hash)).await? {
            drop(slot);
            let event = Event::new(EventKind::PasswordReentryFailed, Some(current.account_id), self.now())
                .by(&current.session_id, &client.ip)
                .detail(if field == "current_password" { "change password" } else { "reset auto-login" });
            self.store.record_event(&event).await?;
            return Err(AppError::validation(field, message));
        }
        self.refund_attempt(&attempt).await
    }

    /// A bulk change whose acting session ended meanwhile applies nothing; say so.
    pub(super) async fn ensure_still_active(&self, token: &str) -> Result<(), AppError> {
        match self.resolve_unbound(token).await? {
            Resolved::Active(_) => Ok(()),
            Resolved::Ended(reason) => Err(AppError::SessionEnded { reason }),
            Resolved::None => Err(AppError::Unauthorized),
        }
    }
}
