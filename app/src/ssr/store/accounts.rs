//! Accounts: e-mail, name, password hash.

use super::*;

#[derive(Clone, Debug, FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

impl Store {
    pub async fn create_account(&self, email: &str, name: &str, password_hash: &str, now: i64) -> Result<i64> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO accounts (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(email)
            .bind(name)
            .bind(password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_event!(tx, &Event::new(EventKind::AccountCreated, Some(id), now));
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>> {
        const SQL: &str = "SELECT id, email, name, password_hash FROM accounts WHERE email = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(email).fetch_optional(pool).await?))
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>> {
        const SQL: &str = "SELECT id, email, name, password_hash FROM accounts WHERE id = $1";
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }
}
