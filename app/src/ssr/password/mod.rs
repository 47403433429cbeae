//! Password policy (NIST 800-63B) and hashing (argon2id on low-priority threads of its own, behind a
//! limit). Both CPU-heavy steps, the strength estimate and the hash, run on those threads, never on
//! an async worker.

mod hashing;
mod policy;
mod queue;

pub use policy::{estimator_input, ESTIMATOR_PREFIX_CHARS};
pub use queue::HashSlot;

use crate::model::AppError;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Argon2, Params};
use hashing::{hash_with, HashThreads};
use queue::FairQueue;
use std::sync::Arc;
use std::time::Duration;

/// How long a request may wait for a hashing slot before it is answered 503 (`--hash-queue-timeout-secs`).
pub const DEFAULT_HASH_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1).
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    /// Hashing takes ~20 MiB and tens of milliseconds: at most this many at once, so a login
    /// storm queues here instead of starving the rest of the server; clients take turns.
    slots: Arc<FairQueue>,
    /// Verified when the e-mail is unknown, so that an unknown e-mail and a wrong password take
    /// the same time.
    dummy_hash: Arc<String>,
    threads: HashThreads,
}

impl PasswordHasherPool {
    /// `concurrency` hashes at once; a request that waits longer than `queue_timeout` for a slot
    /// gets `Unavailable`.
    pub fn new(concurrency: usize, queue_timeout: Duration) -> Self {
        Self::with_params(concurrency, Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"), queue_timeout)
    }

    /// Cheaper parameters for tests that create many accounts. Not in the server binary.
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests() -> Self {
        Self::with_params(4, Params::new(1024, 1, 1, None).expect("valid argon2 params"), DEFAULT_HASH_QUEUE_TIMEOUT)
    }

    fn with_params(concurrency: usize, params: Params, queue_timeout: Duration) -> Self {
        let dummy_hash = hash_with(&params, "postern dummy password for timing").expect("hash dummy");
        let concurrency = concurrency.max(1);
        Self {
            params,
            slots: FairQueue::new(concurrency, queue_timeout),
            dummy_hash: Arc::new(dummy_hash),
            threads: HashThreads::start(concurrency),
        }
    }

    /// Whether `password` may become someone's password (`password/policy.rs`), with `user_inputs` (their
    /// name and e-mail) counted as guessable. The strength estimate costs up to about what a hash
    /// does, so it waits for a hashing slot and runs on the hashing threads like one.
    pub async fn check_new_password(
        &self,
        password: &str,
        user_inputs: &[&str],
        field: &str,
        client: &str,
    ) -> Result<(), AppError> {
        policy::check_length(password, field)?;
        let _slot = self.slot(client).await?;
        let password = password.to_owned();
        let user_inputs: Vec<String> = user_inputs.iter().map(|s| s.to_string()).collect();
        let field = field.to_owned();
        self.threads
            .run(move || {
                let user_inputs: Vec<&str> = user_inputs.iter().map(String::as_str).collect();
                policy::check_guessability(&password, &user_inputs, &field)
            })
            .await?
    }

    pub async fn hash(&self, password: &str, client: &str) -> Result<String, AppError> {
        let _slot = self.slot(client).await?;
        let params = self.params.clone();
        let password = password.to_owned();
        self.threads.run(move || hash_with(&params, &password)).await?
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is no account, so
    /// both cases cost the same.
    pub async fn verify(&self, password: &str, hash: Option<&str>, client: &str) -> Result<bool, AppError> {
        let slot = self.slot(client).await?;
        self.verify_in_slot(&slot, password, hash).await
    }

    /// A hashing slot, held across a throttled login: the attempt is counted, the password
    /// checked, and a success taken back off the count, all within the slot. So attempts counted
    /// but not yet settled are never more than the slots, however many requests queue for one,
    /// and honest parallel logins never add up to a lock-out.
    ///
    /// `client` names whose turn it is: the caller's address, IPv6 per /64 (the throttle's
    /// `ip_throttle_key`). Clients take turns (`password/queue.rs`); after the queue timeout the answer
    /// is `Unavailable`.
    pub async fn slot(&self, client: &str) -> Result<HashSlot, AppError> {
        self.slots.acquire(client).await
    }

    /// [`verify`](Self::verify) inside a slot taken with [`slot`](Self::slot).
    pub async fn verify_in_slot(&self, _slot: &HashSlot, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
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

    const CLIENT: &str = "ip:192.0.2.1";

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let pool = PasswordHasherPool::new(2, DEFAULT_HASH_QUEUE_TIMEOUT);
        let hash = pool.hash("Lighthouse-Quartz-Maple-42", CLIENT).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(pool.verify("Lighthouse-Quartz-Maple-42", Some(&hash), CLIENT).await.unwrap());
        assert!(!pool.verify("lighthouse-quartz-maple-42", Some(&hash), CLIENT).await.unwrap());
        assert!(!pool.verify("Lighthouse-Quartz-Maple-42", None, CLIENT).await.unwrap());
    }

    #[tokio::test]
    async fn the_pools_new_password_check_keeps_the_policys_verdicts() {
        let pool = PasswordHasherPool::for_tests();
        assert!(pool.check_new_password("Lighthouse-Quartz-Maple-42", &[], "password", CLIENT).await.is_ok());
        let too_easy = pool
            .check_new_password("alice.smith@example.com", &["alice.smith@example.com"], "new_password", CLIENT)
            .await;
        assert_eq!(too_easy.unwrap_err().field(), Some("new_password"));
        assert!(pool.check_new_password("short", &[], "password", CLIENT).await.is_err());
        assert!(pool.check_new_password(&"x".repeat(257), &[], "password", CLIENT).await.is_err());
    }

    /// Used to cost about a second of CPU on the async worker (no timing asserted here: speed is
    /// the benchmark's; this proves the check finishes and answers).
    #[tokio::test]
    async fn a_256_character_password_of_punctuation_and_digits_is_checked() {
        let pool = PasswordHasherPool::for_tests();
        let alphabet: Vec<char> = "4@8({[<3&6910!|17+%2$5aeiou".chars().collect();
        let password: String = (0..256).map(|i| alphabet[(i * 7 + i / 5) % alphabet.len()]).collect();
        assert_eq!(password.chars().count(), 256);
        match pool.check_new_password(&password, &[], "password", CLIENT).await {
            Ok(()) | Err(AppError::Validation { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
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
