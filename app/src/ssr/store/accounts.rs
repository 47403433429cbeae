//! Accounts (e-mail, name, password hash) and the devices that have logged in to them.

use super::*;

#[derive(Clone, Debug, FromRow)]
pub struct AccountRow {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    /// Moves with every change of credentials; see [`NewSession::credentials_version`].
    pub credentials_version: i64,
    pub notify_new_devices: bool,
    /// When the password was last set (at sign-up, if never changed).
    pub password_changed_at: i64,
}

/// The columns of an [`AccountRow`]; a macro so that `concat!` can make static statements of it.
macro_rules! select_account {
    () => {
        "SELECT id, email, name, password_hash, credentials_version, notify_new_devices,
                COALESCE(password_changed_at, created_at) AS password_changed_at
         FROM accounts"
    };
}

impl Store {
    /// Creates an account. A taken e-mail is recognised by the insert itself (the only unique
    /// column it writes), not by a read before it that a parallel sign-up could race.
    /// `created` is the "Account created" event (its account is filled in here).
    pub async fn create_account(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
        created: Event,
    ) -> Result<AccountId> {
        let now = created.at;
        let (_turn, begin) = self.begin_write(WritePath::CreateAccount).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let inserted: std::result::Result<(AccountId,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO accounts (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(email)
            .bind(name)
            .bind(password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
            let (id,) = match inserted {
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Err(StoreError::DuplicateEmail),
                other => other?,
            };
            insert_event!(tx, &Event { account_id: Some(id), ..created });
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>> {
        const SQL: &str = concat!(select_account!(), " WHERE email = $1");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(email).fetch_optional(pool).await?))
    }

    pub async fn account_by_id(&self, id: AccountId) -> Result<Option<AccountRow>> {
        const SQL: &str = concat!(select_account!(), " WHERE id = $1");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }

    /// "Tell me about logins from new devices".
    pub async fn set_notify_new_devices(&self, id: AccountId, notify: bool) -> Result<()> {
        const SQL: &str = "UPDATE accounts SET notify_new_devices = $2 WHERE id = $1";
        let _turn = self.write_turn(WritePath::AccountSetting).await;
        with_pool!(self, |pool| {
            sqlx::query(SQL).bind(id).bind(notify).execute(pool).await?;
        });
        Ok(())
    }

    /// How many sessions of the account are active at `now`.
    pub async fn active_session_count(&self, id: AccountId, now: i64) -> Result<i64> {
        const SQL: &str = concat!("SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND ", active_at!("$2"));
        let (n,): (i64,) = with_pool!(self, |pool| sqlx::query_as(SQL).bind(id).bind(now).fetch_one(pool).await?);
        Ok(n)
    }

    /// Whether the device whose id hashes to `device_hash` has logged in to the account before.
    pub async fn is_known_device(&self, account_id: AccountId, device_hash: &[u8]) -> Result<bool> {
        const SQL: &str = "SELECT 1 FROM known_devices WHERE account_id = $1 AND device_hash = $2";
        let row: Option<(i32,)> = with_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(account_id)
            .bind(device_hash)
            .fetch_optional(pool)
            .await?);
        Ok(row.is_some())
    }
}
