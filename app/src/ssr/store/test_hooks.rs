//! Raw access for tests only (fault injection, inspecting stored bytes).

use super::*;

impl Store {
    /// Runs raw SQL. For tests only (fault injection, inspecting stored bytes).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &'static str) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::raw_sql(sql).execute(pool).await?;
        });
        Ok(())
    }

    /// Every stored token hash and session column, for tests that prove no raw token is kept.
    #[doc(hidden)]
    pub async fn dump_sessions_text(&self) -> Result<Vec<String>> {
        const SQL: &str = "SELECT id, token_hash, ip, user_agent, COALESCE(device_name, '') FROM sessions";
        let rows: Vec<(String, Vec<u8>, String, String, String)> =
            with_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, hash, ip, ua, dev)| format!("{id}|{}|{ip}|{ua}|{dev}", String::from_utf8_lossy(&hash)))
            .collect())
    }
}
