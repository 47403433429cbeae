//! Login-throttle counters, charged before a password is checked and refunded on success.

use super::*;

/// A throttle counter: failed attempts of one kind for one key (see `service::ThrottleKey`).
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct ThrottleRow {
    pub key: String,
    pub failures: i64,
    /// Unix milliseconds; 0 for a counter that never failed.
    pub last_failure_at: i64,
}

/// One charged attempt to take back, see [`Store::refund_login_attempt`].
#[derive(Clone, Copy, Debug)]
pub struct Refund<'a> {
    pub key: &'a str,
    pub charged_at: i64,
    pub failures_after_charge: i64,
    pub previous_failure_at: i64,
}

impl Store {
    /// Charges one attempt to each of `charges` (a key and the time at or before which its last
    /// failure is stale, so that the counter starts again from one) as a failure, until it is
    /// refunded, unless `allow` refuses it given the counters as they stand. Locking the rows,
    /// checking and charging happen in one write transaction, so parallel attempts cannot all pass
    /// the check before any of them is counted. Returns the counters as they were, or `None` if
    /// refused (then nothing is written).
    pub async fn charge_login_attempt(
        &self,
        charges: &[(&str, i64)],
        now: i64,
        mut allow: impl FnMut(&[ThrottleRow]) -> bool,
    ) -> Result<Option<Vec<ThrottleRow>>> {
        // One lock order for everyone (PostgreSQL), so that two attempts never deadlock.
        let mut charges = charges.to_vec();
        charges.sort_unstable();
        charges.dedup_by_key(|(key, _)| *key);
        let (_turn, begin) = self.begin_write(WritePath::ThrottleCharge).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let mut rows = Vec::with_capacity(charges.len());
            for (key, _) in &charges {
                // Creates the row or locks it (the no-op update waits for concurrent chargers)
                // and reads it as it stands, in one statement on both backends.
                let row: ThrottleRow = sqlx::query_as(
                    "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 0, 0)
                     ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures
                     RETURNING key, failures, last_failure_at",
                )
                .bind(*key)
                .fetch_one(&mut *tx)
                .await?;
                rows.push(row);
            }
            if !allow(&rows) {
                tx.rollback().await?;
                return Ok(None);
            }
            for (key, stale_at) in &charges {
                sqlx::query(
                    "UPDATE login_throttle
                     SET failures = CASE WHEN last_failure_at <= $3 THEN 1 ELSE failures + 1 END, last_failure_at = $2
                     WHERE key = $1",
                )
                .bind(*key)
                .bind(now)
                .bind(*stale_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Some(rows))
        })
    }

    /// Takes back attempts charged by [`Store::charge_login_attempt`] that succeeded: `reset`
    /// counters are cleared; each `refund` loses the one failure it was charged and, when no
    /// other attempt was charged after it, gets its previous failure time back.
    pub async fn refund_login_attempt(&self, refunds: &[Refund<'_>], reset: &[&str]) -> Result<()> {
        // The same lock order as `charge_login_attempt`, or the two could deadlock.
        let mut keys: Vec<(&str, Option<&Refund>)> =
            refunds.iter().map(|r| (r.key, Some(r))).chain(reset.iter().map(|k| (*k, None))).collect();
        keys.sort_unstable_by_key(|(key, _)| *key);
        let (_turn, begin) = self.begin_write(WritePath::ThrottleRefund).await;
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            for (key, refund) in &keys {
                let Some(r) = refund else {
                    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(*key).execute(&mut *tx).await?;
                    continue;
                };
                // SET expressions read the row as it was, on both backends.
                sqlx::query(
                    "UPDATE login_throttle
                     SET failures = failures - 1,
                         last_failure_at = CASE WHEN last_failure_at = $2 AND failures = $3 THEN $4 ELSE last_failure_at END
                     WHERE key = $1",
                )
                .bind(r.key)
                .bind(r.charged_at)
                .bind(r.failures_after_charge)
                .bind(r.previous_failure_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM login_throttle WHERE key = $1 AND failures <= 0")
                    .bind(r.key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A throttle counter, for tests and diagnostics.
    pub async fn throttle_row(&self, key: &(impl AsRef<str> + ?Sized)) -> Result<Option<ThrottleRow>> {
        const SQL: &str = "SELECT key, failures, last_failure_at FROM login_throttle WHERE key = $1";
        let key = key.as_ref();
        Ok(with_pool!(self, |pool| sqlx::query_as(SQL).bind(key).fetch_optional(pool).await?))
    }
}
