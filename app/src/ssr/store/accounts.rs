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
}

impl Store {
    /// Creates an account. A taken e-mail is recognised by the insert itself (the only unique
    /// column it writes), not by a read before it that a parallel sign-up could race.
    pub async fn create_account(&self, email: &str, name: &str, password_hash: &str, now: i64) -> Result<AccountId> {
        let begin = self.begin_write();
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
            insert_event!(tx, &Event::new(EventKind::AccountCreated, Some(id), now));
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>> {
        const SQL: &str = "SELECT id, email, name, password_hash, credentials_version FROM accounts WHERE email = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(email).fetch_optional(pool).await?))
    }

    pub async fn account_by_id(&self, id: AccountId) -> Result<Option<AccountRow>> {
        const SQL: &str = "SELECT id, email, name, password_hash, credentials_version FROM accounts WHERE id = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
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
