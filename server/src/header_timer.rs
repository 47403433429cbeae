//! The timer of hyper's header read timeout, one per connection.
//!
//! hyper asks its timer for a new sleep each time it waits for a request's head, and drops it once
//! the head is in. With tokio's timer that is, for every request, an allocation, a reference to
//! the runtime, and an entry put into the timer wheel and taken out again, each under a lock: a
//! microsecond of CPU on a request that otherwise takes a few (README, "What every request
//! costs"). Here the sleeps of one connection share one tokio timer. A sleep polls it; the timer is
//! moved only when it goes off before the sleep polling it is due (it was set for an earlier
//! request), so once per timeout at most instead of once per request. Each sleep still ends at
//! its own deadline, to the timer's millisecond.

use hyper::rt::{Sleep, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Give each connection its own (`http1::Builder::timer`): its sleeps share one tokio timer,
/// which only that connection's task polls.
#[derive(Clone, Default)]
pub struct ConnectionTimer(Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>);

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(SharedSleep { deadline: deadline.into(), timer: self.0.clone() })
    }
}

struct SharedSleep {
    deadline: tokio::time::Instant,
    timer: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl Future for SharedSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        // Only the connection's own task polls: the lock is never contended.
        let mut slot = self.timer.lock().unwrap_or_else(PoisonError::into_inner);
        let timer = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            // Set later than this sleep is due (hyper's deadlines only grow, but a timer need not
            // rely on it): it would go off late.
            timer.as_mut().reset(deadline);
        }
        loop {
            match timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if timer.deadline() >= deadline => return Poll::Ready(()),
                // It went off for an earlier sleep: on to this one's deadline.
                Poll::Ready(()) => timer.as_mut().reset(deadline),
            }
        }
    }
}

impl Sleep for SharedSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::time::{advance, Instant as TokioInstant};

    fn after(timer: &ConnectionTimer, millis: u64) -> Pin<Box<dyn Sleep>> {
        timer.sleep_until((TokioInstant::now() + Duration::from_millis(millis)).into_std())
    }

    /// Whether `sleep` has ended, polled once.
    async fn ended(sleep: &mut Pin<Box<dyn Sleep>>) -> bool {
        poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_ends_at_its_deadline_and_not_before() {
        let timer = ConnectionTimer::default();
        let mut sleep = after(&timer, 10_000);
        assert!(!ended(&mut sleep).await);
        advance(Duration::from_millis(9_990)).await;
        assert!(!ended(&mut sleep).await);
        tokio::time::timeout(Duration::from_millis(20), &mut sleep).await.expect("ended at its deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_sleep_outlives_the_timer_set_for_an_earlier_one() {
        let timer = ConnectionTimer::default();
        // The first request's head came in at once: its sleep was polled, then dropped.
        let mut first = after(&timer, 10_000);
        assert!(!ended(&mut first).await);
        drop(first);
        advance(Duration::from_millis(5_000)).await;
        // The next one waits from 5 s on: due at 15 s, not at the 10 s the timer was set for.
        let mut second = after(&timer, 10_000);
        assert!(!ended(&mut second).await);
        advance(Duration::from_millis(5_010)).await;
        assert!(!ended(&mut second).await, "ended when the first sleep would have");
        assert!(tokio::time::timeout(Duration::from_millis(4_900), &mut second).await.is_err());
        tokio::time::timeout(Duration::from_millis(200), &mut second).await.expect("ended at its own deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_sleep_moves_the_timer_back() {
        let timer = ConnectionTimer::default();
        let mut late = after(&timer, 30_000);
        assert!(!ended(&mut late).await);
        drop(late);
        let mut early = after(&timer, 1_000);
        tokio::time::timeout(Duration::from_millis(1_010), &mut early).await.expect("not held to the later deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn connections_do_not_share_a_timer() {
        let (a, b) = (ConnectionTimer::default(), ConnectionTimer::default());
        let mut short = after(&a, 1_000);
        let mut long = after(&b, 60_000);
        assert!(!ended(&mut long).await);
        tokio::time::timeout(Duration::from_millis(1_010), &mut short).await.expect("the short one ended");
        assert!(!ended(&mut long).await);
    }
}
