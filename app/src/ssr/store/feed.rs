//! The change feed: how a commit that changed an account's sessions reaches the open event
//! streams of every process. Inside the changing transaction, `session_set_changed!` records the
//! change for other processes (on PostgreSQL a `NOTIFY`, delivered at commit to every listening
//! instance; on SQLite a row in `session_changes`, which every process on the file reads); after
//! the commit, the store wakes this process's own streams at once ([`Store::announce`]). The feed
//! only says "look": a woken stream reads its session from the database.

use super::*;
use crate::ssr::push::Hub;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

/// The PostgreSQL channel of session changes; the payload is the account's id.
pub const CHANNEL: &str = "postern_sessions";
/// The `application_name` of each instance's listening connection (tests cut it by that name).
pub const LISTENER_NAME: &str = "postern-listener";

/// How often each process reads `session_changes` on SQLite: changes from another process reach
/// the streams within this (and this process's own changes at once).
const SQLITE_FEED_INTERVAL: Duration = Duration::from_millis(250);
/// Rows of `session_changes` older than this are deleted; a reader that fell further behind
/// (a stalled process) cannot know what it missed and wakes every stream instead.
const SQLITE_FEED_KEPT_MS: i64 = 60_000;

/// The statements `session_set_changed!` runs for the feed, in each dialect. The last
/// parameter is the writing store's origin.
pub(super) trait FeedDialect {
    /// `$1`: the account, `$2`: the origin.
    const ACCOUNT: &'static str;
    /// `$1`: now, `$2`: the origin; every account with a session that ran out by then.
    const RAN_OUT: &'static str;
}

impl FeedDialect for sqlx::Sqlite {
    const ACCOUNT: &'static str = "INSERT INTO session_changes (account_id, origin) VALUES ($1, $2)";
    const RAN_OUT: &'static str = concat!(
        "INSERT INTO session_changes (account_id, origin) SELECT DISTINCT account_id, $2 FROM sessions WHERE ",
        ran_out_at!("$1")
    );
}

impl FeedDialect for sqlx::Postgres {
    // NOTIFY is sent at commit (and not at all on rollback); identical payloads of one
    // transaction arrive once. Payload: "<account>:<origin>".
    const ACCOUNT: &'static str = "SELECT pg_notify('postern_sessions', CAST($1 AS TEXT) || ':' || CAST($2 AS TEXT))";
    const RAN_OUT: &'static str = concat!(
        "SELECT pg_notify('postern_sessions', CAST(account_id AS TEXT) || ':' || CAST($2 AS TEXT))
         FROM (SELECT DISTINCT account_id FROM sessions WHERE ",
        ran_out_at!("$1"),
        ") AS ran_out"
    );
}

/// A notification's payload: the account, unless the change is this store's own.
fn payload_account(payload: &str, own_origin: i64) -> std::result::Result<Option<AccountId>, ()> {
    let (account, origin) = payload.split_once(':').ok_or(())?;
    let (account, origin) = (account.parse::<i64>().map_err(|_| ())?, origin.parse::<i64>().map_err(|_| ())?);
    Ok((origin != own_origin).then_some(AccountId(account)))
}

/// The dialect's feed statement, chosen by the transaction's type.
pub(super) fn feed_sql<DB: sqlx::Database + FeedDialect>(
    _tx: &sqlx::Transaction<'_, DB>,
    ran_out: bool,
) -> &'static str {
    if ran_out {
        DB::RAN_OUT
    } else {
        DB::ACCOUNT
    }
}

/// What the feed of this process is doing, for the readiness of tests (and, later, metrics).
#[derive(Debug)]
pub struct FeedState {
    /// This store's mark on the changes it writes (random): its own feed skips them, since
    /// [`Store::announce`] woke its streams already.
    pub origin: i64,
    /// Whether the PostgreSQL listener is connected (always `true` on SQLite once started).
    pub connected: watch::Sender<bool>,
    /// Tests hold the listener's reconnection with this, to make changes while it is away.
    #[cfg(feature = "test-support")]
    pub hold_reconnect: watch::Sender<bool>,
}

impl Default for FeedState {
    fn default() -> Self {
        FeedState {
            origin: i64::from_ne_bytes(rand::random::<[u8; 8]>()),
            connected: watch::Sender::new(false),
            #[cfg(feature = "test-support")]
            hold_reconnect: watch::Sender::new(false),
        }
    }
}

impl Store {
    /// The open streams of this process.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn feed_state(&self) -> &Arc<FeedState> {
        &self.feed
    }

    /// Wakes this process's streams of `accounts`, after the commit that changed their sessions.
    pub(super) fn announce(&self, accounts: impl IntoIterator<Item = AccountId>) {
        for account in accounts {
            self.hub.changed(account);
        }
    }

    /// Starts reading the changes other processes and instances commit, until the hub shuts down.
    pub fn start_change_feed(&self) -> tokio::task::JoinHandle<()> {
        let (hub, state) = (self.hub.clone(), self.feed.clone());
        match &self.backend {
            Backend::Sqlite(pool) => tokio::spawn(read_sqlite_changes(pool.clone(), hub, state)),
            Backend::Postgres(pool) => {
                let options = (*pool.connect_options()).clone().application_name(LISTENER_NAME);
                // A pool of its own: the listener's connection must not take one of the requests'.
                let listener_pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(options);
                tokio::spawn(listen_postgres(listener_pool, hub, state))
            }
        }
    }
}

/// LISTENs on [`CHANNEL`]. Notifications sent while the connection is down are lost (sqlx#447),
/// so after every reconnection, once listening again, every open stream reads its session anew
/// before the channel is trusted again.
async fn listen_postgres(pool: PgPool, hub: Hub, state: Arc<FeedState>) {
    let mut first = true;
    let mut backoff = Duration::from_millis(100);
    loop {
        #[cfg(feature = "test-support")]
        {
            let mut hold = state.hold_reconnect.subscribe();
            let _ = hold.wait_for(|held| !*held).await;
        }
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // A lost connection is reported, not re-established behind our back: reconnecting
            // is this loop's, which then has every stream read its session again.
            listener.eager_reconnect(false);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "session change listener cannot connect");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = hub.closed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
            () = hub.closed() => return,
        };
        backoff = Duration::from_millis(100);
        if !first {
            tracing::info!("session change listener reconnected; every open stream reads its session again");
            hub.changed_all();
        }
        first = false;
        state.connected.send_replace(true);
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => match payload_account(notification.payload(), state.origin) {
                        Ok(Some(account)) => hub.changed(account),
                        Ok(None) => {}
                        Err(()) => tracing::warn!(payload = notification.payload(), "unexpected session change payload"),
                    },
                    Ok(None) => {
                        tracing::warn!("session change listener lost its connection");
                        break;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "session change listener failed");
                        break;
                    }
                },
                () = hub.closed() => return,
            }
        }
        state.connected.send_replace(false);
    }
}

/// Reads the rows of `session_changes` this process has not seen, every
/// [`SQLITE_FEED_INTERVAL`], and deletes old ones now and then.
async fn read_sqlite_changes(pool: SqlitePool, hub: Hub, state: Arc<FeedState>) {
    let mut last_seq: Option<i64> = None;
    let mut last_read = tokio::time::Instant::now();
    let mut last_prune = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(SQLITE_FEED_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    state.connected.send_replace(true);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = hub.closed() => return,
        }
        let read = async {
            let Some(after) = last_seq else {
                // Starting: only what comes from now on.
                let (max,): (Option<i64>,) =
                    sqlx::query_as("SELECT MAX(seq) FROM session_changes").fetch_one(&pool).await?;
                return Ok::<_, sqlx::Error>((max.unwrap_or(0), Vec::new()));
            };
            let rows: Vec<(i64, AccountId, i64)> =
                sqlx::query_as("SELECT seq, account_id, origin FROM session_changes WHERE seq > $1 ORDER BY seq")
                    .bind(after)
                    .fetch_all(&pool)
                    .await?;
            let last = rows.last().map_or(after, |r| r.0);
            Ok((last, rows.into_iter().filter(|r| r.2 != state.origin).map(|r| (r.0, r.1)).collect()))
        };
        match read.await {
            Ok((seq, rows)) => {
                if last_read.elapsed() > Duration::from_millis(SQLITE_FEED_KEPT_MS as u64 / 2) && last_seq.is_some() {
                    // Rows this process never read may be gone: nobody can say what changed.
                    hub.changed_all();
                }
                let mut accounts: Vec<AccountId> = rows.into_iter().map(|r| r.1).collect();
                accounts.sort_unstable();
                accounts.dedup();
                for account in accounts {
                    hub.changed(account);
                }
                last_seq = Some(seq);
                last_read = tokio::time::Instant::now();
            }
            Err(err) => tracing::warn!(error = %err, "reading session changes failed"),
        }
        if last_prune.elapsed() > Duration::from_millis(SQLITE_FEED_KEPT_MS as u64) {
            last_prune = tokio::time::Instant::now();
            let pruned =
                sqlx::query("DELETE FROM session_changes WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - $1")
                    .bind(SQLITE_FEED_KEPT_MS)
                    .execute(&pool)
                    .await;
            if let Err(err) = pruned {
                tracing::warn!(error = %err, "deleting old session changes failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_the_account_unless_it_is_our_own() {
        assert_eq!(payload_account("42:7", 9), Ok(Some(AccountId(42))));
        assert_eq!(payload_account("42:-7", 9), Ok(Some(AccountId(42))));
        assert_eq!(payload_account("42:9", 9), Ok(None));
        for bad in ["", "42", "x:1", "1:x", "1:2:3"] {
            assert_eq!(payload_account(bad, 9), Err(()), "{bad:?}");
        }
    }
}
