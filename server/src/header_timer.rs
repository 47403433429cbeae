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
    // Real time (tokio's paused clock would put its test feature into the benchmark's build):
    // each test checks that a sleep ends no earlier than its deadline, and waits generously for
    // it to end at all.
    use super::*;
    use std::future::poll_fn;

    const PATIENCE: Duration = Duration::from_secs(10);

    fn after(timer: &ConnectionTimer, millis: u64) -> (Pin<Box<dyn Sleep>>, Instant) {
        let deadline = Instant::now() + Duration::from_millis(millis);
        (timer.sleep_until(deadline), deadline)
    }

    /// Whether `sleep` has ended, polled once (which also sets the connection's timer).
    async fn ended(sleep: &mut Pin<Box<dyn Sleep>>) -> bool {
        poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
    }

    /// Waits for `sleep` to end, and checks that it did not end before `deadline`.
    async fn ends_at(sleep: &mut Pin<Box<dyn Sleep>>, deadline: Instant) {
        tokio::time::timeout(PATIENCE, sleep).await.expect("the sleep ended");
        assert!(Instant::now() >= deadline, "ended {:?} before its deadline", deadline - Instant::now());
    }

    #[tokio::test]
    async fn a_sleep_ends_at_its_deadline() {
        let timer = ConnectionTimer::default();
        let (mut sleep, deadline) = after(&timer, 200);
        ends_at(&mut sleep, deadline).await;
    }

    #[tokio::test]
    async fn a_later_sleep_outlives_the_timer_set_for_an_earlier_one() {
        let timer = ConnectionTimer::default();
        // The first request's head came in before its sleep was due: polled once, then dropped.
        let (mut first, _) = after(&timer, 100);
        assert!(!ended(&mut first).await);
        drop(first);
        // The next one is due later than the timer is set for.
        let (mut second, deadline) = after(&timer, 400);
        ends_at(&mut second, deadline).await;
    }

    #[tokio::test]
    async fn an_earlier_sleep_moves_the_timer_back() {
        let timer = ConnectionTimer::default();
        let (mut late, _) = after(&timer, 60_000);
        assert!(!ended(&mut late).await);
        drop(late);
        let (mut early, deadline) = after(&timer, 100);
        ends_at(&mut early, deadline).await;
    }

    #[tokio::test]
    async fn connections_do_not_share_a_timer() {
        let (a, b) = (ConnectionTimer::default(), ConnectionTimer::default());
        let (mut long, _) = after(&b, 60_000);
        assert!(!ended(&mut long).await);
        let (mut short, deadline) = after(&a, 100);
        ends_at(&mut short, deadline).await;
        assert!(!ended(&mut long).await);
    }
}
