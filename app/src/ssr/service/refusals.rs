//! Refused (throttled) attempts on their way to the security log: aggregated per account and
//! throttle window, so that a flood of requests becomes a handful of writes, not one each.

use crate::model::AccountId;
use crate::ssr::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A window's count is written at most this often per instance (its first refusal at once, so
/// that the owner sees it straight away).
const WRITE_EVERY_MS: i64 = 10_000;
/// Windows kept in memory at most; past that, each refusal is written by itself rather than let
/// memory grow with the accounts an attacker names.
const MAX_PENDING: usize = 10_000;

#[derive(Clone, Default)]
pub struct RefusalLog {
    pending: Arc<Mutex<HashMap<(AccountId, i64), Pending>>>,
}

struct Pending {
    unwritten: i64,
    last_ip: String,
    last_at: i64,
    written_at: i64,
}

impl RefusalLog {
    /// Counts one refused attempt on `account_id` from `ip` at `now`.
    pub async fn record(
        &self,
        store: &Store,
        account_id: AccountId,
        ip: &str,
        now: i64,
        window_ms: i64,
    ) -> Result<(), StoreError> {
        let window_start = now - now.rem_euclid(window_ms.max(1));
        let write = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let full = pending.len() >= MAX_PENDING;
            match pending.get_mut(&(account_id, window_start)) {
                Some(p) => {
                    p.unwritten += 1;
                    p.last_ip = ip.to_string();
                    p.last_at = now;
                    (now - p.written_at >= WRITE_EVERY_MS).then(|| {
                        p.written_at = now;
                        std::mem::take(&mut p.unwritten)
                    })
                }
                None if full => Some(1),
                None => {
                    pending.insert(
                        (account_id, window_start),
                        Pending { unwritten: 0, last_ip: ip.to_string(), last_at: now, written_at: now },
                    );
                    Some(1)
                }
            }
        };
        match write {
            Some(count) if count > 0 => store.record_refused(account_id, window_start, count, now, ip).await,
            _ => Ok(()),
        }
    }

    /// Writes every count not yet written and forgets windows that ended before `now`.
    pub async fn flush(&self, store: &Store, now: i64, window_ms: i64) -> Result<(), StoreError> {
        let due: Vec<(AccountId, i64, i64, i64, String)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let due = pending
                .iter_mut()
                .filter(|(_, p)| p.unwritten > 0)
                .map(|(&(account_id, window_start), p)| {
                    p.written_at = now;
                    (account_id, window_start, std::mem::take(&mut p.unwritten), p.last_at, p.last_ip.clone())
                })
                .collect();
            pending.retain(|&(_, window_start), _| window_start + window_ms > now);
            due
        };
        for (account_id, window_start, count, at, ip) in due {
            store.record_refused(account_id, window_start, count, at, &ip).await?;
        }
        Ok(())
    }
}
