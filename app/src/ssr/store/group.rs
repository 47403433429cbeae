//! Group commit on SQLite: writes of one kind that wait for this process's write turn are done
//! together, in one transaction, by whichever of them gets the turn first. SQLite commits one
//! transaction at a time; at full load a queue of single-row transactions waits mostly for the
//! other transactions' BEGIN and COMMIT (and the wake-ups between them), so ending sessions one
//! per transaction had a p99 of 50–90 ms at 64 concurrent requests (bench/results.md).
//!
//! Reads too ([`Queue::gathering`]): the session lookup of every request is one index probe, and
//! its read transaction's begin and end (two `fcntl` calls, an `fstat` and SQLite's bookkeeping)
//! cost more than the probe; the lookups that arrive in one round of the
//! scheduler share one transaction.

use std::sync::Mutex;
use tokio::sync::oneshot;

/// Jobs of type `J` waiting to be done, each with its caller's reply.
pub(super) struct Queue<J, R> {
    waiting: Mutex<Vec<(J, oneshot::Sender<R>)>>,
    /// Whether a job, once queued, yields to the other tasks of its worker before it asks for
    /// the turn, so that the jobs of requests that are ready at the same time join one batch. For
    /// jobs that take microseconds: writes wait long enough behind each other to gather without.
    gather: bool,
}

impl<J, R> Default for Queue<J, R> {
    fn default() -> Self {
        Queue { waiting: Mutex::new(Vec::new()), gather: false }
    }
}

impl<J, R> Queue<J, R> {
    /// A queue whose jobs wait one round of the scheduler for others to join them.
    pub(super) fn gathering() -> Self {
        Queue { waiting: Mutex::new(Vec::new()), gather: true }
    }
}

impl<J: Clone, R> Queue<J, R> {
    /// Does `job` as part of the next batch: waits for `turn`; if the holder before has done the
    /// job in its batch, returns its result; otherwise does every job waiting by then (this one
    /// included) with `run`, which answers each in order, and replies to their callers.
    ///
    /// Cancellation: a caller dropped while running a batch drops its transaction (rolled back)
    /// and the replies; the callers of that batch then find their reply gone and do their own job
    /// again, alone, once it is their turn.
    ///
    /// `run` also gets what the turn guards (the reader's connection; nothing for the writers).
    pub(super) async fn join<T, F, Fut>(&self, turn: &tokio::sync::Mutex<T>, job: J, run: F) -> R
    where
        F: Fn(&mut T, Vec<J>) -> Fut,
        Fut: std::future::Future<Output = Vec<R>>,
    {
        let (reply, mut answer) = oneshot::channel();
        self.lock().push((job.clone(), reply));
        if self.gather {
            tokio::task::yield_now().await;
        }
        let mut turn = turn.lock().await;
        match answer.try_recv() {
            Ok(done) => return done,
            Err(oneshot::error::TryRecvError::Closed) => {
                return run(&mut turn, vec![job]).await.into_iter().next().expect("one result per job");
            }
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        // Nobody has taken this job: only a holder of the turn takes jobs, and replies before it
        // lets the turn go.
        let (jobs, replies): (Vec<J>, Vec<oneshot::Sender<R>>) = std::mem::take(&mut *self.lock()).into_iter().unzip();
        for (reply, done) in replies.into_iter().zip(run(&mut turn, jobs).await) {
            let _ = reply.send(done);
        }
        answer.try_recv().expect("the batch held this job")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(J, oneshot::Sender<R>)>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn waiting_jobs_run_together_and_each_gets_its_own_result() {
        let queue = Arc::new(Queue::<u32, u32>::default());
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let batches = Arc::new(AtomicUsize::new(0));
        // Hold the turn while eight jobs queue up behind it.
        let held = turn.clone().lock_owned().await;
        let mut callers = Vec::new();
        for n in 0..8u32 {
            let (queue, turn, batches) = (queue.clone(), turn.clone(), batches.clone());
            callers.push(tokio::spawn(async move {
                queue
                    .join(&turn, n, |_, jobs| {
                        batches.fetch_add(1, Ordering::SeqCst);
                        async move { jobs.into_iter().map(|j| j * 10).collect() }
                    })
                    .await
            }));
        }
        while queue.lock().len() < 8 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for (n, caller) in callers.into_iter().enumerate() {
            assert_eq!(caller.await.unwrap(), n as u32 * 10);
        }
        assert_eq!(batches.load(Ordering::SeqCst), 1, "one batch for all eight");
    }

    #[tokio::test]
    async fn gathering_jobs_that_are_ready_together_share_a_batch_though_the_turn_is_free() {
        let queue = Arc::new(Queue::<u32, u32>::gathering());
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let batches = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..8u32)
            .map(|n| {
                let (queue, turn, batches) = (queue.clone(), turn.clone(), batches.clone());
                tokio::spawn(async move {
                    queue
                        .join(&turn, n, |_, jobs| {
                            batches.fetch_add(1, Ordering::SeqCst);
                            async move { jobs.into_iter().map(|j| j + 100).collect() }
                        })
                        .await
                })
            })
            .collect();
        for (n, caller) in callers.into_iter().enumerate() {
            assert_eq!(caller.await.unwrap(), n as u32 + 100);
        }
        assert_eq!(batches.load(Ordering::SeqCst), 1, "one batch for the eight that were ready together");
    }

    #[tokio::test]
    async fn a_batch_whose_runner_was_dropped_is_done_again_by_each_caller() {
        let queue = Arc::new(Queue::<u32, u32>::default());
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        let held = turn.clone().lock_owned().await;
        let stuck = {
            let (queue, turn) = (queue.clone(), turn.clone());
            // Its batch never finishes: it takes both jobs, then is aborted.
            tokio::spawn(async move { queue.join(&turn, 1, |_, _| std::future::pending::<Vec<u32>>()).await })
        };
        let other = {
            let (queue, turn) = (queue.clone(), turn.clone());
            tokio::spawn(async move { queue.join(&turn, 2, |_, jobs| async move { jobs }).await })
        };
        while queue.lock().len() < 2 {
            tokio::task::yield_now().await;
        }
        drop(held);
        // The stuck caller takes the turn first (the turn is first come, first served)...
        while !queue.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        stuck.abort();
        // ...and the other does its own job again once the turn is free.
        assert_eq!(other.await.unwrap(), 2);
    }
}
