//! Seeds a database for the benchmark (`bench/bench.py`) through the product's own store and token
//! module: the migrations the server runs, the tokens and hashes it hands out, the rows it writes.
//! So a migration or a change of the token scheme cannot silently leave the benchmark measuring a
//! database the server would never have written.
//!
//! An example rather than a second binary of the server package: cargo-leptos builds the package's
//! one binary, and this one is no part of the product.
//!
//! ```text
//! cargo build --release -p server --example postern-seed
//! postern-seed --database-url URL --password PW base --sessions N --out DIR
//! postern-seed --database-url URL --password PW pool --tag T --accounts A --per-account P --out FILE
//! ```
//!
//! `base` creates N sessions over N/10 accounts and the accounts the login storm logs in to, and
//! writes the tokens and e-mail addresses the load generator sends (files in DIR, see [`Base`]).
//! `pool` adds accounts with sessions to end, for the runs that end sessions. Each prints one JSON
//! line with what it did and how long it took.

use app::model::SessionKind;
use app::ssr::password::{PasswordHasherPool, DEFAULT_HASH_QUEUE_TIMEOUT};
use app::ssr::store::{Event, EventKind, NewSession};
use app::ssr::{token, Clock, Store, SystemClock};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;
const SESSIONS_PER_ACCOUNT: usize = 10;
/// The server's default `--max-sessions`, for the few sessions created the server's way.
const MAX_ACTIVE: i64 = 100;

const CHROME_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const APP_UA: &str = "PosternMail/2.3 (Android 15)";

#[derive(Parser)]
#[command(about = "Seeds a database for the benchmark through Postern's own store")]
struct Args {
    /// `sqlite://…` or `postgres://…`; migrated first, like the server does.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Every seeded account's password (hashed once with the server's argon2id parameters).
    #[arg(long)]
    password: String,
    /// Sessions per transaction.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    Base(Base),
    Pool(Pool),
}

/// N sessions over N/10 accounts (`user{k}@bench.example`, sessions 10k … 10k + 9), and the login
/// storm's accounts. Writes to `--out`: `poll-tokens.txt` (tokens of `--poll-sample` sessions
/// spread evenly over the table, none of account 0's), `page-tokens.txt` (account 0's ten, for the
/// Manage Sessions page) and `login-emails.txt`.
#[derive(clap::Args)]
struct Base {
    #[arg(long)]
    sessions: usize,
    #[arg(long, default_value_t = 10_000)]
    poll_sample: usize,
    #[arg(long, default_value_t = 64)]
    login_accounts: usize,
    #[arg(long)]
    out: PathBuf,
}

/// `--accounts` accounts (`{tag}-{a}@bench.example`), each with one session that acts and
/// `--per-account` sessions to end. Writes `<actor token> <victim session id> <victim token>` lines
/// to `--out`, interleaved over the accounts.
#[derive(clap::Args)]
struct Pool {
    #[arg(long)]
    tag: String,
    #[arg(long)]
    accounts: usize,
    #[arg(long)]
    per_account: usize,
    #[arg(long)]
    out: PathBuf,
}

/// One active, remembered session ("Stay logged in" browser, 70 %, or mail app, 30 %): last
/// active some minutes before the run, 14 days of idle time left, so nothing expires while the
/// benchmark runs and the first page request of a session writes "last active" once.
fn session(account_id: app::model::AccountId, n: usize, now: i64) -> (String, NewSession) {
    let token = token::new_token();
    let kind = if n % 10 >= 7 { SessionKind::App } else { SessionKind::Browser };
    let user_agent = match kind {
        SessionKind::App => APP_UA,
        SessionKind::Browser if n % 2 == 1 => CHROME_UA,
        SessionKind::Browser => FIREFOX_UA,
    };
    let last_active = now - 5 * MINUTE - (n % 60) as i64 * 1000;
    let s = NewSession {
        id: token::new_session_id(),
        token_hash: token::hash_token(&token),
        account_id,
        kind,
        auto_login: true,
        device_name: (kind == SessionKind::App).then(|| "Pixel 8".to_string()),
        ip: format!("203.0.{}.{}", (n >> 8) % 256, n % 256),
        location: None,
        user_agent: user_agent.to_string(),
        now: last_active,
        idle_expires_at: last_active + 14 * DAY,
        expires_at: last_active + 29 * DAY,
        credentials_version: 0,
        device_hash: None,
        announce_if_new: false,
        device_label: String::new(),
    };
    (token, s)
}

fn write_lines(path: &std::path::Path, lines: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for line in lines {
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    Ok(())
}

async fn base(store: &Store, hash: &str, now: i64, batch: usize, b: &Base) -> anyhow::Result<serde_json::Value> {
    let n = b.sessions;
    let accounts = n.div_ceil(SESSIONS_PER_ACCOUNT).max(1);

    // Account 0, the Manage Sessions page's, and its sessions the way the server creates them.
    let first = store
        .create_account(
            "user0@bench.example",
            "User 0",
            hash,
            Event::new(EventKind::AccountCreated, None, now - 30 * DAY),
        )
        .await?;
    let mut page_tokens = Vec::new();
    for i in 0..SESSIONS_PER_ACCOUNT.min(n) {
        let (token, s) = session(first, i, now);
        let event = Event::new(EventKind::LoginSucceeded, Some(first), s.now)
            .by(&s.id, &s.ip)
            .detail("browser, stay logged in");
        store.create_session(&s, MAX_ACTIVE, &event).await?;
        page_tokens.push(token);
    }

    // Every other account and session in bulk.
    let rest: Vec<(String, String)> =
        (1..accounts).map(|k| (format!("user{k}@bench.example"), format!("User {k}"))).collect();
    let mut ids = vec![first];
    for chunk in rest.chunks(batch) {
        ids.extend(store.seed_accounts(chunk, hash, now - 30 * DAY).await?);
    }
    // The poll's sample: evenly spaced over sessions 10 … n − 1.
    let pool = n.saturating_sub(SESSIONS_PER_ACCOUNT);
    let sample = b.poll_sample.min(pool);
    let mut picks = (0..sample).map(|k| SESSIONS_PER_ACCOUNT + k * pool / sample).peekable();
    let mut poll_tokens = Vec::with_capacity(sample);
    let mut rows = Vec::with_capacity(batch);
    for i in SESSIONS_PER_ACCOUNT.min(n)..n {
        let (token, s) = session(ids[i / SESSIONS_PER_ACCOUNT], i, now);
        if picks.peek() == Some(&i) {
            picks.next();
            poll_tokens.push(token);
        }
        rows.push(s);
        if rows.len() == batch {
            store.seed_sessions(&rows).await?;
            rows.clear();
        }
    }
    store.seed_sessions(&rows).await?;

    // The login storm's accounts, the server's way (they have no sessions yet).
    let mut emails = Vec::new();
    for j in 0..b.login_accounts {
        let email = format!("login{j}@bench.example");
        store
            .create_account(
                &email,
                &format!("Login {j}"),
                hash,
                Event::new(EventKind::AccountCreated, None, now - 30 * DAY),
            )
            .await?;
        emails.push(email);
    }
    store.seed_finish().await?;

    std::fs::create_dir_all(&b.out)?;
    write_lines(&b.out.join("poll-tokens.txt"), poll_tokens)?;
    write_lines(&b.out.join("page-tokens.txt"), page_tokens)?;
    write_lines(&b.out.join("login-emails.txt"), emails)?;
    Ok(serde_json::json!({ "accounts": accounts + b.login_accounts, "sessions": n, "poll_sample": sample }))
}

async fn pool(store: &Store, hash: &str, now: i64, batch: usize, p: &Pool) -> anyhow::Result<serde_json::Value> {
    let accounts: Vec<(String, String)> =
        (0..p.accounts).map(|a| (format!("{}-{a}@bench.example", p.tag), format!("Victim {a}"))).collect();
    let ids = store.seed_accounts(&accounts, hash, now - 30 * DAY).await?;
    let mut rows = Vec::new();
    let mut actors = Vec::new();
    for &id in &ids {
        let (token, s) = session(id, 0, now);
        actors.push(token);
        rows.push(s);
    }
    let mut lines = Vec::with_capacity(p.accounts * p.per_account);
    for v in 0..p.per_account {
        for (a, &id) in ids.iter().enumerate() {
            let (token, s) = session(id, v + 1, now);
            lines.push(format!("{} {} {token}", actors[a], s.id));
            rows.push(s);
            if rows.len() == batch {
                store.seed_sessions(&rows).await?;
                rows.clear();
            }
        }
    }
    store.seed_sessions(&rows).await?;
    if let Some(dir) = p.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_lines(&p.out, lines)?;
    Ok(serde_json::json!({ "accounts": p.accounts, "sessions": p.accounts * (p.per_account + 1) }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let store = Store::connect(&args.database_url).await?;
    // One hash for every account: they share the password, and argon2 is slow on purpose.
    let hasher = PasswordHasherPool::new(1, DEFAULT_HASH_QUEUE_TIMEOUT);
    let hash = hasher.hash(&args.password, "seed").await.map_err(|e| anyhow::anyhow!("hashing failed: {e:?}"))?;
    let now = SystemClock.now_ms();
    let batch = args.batch.max(1);
    let mut done = match &args.what {
        What::Base(b) => base(&store, &hash, now, batch, b).await?,
        What::Pool(p) => pool(&store, &hash, now, batch, p).await?,
    };
    store.close().await;
    done["seconds"] = serde_json::json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    done["seeded_at_ms"] = serde_json::json!(now);
    println!("{done}");
    Ok(())
}
