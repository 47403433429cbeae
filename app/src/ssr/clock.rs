//! The one clock every expiry decision reads, so that tests can move time instead of sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// What [`Clock::sleep_until`] returns.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> i64;

    /// Completes once `now_ms()` has reached `at_ms`: an open event stream's timer for the moment
    /// its session runs out, which tests reach by moving the clock.
    fn sleep_until(&self, at_ms: i64) -> Sleep;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0);
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(wait)))
    }
}

/// A clock that only moves when told to. For tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
    /// Wakes the sleepers whenever the time moves.
    moved: Arc<Notify>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<Self> {
        Arc::new(Self { now: Arc::new(AtomicI64::new(start_ms)), moved: Arc::new(Notify::new()) })
    }
    pub fn advance_ms(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
    pub fn set_ms(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let (now, moved) = (self.now.clone(), self.moved.clone());
        Box::pin(async move {
            loop {
                // Registered before the time is read, so that a move in between is not missed.
                let notified = moved.notified();
                if now.load(Ordering::SeqCst) >= at_ms {
                    return;
                }
                notified.await;
            }
        })
    }
}
