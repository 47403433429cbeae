//! Password policy (NIST 800-63B) and hashing (argon2id on low-priority threads of its own, behind a
//! limit).

use crate::model::{limits, AppError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// NIST 800-63B: a minimum length, a generous maximum that is never truncated, and a check
/// against easily guessed passwords instead of composition rules. The guessability check is
/// zxcvbn's (its dictionaries hold the common-password lists and it also penalises the user's own
/// name and e-mail).
pub fn check_new_password(password: &str, user_inputs: &[&str], field: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < limits::PASSWORD_MIN {
        return Err(AppError::validation(field, "Use at least 8 characters for your password."));
    }
    if chars > limits::PASSWORD_MAX {
        return Err(AppError::validation(field, "Use at most 256 characters for your password."));
    }
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if (estimate.score() as u8) < 3 {
        return Err(AppError::validation(
            field,
            "This password is too easy to guess. Try a longer phrase of unrelated words.",
        ));
    }
    Ok(())
}

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

/// Threads that do nothing but argon2, at the lowest CPU priority (nice 19): a hash takes tens of
/// milliseconds of CPU, and every other request (the page polls above all) must get the core
/// first. (The scheduler may still let a running hash finish its slice, up to a few ms; SCHED_IDLE
/// measured no better, see bench/results.md.) tokio's blocking pool would run them at normal
/// priority, and its threads also serve other work, so they could not be lowered for good.
#[derive(Clone)]
struct HashThreads {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl HashThreads {
    /// `count` threads; they end when the last handle to the pool is dropped.
    fn start(count: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("start a password hashing thread");
        }
        HashThreads { jobs }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| AppError::Internal)?;
        answer.await.map_err(|_| AppError::Internal)
    }
}

/// Linux gives every thread its own nice value; `setpriority(PRIO_PROCESS, 0, …)` sets the calling
/// thread's. Raising it needs no privilege. Elsewhere this is a no-op.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on the calling thread, with no pointers involved.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
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

fn hash_with(params: &Params, password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_follows_nist() {
        assert!(check_new_password("short", &[], "password").is_err());
        assert!(check_new_password("password", &[], "password").is_err());
        assert!(check_new_password("12345678", &[], "password").is_err());
        assert!(check_new_password("Lighthouse-Quartz-Maple-42", &[], "password").is_ok());
        // 64 characters must be accepted; over 256 is refused rather than truncated.
        let long = "correct horse battery staple lighthouse quartz maple 42 glacier!";
        assert_eq!(long.chars().count(), 64);
        assert!(check_new_password(long, &[], "password").is_ok());
        assert!(check_new_password(&"x7$".repeat(90), &[], "password").is_err());
    }

    #[test]
    fn policy_penalises_own_name_and_email() {
        assert!(check_new_password("alice.smith@example.com", &["alice.smith@example.com", "Alice Smith"], "password").is_err());
    }

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
