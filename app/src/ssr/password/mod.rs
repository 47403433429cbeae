//! Password policy (NIST 800-63B) and hashing (argon2id on low-priority threads of its own, behind a
//! limit).

mod hashing;
mod policy;

pub use policy::check_new_password;

use crate::model::AppError;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Argon2, Params};
use hashing::{hash_with, HashThreads};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1).
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    /// Hashing takes ~20 MiB and tens of milliseconds: at most this many at once, so a login
    /// storm queues here instead of starving the rest of the server.
    limit: Arc<Semaphore>,
    /// Verified when the e-mail is unknown, so that an unknown e-mail and a wrong password take
    /// the same time.
    dummy_hash: Arc<String>,
    threads: HashThreads,
}

impl PasswordHasherPool {
    pub fn new(concurrency: usize) -> Self {
        Self::with_params(concurrency, Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"))
    }

    /// Cheaper parameters for tests that create many accounts. Never used by the server binary.
    pub fn for_tests() -> Self {
        Self::with_params(4, Params::new(1024, 1, 1, None).expect("valid argon2 params"))
    }

    fn with_params(concurrency: usize, params: Params) -> Self {
        let dummy_hash = hash_with(&params, "postern dummy password for timing").expect("hash dummy");
        let concurrency = concurrency.max(1);
        Self {
            params,
            limit: Arc::new(Semaphore::new(concurrency)),
            dummy_hash: Arc::new(dummy_hash),
            threads: HashThreads::start(concurrency),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self.limit.acquire().await.map_err(|_| AppError::Internal)?;
        let params = self.params.clone();
        let password = password.to_owned();
        self.threads.run(move || hash_with(&params, &password)).await?
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is no account, so
    /// both cases cost the same.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let _permit = self.limit.acquire().await.map_err(|_| AppError::Internal)?;
        self.verify_holding_permit(password, hash).await
    }

    /// A hashing slot, held across a throttled login: the attempt is counted, the password
    /// checked, and a success taken back off the count, all within the slot. So attempts counted
    /// but not yet settled are never more than the slots, however many requests queue for one,
    /// and honest parallel logins never add up to a lock-out.
    pub async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
        self.limit.acquire().await.map_err(|_| AppError::Internal)
    }

    /// [`verify`](Self::verify) inside a slot taken with [`slot`](Self::slot).
    pub async fn verify_in_slot(
        &self,
        _slot: &tokio::sync::SemaphorePermit<'_>,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, AppError> {
        self.verify_holding_permit(password, hash).await
    }

    async fn verify_holding_permit(&self, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.map(str::to_owned).unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let password = password.to_owned();
        let ok = self
            .threads
            .run(move || {
                let parsed = PasswordHash::new(&hash).map_err(|_| AppError::Internal)?;
                Ok::<bool, AppError>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await??;
        Ok(known && ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let pool = PasswordHasherPool::new(2);
        let hash = pool.hash("Lighthouse-Quartz-Maple-42").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(pool.verify("Lighthouse-Quartz-Maple-42", Some(&hash)).await.unwrap());
        assert!(!pool.verify("lighthouse-quartz-maple-42", Some(&hash)).await.unwrap());
        assert!(!pool.verify("Lighthouse-Quartz-Maple-42", None).await.unwrap());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_at_the_lowest_priority_and_leaves_the_caller_as_it_was() {
        let pool = PasswordHasherPool::for_tests();
        // SAFETY: plain system calls on the calling thread.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        assert_eq!(pool.threads.run(nice).await.unwrap(), 19);
        assert_eq!(nice(), before);
    }
}
