//! The account's Inbox: messages the security centre leaves there, kept until their owner
//! deletes them. Every query is scoped by the owner's account: another account's message is
//! simply not found.

use super::*;
use crate::model::MessageReply;

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct MessageRow {
    pub id: i64,
    pub at: i64,
    pub session_id: SessionId,
    /// What the message called the device when it was left; see `custom_name`.
    pub device: String,
    pub ip: String,
    /// The session's name if its owner renamed it since, and where it logged in from.
    pub custom_name: Option<String>,
    pub location: Option<String>,
    pub read_at: Option<i64>,
    pub reply: Option<MessageReply>,
}

/// The columns of a [`MessageRow`]; a macro so that `concat!` can make static statements of it.
macro_rules! select_message {
    () => {
        "SELECT m.id, m.at, m.session_id, m.device, m.ip, s.custom_name, s.location, m.read_at, m.reply
         FROM messages m LEFT JOIN sessions s ON s.id = m.session_id AND s.account_id = m.account_id"
    };
}

impl Store {
    /// The account's messages, newest first.
    pub async fn messages(&self, account_id: AccountId) -> Result<Vec<MessageRow>> {
        const SQL: &str = concat!(select_message!(), " WHERE m.account_id = $1 ORDER BY m.at DESC, m.id DESC");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).fetch_all(pool).await?))
    }

    pub async fn message(&self, account_id: AccountId, id: i64) -> Result<Option<MessageRow>> {
        const SQL: &str = concat!(select_message!(), " WHERE m.account_id = $1 AND m.id = $2");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(id).fetch_optional(pool).await?))
    }

    /// Marks the message read with the owner's `reply` ("confirmed", "reported"); `false` if the
    /// account has no such message.
    pub async fn answer_message(&self, account_id: AccountId, id: i64, reply: MessageReply, now: i64) -> Result<bool> {
        const SQL: &str =
            "UPDATE messages SET read_at = COALESCE(read_at, $3), reply = $4 WHERE account_id = $1 AND id = $2";
        self.change_message(SQL, account_id, id, Some((now, reply))).await
    }

    /// The message about the session `session_id`, if the account has one.
    pub async fn message_about(&self, account_id: AccountId, session_id: &SessionId) -> Result<Option<MessageRow>> {
        const SQL: &str =
            concat!(select_message!(), " WHERE m.account_id = $1 AND m.session_id = $2 ORDER BY m.id LIMIT 1");
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(account_id).bind(session_id).fetch_optional(pool).await?))
    }

    /// Deletes the message; `false` if the account has no such message.
    pub async fn delete_message(&self, account_id: AccountId, id: i64) -> Result<bool> {
        self.change_message("DELETE FROM messages WHERE account_id = $1 AND id = $2", account_id, id, None).await
    }

    /// Runs `sql` ($1 account, $2 message, and $3 `now`, $4 the reply where given) and recounts
    /// the unread ones.
    async fn change_message(
        &self,
        sql: &'static str,
        account_id: AccountId,
        id: i64,
        answer: Option<(i64, MessageReply)>,
    ) -> Result<bool> {
        let (_turn, begin) = self.begin_write(WritePath::Message).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            // The account row first, as every other writer of messages does: on PostgreSQL the
            // recount below must not run beside another change of the same Inbox.
            sqlx::query("UPDATE accounts SET unread_messages = unread_messages WHERE id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            let mut query = sqlx::query(sql).bind(account_id).bind(id);
            if let Some((now, reply)) = answer {
                query = query.bind(now).bind(reply);
            }
            let done = query.execute(&mut *tx).await?;
            unread_changed!(tx, account_id);
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
