//! Bulk inserts for the benchmark's seeding program (`server/examples/postern-seed.rs`), which needs
//! a million sessions in seconds, not one transaction per row. They write the same tables with the
//! same types as [`Store::create_account`] and [`Store::create_session`], so a migration that
//! changes those tables has to change these too, or the seeding fails loudly.
//!
//! Not for the product: nothing here bumps `sessions_version`, applies the session limit, checks
//! credentials versions, remembers devices or writes security events. For a fresh database only.

use super::*;

use std::collections::HashMap;

/// Rows per INSERT statement: a session row binds 11 values, well within SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Creates accounts, each `(email, name)`, all with the same password hash, in one transaction.
    /// Returns their ids in the order given.
    #[doc(hidden)]
    pub async fn seed_accounts(
        &self,
        accounts: &[(String, String)],
        password_hash: &str,
        now: i64,
    ) -> Result<Vec<AccountId>> {
        let (_turn, begin) = self.begin_write(WritePath::Seed).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let mut ids = Vec::with_capacity(accounts.len());
            for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
                let mut insert =
                    sqlx::QueryBuilder::new("INSERT INTO accounts (email, name, password_hash, created_at) ");
                insert.push_values(chunk, |mut row, (email, name)| {
                    row.push_bind(email.clone())
                        .push_bind(name.clone())
                        .push_bind(password_hash.to_owned())
                        .push_bind(now);
                });
                // The order of RETURNING rows is not promised: match them up by e-mail.
                insert.push(" RETURNING id, email");
                let rows: Vec<(AccountId, String)> = insert.build_query_as().fetch_all(&mut *tx).await?;
                let by_email: HashMap<String, AccountId> = rows.into_iter().map(|(id, email)| (email, id)).collect();
                for (email, _) in chunk {
                    let id = by_email.get(email).copied().ok_or_else(|| StoreError::Other(sqlx::Error::RowNotFound))?;
                    ids.push(id);
                }
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// Inserts sessions as [`Store::create_session`] would (created and last active at `now`), in
    /// one transaction, without its checks and side effects (see the module's comment).
    #[doc(hidden)]
    pub async fn seed_sessions(&self, sessions: &[NewSession]) -> Result<()> {
        let (_turn, begin) = self.begin_write(WritePath::Seed).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            for chunk in sessions.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO sessions (id, token_hash, account_id, kind, auto_login, device_name, ip, user_agent,
                                           created_at, last_active_at, idle_expires_at, expires_at) ",
                );
                insert.push_values(chunk, |mut row, s| {
                    row.push_bind(s.id.clone())
                        .push_bind(s.token_hash.clone())
                        .push_bind(s.account_id)
                        .push_bind(s.kind)
                        .push_bind(s.auto_login)
                        .push_bind(s.device_name.clone())
                        .push_bind(s.ip.clone())
                        .push_bind(s.user_agent.clone())
                        .push_bind(s.now)
                        .push_bind(s.now)
                        .push_bind(s.idle_expires_at)
                        .push_bind(s.expires_at);
                });
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// After seeding: leaves the database as one that grew to this size by itself would be. SQLite
    /// moves the write-ahead log into the database file; PostgreSQL gets what autovacuum would
    /// have done (the planner's statistics, the visibility map).
    #[doc(hidden)]
    pub async fn seed_finish(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
            }
            Backend::Postgres(pool) => {
                sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }
}
