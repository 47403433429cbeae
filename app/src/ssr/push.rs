//! The open event streams of this instance, by account, and the one call that wakes the streams
//! of an account whose session set changed. The hub knows nothing about what changed: a woken
//! stream reads its session from the database, which stays the one source of truth. What wakes
//! it: the store after a commit of this process, and the change feed (`store::feed`) for commits
//! of other processes and instances.

use crate::model::{AccountId, SessionId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

/// At most this many streams per session: a fifth closes the oldest. One browser holds one
/// (its tabs elect a holder); a few spare cover a reload racing the old stream's close.
pub const STREAMS_PER_SESSION: usize = 4;

/// Cheap to clone; every clone is the same hub.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    streams: Mutex<HashMap<AccountId, Vec<Entry>>>,
    next_id: AtomicU64,
    open: AtomicUsize,
    /// `true` once the server shuts down: every stream closes with a retry hint.
    closing: watch::Sender<bool>,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    session: SessionId,
    signal: Arc<Signal>,
}

#[derive(Debug, Default)]
struct Signal {
    /// A stored permit: a change that arrives while the stream is busy is not lost.
    wake: Notify,
    /// A newer stream of the same session took this one's place.
    displaced: AtomicBool,
}

/// Why a stream woke up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Something about the account's sessions may have changed: read the session again.
    Changed,
    /// The session opened a stream too many; this, its oldest, closes.
    Displaced,
    /// The server is shutting down.
    ShuttingDown,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            inner: Arc::new(Inner {
                streams: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                open: AtomicUsize::new(0),
                closing: watch::Sender::new(false),
            }),
        }
    }
}

impl Hub {
    /// Registers a stream of `session` (of `account`); it is unregistered when the returned
    /// subscription is dropped.
    pub fn subscribe(&self, account: AccountId, session: &SessionId) -> Subscription {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let signal = Arc::new(Signal::default());
        {
            let mut streams = self.lock();
            let list = streams.entry(account).or_default();
            let same: Vec<usize> =
                list.iter().enumerate().filter(|(_, e)| e.session == *session).map(|(i, _)| i).collect();
            if same.len() >= STREAMS_PER_SESSION {
                // Entries are in the order they came: the first is the oldest.
                let oldest = list.remove(same[0]);
                oldest.signal.displaced.store(true, Ordering::SeqCst);
                oldest.signal.wake.notify_one();
            }
            list.push(Entry { id, session: session.clone(), signal: signal.clone() });
        }
        crate::ssr::metrics::event_streams_open(self.inner.open.fetch_add(1, Ordering::Relaxed) + 1);
        Subscription { hub: self.clone(), account, id, signal, closing: self.inner.closing.subscribe() }
    }

    /// The account's session set (or its Inbox) may have changed: its streams read again.
    pub fn changed(&self, account: AccountId) {
        if let Some(list) = self.lock().get(&account) {
            for entry in list {
                entry.signal.wake.notify_one();
            }
        }
    }

    /// Every stream reads its session again: after the change feed may have missed changes (a
    /// lost PostgreSQL listener connection).
    pub fn changed_all(&self) {
        for list in self.lock().values() {
            for entry in list {
                entry.signal.wake.notify_one();
            }
        }
    }

    /// Closes every stream (each with a retry hint) and refuses to hold new ones: the server is
    /// going away, and browsers should reconnect to another instance.
    pub fn shut_down(&self) {
        self.inner.closing.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.inner.closing.borrow()
    }

    /// Completes when [`Hub::shut_down`] is called, or at once if it was. For the change feed.
    pub async fn closed(&self) {
        let mut rx = self.inner.closing.subscribe();
        let _ = rx.wait_for(|closing| *closing).await;
    }

    /// How many streams this instance holds open.
    pub fn open_streams(&self) -> usize {
        self.inner.open.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Vec<Entry>>> {
        self.inner.streams.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One open stream's place in the hub.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    account: AccountId,
    id: u64,
    signal: Arc<Signal>,
    closing: watch::Receiver<bool>,
}

impl Subscription {
    /// Waits for the next reason to act.
    pub async fn next(&mut self) -> Wake {
        if *self.closing.borrow() {
            return Wake::ShuttingDown;
        }
        tokio::select! {
            () = self.signal.wake.notified() => {
                if self.signal.displaced.load(Ordering::SeqCst) { Wake::Displaced } else { Wake::Changed }
            }
            _ = self.closing.wait_for(|closing| *closing) => Wake::ShuttingDown,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        crate::ssr::metrics::event_streams_open(self.hub.inner.open.fetch_sub(1, Ordering::Relaxed).saturating_sub(1));
        let mut streams = self.hub.lock();
        if let Some(list) = streams.get_mut(&self.account) {
            list.retain(|e| e.id != self.id);
            if list.is_empty() {
                streams.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn session(n: u8) -> SessionId {
        SessionId(format!("{:0>22}", n))
    }

    async fn woken(sub: &mut Subscription) -> Option<Wake> {
        tokio::time::timeout(Duration::from_millis(50), sub.next()).await.ok()
    }

    #[tokio::test]
    async fn wakes_only_the_accounts_streams() {
        let hub = Hub::default();
        let mut mine = hub.subscribe(AccountId(1), &session(1));
        let mut theirs = hub.subscribe(AccountId(2), &session(2));
        hub.changed(AccountId(1));
        assert_eq!(woken(&mut mine).await, Some(Wake::Changed));
        assert_eq!(woken(&mut theirs).await, None);
        // A change while the stream was busy is kept for its next wait.
        hub.changed(AccountId(2));
        assert_eq!(woken(&mut theirs).await, Some(Wake::Changed));
        hub.changed_all();
        assert_eq!(woken(&mut mine).await, Some(Wake::Changed));
        assert_eq!(woken(&mut theirs).await, Some(Wake::Changed));
    }

    #[tokio::test]
    async fn a_fifth_stream_of_a_session_displaces_the_oldest() {
        let hub = Hub::default();
        let account = AccountId(1);
        let mut subs: Vec<Subscription> =
            (0..STREAMS_PER_SESSION).map(|_| hub.subscribe(account, &session(1))).collect();
        let _other_session = hub.subscribe(account, &session(2));
        let mut newest = hub.subscribe(account, &session(1));
        assert_eq!(woken(&mut subs[0]).await, Some(Wake::Displaced));
        assert_eq!(woken(&mut subs[1]).await, None);
        assert_eq!(woken(&mut newest).await, None);
        assert_eq!(hub.open_streams(), STREAMS_PER_SESSION + 2);
        drop(subs);
        assert_eq!(hub.open_streams(), 2);
    }

    #[tokio::test]
    async fn shutting_down_closes_every_stream() {
        let hub = Hub::default();
        let mut sub = hub.subscribe(AccountId(1), &session(1));
        hub.shut_down();
        assert_eq!(woken(&mut sub).await, Some(Wake::ShuttingDown));
        tokio::time::timeout(Duration::from_millis(50), hub.closed()).await.expect("closed completes");
    }
}
