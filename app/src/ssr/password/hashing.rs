//! argon2id, and the threads it runs on.

use crate::model::AppError;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;

/// Threads that do nothing but argon2, at the lowest CPU priority (nice 19): a hash takes tens of
/// milliseconds of CPU, and every other request (the page polls above all) must get the core
/// first. (The scheduler may still let a running hash finish its slice, up to a few ms; SCHED_IDLE
/// measured no better, see bench/results.md.) tokio's blocking pool would run them at normal
/// priority, and its threads also serve other work, so they could not be lowered for good.
#[derive(Clone)]
pub(super) struct HashThreads {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl HashThreads {
    /// `count` threads; they end when the last handle to the pool is dropped.
    pub(super) fn start(count: usize) -> Self {
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

    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
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

pub(super) fn hash_with(params: &Params, password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AppError::Internal)
}
