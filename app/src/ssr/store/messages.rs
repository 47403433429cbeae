//! The account's Inbox: messages the security centre leaves there, kept until their owner
//! deletes them. Every query is scoped by the owner's account: another account's message is
//! simply not found.

use super::*;

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct MessageRow {
    pub id: i64,
    pub at: i64,
    pub session_id: SessionId,
    pub device: String,
    pub ip: String,
    pub read_at: Option<i64>,
}

/// The columns of a [`MessageRow`]; a macro so that `concat!` can make static statements of it.
macro_rules! select_message {
    () => {
        "SELECT id, at, session_id, device, ip, read_at FROM messages"
    };
}

impl Store {
    /// The account's messages, newest first.
    pub async fn messages(&self, account_id: AccountId) -> Result<Vec<MessageRow>> {
        const SQL: &str = concat!(select_message!(), " WHERE account_id = $1 ORDER BY at DESC, id DESC");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).fetch_all(pool).await?))
    }

    pub async fn message(&self, account_id: AccountId, id: i64) -> Result<Option<MessageRow>> {
        const SQL: &str = concat!(select_message!(), " WHERE account_id = $1 AND id = $2");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(id).fetch_optional(pool).await?))
    }

    /// Marks the message read; `false` if the account has no such message.
    pub async fn mark_message_read(&self, account_id: AccountId, id: i64, now: i64) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET read_at = COALESCE(read_at, $3) WHERE account_id = $1 AND id = $2";
        self.change_message(SQL, account_id, id, Some(now)).await
    }

    /// Deletes the message; `false` if the account has no such message.
    pub async fn delete_message(&self, account_id: AccountId, id: i64) -> Result<bool> {
        self.change_message("DELETE FROM messages WHERE account_id = $1 AND id = $2", account_id, id, None).await
    }

    /// Runs `sql` ($1 account, $2 message, $3 `now` where given) and recounts the unread ones.
    async fn change_message(
        &self,
        sql: &'static str,
        account_id: AccountId,
        id: i64,
        now: Option<i64>,
    ) -> Result<bool> {
        let begin = self.begin_write();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let mut query = sqlx::query(sql).bind(account_id).bind(id);
            if let Some(now) = now {
                query = query.bind(now);
            }
            let done = query.execute(&mut *tx).await?;
            unread_changed!(tx, account_id);
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
