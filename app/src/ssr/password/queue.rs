//! The queue for hashing slots: fair between clients, and bounded in time.
//!
//! A semaphore serves waiters first come, first served, so one address's burst of 32 logins sat in
//! front of everybody else's (another person's login took 933 ms instead of 40–90 ms). Here every
//! client key (an address; IPv6 per /64) has its own line, and a freed slot goes to the lines in
//! turn: a burst waits behind everyone else's next request rather than in front of it. Within one
//! line it is first come, first served, so a client never starves itself. A request that has
//! waited longer than the timeout gives up with `Unavailable` (503).

use crate::model::AppError;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

pub(super) struct FairQueue {
    state: Mutex<State>,
    timeout: Duration,
    /// Requests waiting for a slot, for the metric.
    queued: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct State {
    /// Slots nobody holds. Never above zero while anyone waits: a freed slot goes straight to the
    /// next waiter.
    free: usize,
    /// Each client's line; a key is here only while its line is not empty.
    lines: HashMap<String, VecDeque<Waiter>>,
    /// Whose turn is next: every key of `lines`, once.
    turns: VecDeque<String>,
    next_id: u64,
}

struct Waiter {
    id: u64,
    wake: oneshot::Sender<()>,
}

/// A hashing slot; dropping it hands it to the next waiter.
pub struct HashSlot {
    queue: Arc<FairQueue>,
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        self.queue.lock().hand_on();
    }
}

impl State {
    /// A slot was freed: it goes to the head of the next line in turn, or back to `free`.
    fn hand_on(&mut self) {
        while let Some(key) = self.turns.pop_front() {
            let Some(line) = self.lines.get_mut(&key) else { continue };
            let next = line.pop_front();
            if line.is_empty() {
                self.lines.remove(&key);
            } else {
                self.turns.push_back(key);
            }
            // A waiter leaves its line under the lock before its receiver goes (see `Ticket`), so
            // this succeeds.
            if next.is_some_and(|w| w.wake.send(()).is_ok()) {
                return;
            }
        }
        self.free += 1;
    }

    /// Takes a waiter out of its line; false if it is not there any more (it was given a slot).
    fn leave(&mut self, key: &str, id: u64) -> bool {
        let Some(line) = self.lines.get_mut(key) else { return false };
        let Some(at) = line.iter().position(|w| w.id == id) else { return false };
        line.remove(at);
        if line.is_empty() {
            self.lines.remove(key);
            self.turns.retain(|k| k != key);
        }
        true
    }
}

/// A place in a line. Dropped before it got its slot (the request was cancelled, its client went
/// away), it leaves the line, or passes on the slot it was handed meanwhile. It owns the receiver,
/// which therefore outlives that clean-up: a waiter still in a line can always be woken.
struct Ticket<'a> {
    queue: &'a FairQueue,
    key: &'a str,
    id: u64,
    woken: oneshot::Receiver<()>,
    settled: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut state = self.queue.lock();
            if !state.leave(self.key, self.id) {
                state.hand_on();
            }
        }
    }
}

impl FairQueue {
    pub(super) fn new(slots: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(FairQueue {
            state: Mutex::new(State { free: slots, ..State::default() }),
            timeout,
            queued: Default::default(),
        })
    }

    /// The holder of a slot never panics while holding the lock, but if anything did, the state is
    /// still consistent between statements.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for `client`, in turn with every other client's requests.
    pub(super) async fn acquire(self: &Arc<Self>, client: &str) -> Result<HashSlot, AppError> {
        let (id, woken) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            if state.free > 0 {
                state.free -= 1;
                return Ok(HashSlot { queue: self.clone() });
            }
            let id = state.next_id;
            state.next_id += 1;
            let (wake, woken) = oneshot::channel();
            match state.lines.get_mut(client) {
                Some(line) => line.push_back(Waiter { id, wake }),
                None => {
                    state.lines.insert(client.to_owned(), VecDeque::from([Waiter { id, wake }]));
                    state.turns.push_back(client.to_owned());
                }
            }
            (id, woken)
        };
        use std::sync::atomic::Ordering::Relaxed;
        crate::ssr::metrics::hash_queue_length(self.queued.fetch_add(1, Relaxed) + 1);
        let mut ticket = Ticket { queue: self, key: client, id, woken, settled: false };
        let waited = tokio::time::timeout(self.timeout, &mut ticket.woken).await;
        ticket.settled = true;
        crate::ssr::metrics::hash_queue_length(self.queued.fetch_sub(1, Relaxed).saturating_sub(1));
        match waited {
            Ok(Ok(())) => Ok(HashSlot { queue: self.clone() }),
            // The sender went without a word: only if the state were torn down under us.
            Ok(Err(_)) => Err(AppError::Internal),
            Err(_) => {
                if self.lock().leave(client, id) {
                    tracing::warn!(client, "gave up waiting for a password hashing slot");
                    Err(AppError::Unavailable)
                } else {
                    // Handed a slot as the time ran out: it is ours.
                    Ok(HashSlot { queue: self.clone() })
                }
            }
        }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().lines.values().map(VecDeque::len).sum()
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.lock().free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    /// Lets the spawned tasks run until `n` requests wait (a condition, not a sleep).
    async fn until_waiting(queue: &FairQueue, n: usize) {
        while queue.waiting() != n {
            tokio::task::yield_now().await;
        }
    }

    /// Queues a request of `client` that, once served, records `label` and frees its slot.
    async fn queue_up(
        queue: &Arc<FairQueue>,
        served: &Arc<Mutex<Vec<String>>>,
        client: &'static str,
        label: String,
    ) -> tokio::task::JoinHandle<()> {
        let (queue2, served) = (queue.clone(), served.clone());
        let before = queue.waiting();
        let task = tokio::spawn(async move {
            let _slot = queue2.acquire(client).await.expect("served");
            served.lock().unwrap().push(label);
        });
        until_waiting(queue, before + 1).await;
        task
    }

    #[tokio::test]
    async fn another_clients_request_is_served_after_one_of_a_burst_not_after_all_of_it() {
        let queue = FairQueue::new(1, TIMEOUT);
        let served = Arc::new(Mutex::new(Vec::new()));
        let busy = queue.acquire("ip:192.0.2.9").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..10 {
            tasks.push(queue_up(&queue, &served, "ip:192.0.2.1", format!("A{i}")).await);
        }
        tasks.push(queue_up(&queue, &served, "ip:198.51.100.2", "B".into()).await);
        drop(busy);
        for task in tasks {
            task.await.unwrap();
        }
        let served = served.lock().unwrap().clone();
        let expected: Vec<String> =
            ["A0", "B", "A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"].map(String::from).into();
        assert_eq!(served, expected);
        assert_eq!(queue.free(), 1);
    }

    /// What the reliability test's 24 concurrent logins of one account from one address rely on:
    /// one client's requests are all served, in the order they came.
    #[tokio::test]
    async fn one_clients_requests_are_all_served_in_order() {
        let queue = FairQueue::new(2, TIMEOUT);
        let served = Arc::new(Mutex::new(Vec::new()));
        let busy = (queue.acquire("ip:127.0.0.1").await.unwrap(), queue.acquire("ip:127.0.0.1").await.unwrap());
        let mut tasks = Vec::new();
        for i in 0..24 {
            tasks.push(queue_up(&queue, &served, "ip:127.0.0.1", format!("{i:02}")).await);
        }
        drop(busy);
        for task in tasks {
            task.await.unwrap();
        }
        let served = served.lock().unwrap().clone();
        let mut sorted = served.clone();
        sorted.sort();
        assert_eq!(served.len(), 24);
        assert_eq!(served, sorted);
        assert_eq!(queue.free(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_waited_past_the_timeout_is_unavailable_and_leaves_the_line() {
        let queue = FairQueue::new(1, TIMEOUT);
        let busy = queue.acquire("ip:192.0.2.9").await.unwrap();
        // The clock is paused and advances only when every task waits: straight to the timeout.
        let started = tokio::time::Instant::now();
        let answer = tokio::time::timeout(2 * TIMEOUT, queue.acquire("ip:192.0.2.1")).await.expect("gave up by itself");
        assert!(matches!(answer, Err(AppError::Unavailable)));
        assert!(started.elapsed() >= TIMEOUT, "not before its time");
        assert_eq!(queue.waiting(), 0);
        drop(busy);
        assert_eq!(queue.free(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_served_within_the_timeout_gets_its_slot() {
        let queue = FairQueue::new(1, TIMEOUT);
        let busy = queue.acquire("ip:192.0.2.9").await.unwrap();
        let queue2 = queue.clone();
        let waiter = tokio::spawn(async move { queue2.acquire("ip:192.0.2.1").await.map(drop) });
        until_waiting(&queue, 1).await;
        tokio::time::advance(TIMEOUT - Duration::from_millis(1)).await;
        drop(busy);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(queue.free(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_request_leaves_the_line_and_the_next_one_gets_the_slot() {
        let queue = FairQueue::new(1, TIMEOUT);
        let served = Arc::new(Mutex::new(Vec::new()));
        let busy = queue.acquire("ip:192.0.2.9").await.unwrap();
        let cancelled = queue_up(&queue, &served, "ip:192.0.2.1", "cancelled".into()).await;
        let next = queue_up(&queue, &served, "ip:198.51.100.2", "next".into()).await;
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        assert_eq!(queue.waiting(), 1);
        drop(busy);
        next.await.unwrap();
        assert_eq!(*served.lock().unwrap(), ["next"]);
        assert_eq!(queue.free(), 1);
    }

    #[tokio::test]
    async fn a_request_cancelled_after_it_was_handed_a_slot_passes_the_slot_on() {
        let queue = FairQueue::new(1, TIMEOUT);
        let busy = queue.acquire("ip:192.0.2.9").await.unwrap();
        let queue2 = queue.clone();
        let waiter = tokio::spawn(async move { queue2.acquire("ip:192.0.2.1").await.map(drop) });
        until_waiting(&queue, 1).await;
        // On this single-threaded runtime the waiter cannot run between the hand-over and the
        // abort: it is cancelled holding a slot it never saw.
        drop(busy);
        assert_eq!(queue.waiting(), 0);
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(queue.free(), 1);
        // Nothing leaked: the one slot is still there to take.
        let again = queue.acquire("ip:192.0.2.1").await.unwrap();
        assert_eq!(queue.free(), 0);
        drop(again);
        assert_eq!(queue.free(), 1);
    }

    #[test]
    fn a_free_slot_is_taken_without_waiting() {
        let queue = FairQueue::new(2, TIMEOUT);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let (a, b) = rt.block_on(async { (queue.acquire("a").await.unwrap(), queue.acquire("a").await.unwrap()) });
        assert_eq!(queue.free(), 0);
        drop((a, b));
        assert_eq!(queue.free(), 2);
    }
}
