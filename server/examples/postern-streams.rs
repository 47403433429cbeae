//! The push benchmark's load generator (`bench/bench.py` runs it): holds many open event streams
//! against a running server, and times how long a session's end takes to reach its own stream.
//!
//! Plain HTTP/1.1 over tokio's `TcpStream`, written and parsed by hand (chunked bodies, the
//! server-sent events inside them): light enough for tens of thousands of streams in one process.
//!
//! ```text
//! cargo build --release -p server --example postern-streams
//! postern-streams --addr 127.0.0.1:3900 --tokens poll-tokens.txt --count 10000 \
//!     [--pool pool.txt --trials 1000 --end-addr 127.0.0.1:3901] [--hold 30 | --control]
//! ```
//!
//! Every token of `--tokens` (one a line) opens one idle stream (the pages' stream, with its
//! cookie and `Sec-Fetch-Site: same-origin`; `--bearer`: the mail app's). Every line of `--pool`
//! (`<actor token> <victim session id> <victim token>`, from `postern-seed pool`) opens the
//! victim's cookie stream as well (whatever `--bearer` says). Once every stream has had its first
//! `sessions` event (or failed), one JSON line says so (`"phase": "opened"`). Then either `--hold`
//! seconds pass and the trials run, or (`--control`) commands come on stdin, one a line: `trials`,
//! `status`, `quit` (or the end of stdin). A trial ends one victim's session
//! (`DELETE /api/v1/sessions/{id}` with the actor's bearer token, sent to `--end-addr`, by default
//! `--addr`) and times from just before the request is written until the `ended` event arrives on
//! the victim's stream. Each phase prints one JSON line.

use clap::Parser;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch, Notify, Semaphore};

#[derive(Parser)]
#[command(about = "Holds many event streams open against a Postern server and times revocations")]
struct Args {
    /// The instance that holds the streams.
    #[arg(long)]
    addr: SocketAddr,
    /// Tokens, one a line: each opens one idle stream.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Idle streams to open (default: one per token; tokens are reused round-robin if fewer).
    #[arg(long)]
    count: Option<usize>,
    /// The mail app's stream (`GET /api/v1/events`, bearer token) instead of the pages'.
    #[arg(long)]
    bearer: bool,
    /// `<actor token> <victim session id> <victim token>` lines: the victims' streams are opened
    /// too, and each trial ends one of them.
    #[arg(long)]
    pool: Option<PathBuf>,
    /// Trials (at most one per pool line).
    #[arg(long, default_value_t = 1000)]
    trials: usize,
    /// The instance the ends are sent to (default `--addr`).
    #[arg(long)]
    end_addr: Option<SocketAddr>,
    /// Seconds to hold the streams idle before the trials (without `--control`).
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// Take commands on stdin (`trials`, `status`, `quit`) instead of `--hold`.
    #[arg(long)]
    control: bool,
    /// Streams being opened at once (connect, request, first event).
    #[arg(long, default_value_t = 128)]
    parallel: usize,
    /// Seconds a stream may take to its first event, and an `ended` to arrive.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// Counters over every stream, reported in each phase's line.
#[derive(Default)]
struct Totals {
    /// Streams that had their first `sessions` event and are still open.
    open: AtomicUsize,
    heartbeats: AtomicU64,
    /// Events after the first, other than a victim's `ended`.
    other_events: AtomicU64,
    /// Idle streams that closed, or ended, before they were told to.
    lost: AtomicUsize,
}

/// What a victim's stream tells its trial.
#[derive(Default)]
struct Victim {
    /// Its stream had its first event.
    held: std::sync::atomic::AtomicBool,
    ended_at: OnceLock<(Instant, String)>,
    notify: Notify,
}

struct Spec {
    path: &'static str,
    auth: String,
}

impl Spec {
    fn stream(token: &str, bearer: bool) -> Spec {
        if bearer {
            Spec { path: "/api/v1/events", auth: format!("Authorization: Bearer {token}\r\n") }
        } else {
            Spec {
                path: "/api/session/events",
                auth: format!("Cookie: postern_session={token}\r\nSec-Fetch-Site: same-origin\r\n"),
            }
        }
    }
}

/// A stream's outcome before it is held: the time to its first event, or why it failed.
type Ready = Result<Duration, String>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let nofile = rlimit::increase_nofile_limit(u64::MAX)?;
    let end_addr = args.end_addr.unwrap_or(args.addr);
    let timeout = Duration::from_secs(args.timeout);

    let tokens: Vec<String> = match &args.tokens {
        Some(path) => std::fs::read_to_string(path)?.split_whitespace().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let count = args.count.unwrap_or(tokens.len());
    anyhow::ensure!(count == 0 || !tokens.is_empty(), "--count {count} needs --tokens");
    let pool: Vec<(String, String, String)> = match &args.pool {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                Some((it.next()?.to_string(), it.next()?.to_string(), it.next()?.to_string()))
            })
            .take(args.trials)
            .collect(),
        None => Vec::new(),
    };

    let totals = Arc::new(Totals::default());
    let (close_tx, close_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(args.parallel.max(1)));
    let started = Instant::now();
    let mut readies = Vec::with_capacity(count + pool.len());
    let mut victims = Vec::with_capacity(pool.len());
    let mut tasks = Vec::with_capacity(count + pool.len());
    let specs = (0..count)
        .map(|i| (Spec::stream(&tokens[i % tokens.len()], args.bearer), None))
        .chain(pool.iter().map(|(_, _, victim)| {
            let v = Arc::new(Victim::default());
            victims.push(v.clone());
            (Spec::stream(victim, false), Some(v))
        }))
        .collect::<Vec<_>>();
    for (spec, victim) in specs {
        let (tx, rx) = oneshot::channel();
        readies.push(rx);
        let (totals, close, permits) = (totals.clone(), close_rx.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await.ok();
            hold_stream(args.addr, spec, totals, victim, tx, permit, close, timeout).await;
        }));
    }
    let (mut open_ms, mut failures) = (Vec::new(), Vec::new());
    for rx in readies {
        match rx.await {
            Ok(Ok(d)) => open_ms.push(d.as_secs_f64() * 1000.0),
            Ok(Err(why)) => failures.push(why),
            Err(_) => failures.push("stream task ended".to_string()),
        }
    }
    let opened_s = started.elapsed().as_secs_f64();
    failures.sort();
    let mut examples = failures.clone();
    examples.dedup();
    examples.truncate(5);
    line(json!({
        "phase": "opened",
        "streams": count + pool.len(),
        "idle_streams": count,
        "victim_streams": pool.len(),
        "open": totals.open.load(Ordering::SeqCst),
        "failed": failures.len(),
        "failure_examples": examples,
        "all_open_s": round(opened_s, 3),
        "first_event_p50_ms": pct(&mut open_ms, 50.0),
        "first_event_p99_ms": pct(&mut open_ms, 99.0),
        "first_event_max_ms": pct(&mut open_ms, 100.0),
        "nofile_limit": nofile,
    }));

    let mut trials_done = false;
    if args.control {
        // Commands from a thread of its own: tokio's stdin has no line reader without `io-util`.
        let (tx, mut commands) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for cmd in std::io::stdin().lines() {
                let Ok(cmd) = cmd else { break };
                if tx.send(cmd).is_err() {
                    break;
                }
            }
        });
        while let Some(cmd) = commands.recv().await {
            match cmd.trim() {
                "quit" => break,
                "status" => line(status(&totals, started)),
                "trials" if !trials_done => {
                    trials_done = true;
                    line(trials(end_addr, &pool, &victims, timeout).await);
                }
                other => line(json!({ "phase": "error", "unknown_command": other })),
            }
        }
    } else {
        tokio::time::sleep(Duration::from_secs(args.hold)).await;
        if !pool.is_empty() {
            line(trials(end_addr, &pool, &victims, timeout).await);
        }
    }
    let mut last = status(&totals, started);
    last["phase"] = json!("closed");
    close_tx.send_replace(true);
    for t in tasks {
        let _ = t.await;
    }
    line(last);
    Ok(())
}

fn status(totals: &Totals, started: Instant) -> serde_json::Value {
    json!({
        "phase": "status",
        "open": totals.open.load(Ordering::SeqCst),
        "heartbeats": totals.heartbeats.load(Ordering::SeqCst),
        "other_events": totals.other_events.load(Ordering::SeqCst),
        "lost": totals.lost.load(Ordering::SeqCst),
        "elapsed_s": round(started.elapsed().as_secs_f64(), 3),
    })
}

fn line(v: serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The nearest-rank percentile, like bench.py's.
fn pct(xs: &mut [f64], p: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((p / 100.0 * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Some(round(xs[rank - 1], 3))
}

/// One stream: connect, request, wait for the first `sessions` event (reported on `ready`),
/// then read until told to close. A victim's `ended` is recorded with the time it arrived.
#[allow(clippy::too_many_arguments)]
async fn hold_stream(
    addr: SocketAddr,
    spec: Spec,
    totals: Arc<Totals>,
    victim: Option<Arc<Victim>>,
    ready: oneshot::Sender<Ready>,
    mut permit: Option<tokio::sync::OwnedSemaphorePermit>,
    mut close: watch::Receiver<bool>,
    timeout: Duration,
) {
    let t0 = Instant::now();
    let mut ready = Some(ready);
    let fail = |ready: &mut Option<oneshot::Sender<Ready>>, why: String| {
        if let Some(tx) = ready.take() {
            let _ = tx.send(Err(why));
        }
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail(&mut ready, format!("connect: {e}")),
        Err(_) => return fail(&mut ready, "connect: timed out".to_string()),
    };
    let _ = stream.set_nodelay(true);
    let request =
        format!("GET {} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{}\r\n", spec.path, spec.auth);
    drop(spec);
    if let Err(e) = write_all(&stream, request.as_bytes()).await {
        return fail(&mut ready, format!("write: {e}"));
    }
    drop(request);

    let mut reader = Reader::default();
    let mut buf = vec![0u8; 2048];
    let deadline = tokio::time::Instant::now() + timeout;
    let mut held = false;
    loop {
        let n = tokio::select! {
            r = read_some(&stream, &mut buf) => r,
            _ = close.wait_for(|c| *c) => break,
            () = tokio::time::sleep_until(deadline), if ready.is_some() => {
                return fail(&mut ready, "no first event in time".to_string());
            }
        };
        let n = match n {
            Ok(0) | Err(_) => {
                let why = reader.error.take().unwrap_or_else(|| "closed by the server".to_string());
                if held {
                    totals.open.fetch_sub(1, Ordering::SeqCst);
                    if victim.as_ref().is_none_or(|v| v.ended_at.get().is_none()) {
                        totals.lost.fetch_add(1, Ordering::SeqCst);
                    }
                }
                return fail(&mut ready, why);
            }
            Ok(n) => n,
        };
        for ev in reader.feed(&buf[..n]) {
            match ev {
                Sse::Comment(c) if c.starts_with("heartbeat") => {
                    totals.heartbeats.fetch_add(1, Ordering::Relaxed);
                }
                Sse::Comment(_) => {}
                Sse::Event(name, data) if !held => {
                    if name == "sessions" {
                        held = true;
                        totals.open.fetch_add(1, Ordering::SeqCst);
                        permit.take();
                        if let Some(v) = &victim {
                            v.held.store(true, Ordering::SeqCst);
                        }
                        buf.truncate(512);
                        buf.shrink_to_fit();
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(Ok(t0.elapsed()));
                        }
                    } else {
                        fail(&mut ready, format!("first event {name}: {data}"));
                    }
                }
                Sse::Event(name, data) if name == "ended" => match &victim {
                    Some(v) => {
                        let _ = v.ended_at.set((Instant::now(), data));
                        v.notify.notify_one();
                    }
                    None => {
                        totals.lost.fetch_add(1, Ordering::SeqCst);
                    }
                },
                Sse::Event(..) => {
                    totals.other_events.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if reader.error.is_some() && ready.is_some() {
            let why = reader.error.take().unwrap_or_default();
            return fail(&mut ready, why);
        }
    }
    if held {
        totals.open.fetch_sub(1, Ordering::SeqCst);
    }
    // Closed by us: a reset, so that thousands of closes leave no TIME_WAIT ports behind.
    let _ = stream.set_zero_linger();
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.ready(Interest::WRITABLE).await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        stream.ready(Interest::READABLE).await?;
        match stream.try_read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

enum Sse {
    Comment(String),
    Event(String, String),
}

/// The response as it arrives: the head, then a chunked (or unframed) body of server-sent events.
#[derive(Default)]
struct Reader {
    raw: Vec<u8>,
    head_done: bool,
    chunked: bool,
    /// Bytes left of the current chunk (and its CRLF).
    chunk_left: Option<usize>,
    text: Vec<u8>,
    error: Option<String>,
}

impl Reader {
    fn feed(&mut self, bytes: &[u8]) -> Vec<Sse> {
        self.raw.extend_from_slice(bytes);
        if !self.head_done {
            let Some(end) = find(&self.raw, b"\r\n\r\n") else { return Vec::new() };
            let head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
            let status = head.split_whitespace().nth(1).unwrap_or("").to_string();
            if status != "200" {
                let body = String::from_utf8_lossy(&self.raw[end + 4..]).chars().take(200).collect::<String>();
                self.error = Some(format!("status {status}: {body}"));
                return Vec::new();
            }
            self.chunked = head.contains("transfer-encoding: chunked");
            self.raw.drain(..end + 4);
            self.head_done = true;
        }
        self.unframe();
        self.events()
    }

    fn unframe(&mut self) {
        if !self.chunked {
            self.text.append(&mut self.raw);
            return;
        }
        loop {
            match self.chunk_left {
                None => {
                    let Some(eol) = find(&self.raw, b"\r\n") else { return };
                    let size = std::str::from_utf8(&self.raw[..eol])
                        .ok()
                        .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
                    let Some(size) = size else {
                        self.error = Some("bad chunk".to_string());
                        self.raw.clear();
                        return;
                    };
                    self.raw.drain(..eol + 2);
                    self.chunk_left = Some(size + 2);
                }
                Some(left) => {
                    let take = left.min(self.raw.len());
                    if take == 0 {
                        return;
                    }
                    // The chunk's data, without the CRLF that closes it.
                    let data = take.min(left.saturating_sub(2));
                    self.text.extend_from_slice(&self.raw[..data]);
                    self.raw.drain(..take);
                    self.chunk_left = if take == left { None } else { Some(left - take) };
                }
            }
        }
    }

    fn events(&mut self) -> Vec<Sse> {
        let mut out = Vec::new();
        while let Some(end) = find(&self.text, b"\n\n") {
            let block = String::from_utf8_lossy(&self.text[..end]).into_owned();
            self.text.drain(..end + 2);
            let (mut name, mut data) = (None, String::new());
            for l in block.lines() {
                if let Some(c) = l.strip_prefix(':') {
                    out.push(Sse::Comment(c.trim().to_string()));
                } else if let Some(v) = l.strip_prefix("event:") {
                    name = Some(v.trim().to_string());
                } else if let Some(v) = l.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if let Some(name) = name {
                out.push(Sse::Event(name, data));
            } else if !data.is_empty() {
                out.push(Sse::Event("message".to_string(), data));
            }
        }
        if self.text.capacity() > 4096 && self.text.is_empty() {
            self.text.shrink_to_fit();
        }
        if self.raw.capacity() > 4096 && self.raw.is_empty() {
            self.raw.shrink_to_fit();
        }
        out
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Ends each victim's session in turn and times the `ended` on its stream.
async fn trials(
    end_addr: SocketAddr,
    pool: &[(String, String, String)],
    victims: &[Arc<Victim>],
    timeout: Duration,
) -> serde_json::Value {
    let started = Instant::now();
    let mut conn: Option<TcpStream> = None;
    let (mut latency, mut request_ms) = (Vec::new(), Vec::new());
    let mut failures: Vec<String> = Vec::new();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for ((actor, victim_id, _), victim) in pool.iter().zip(victims) {
        if !victim.held.load(Ordering::SeqCst) || victim.ended_at.get().is_some() {
            failures.push("victim stream not open".to_string());
            continue;
        }
        let notified = victim.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let t0 = Instant::now();
        let status = end_session(&mut conn, end_addr, actor, victim_id).await;
        let t1 = Instant::now();
        match status {
            Ok(204) => {}
            Ok(s) => {
                failures.push(format!("DELETE answered {s}"));
                continue;
            }
            Err(e) => {
                failures.push(format!("DELETE failed: {e}"));
                conn = None;
                continue;
            }
        }
        request_ms.push((t1 - t0).as_secs_f64() * 1000.0);
        if victim.ended_at.get().is_none() && tokio::time::timeout(timeout, notified).await.is_err() {
            failures.push("no ended event in time".to_string());
            continue;
        }
        if let Some((at, data)) = victim.ended_at.get() {
            latency.push(at.saturating_duration_since(t0).as_secs_f64() * 1000.0);
            *reasons.entry(data.clone()).or_default() += 1;
        }
    }
    let mut examples = failures.clone();
    examples.sort();
    examples.dedup();
    examples.truncate(5);
    let mean =
        if latency.is_empty() { None } else { Some(round(latency.iter().sum::<f64>() / latency.len() as f64, 3)) };
    json!({
        "phase": "trials",
        "trials": latency.len(),
        "failures": failures.len(),
        "failure_examples": examples,
        "end_addr": end_addr.to_string(),
        "p50_ms": pct(&mut latency, 50.0),
        "p90_ms": pct(&mut latency, 90.0),
        "p99_ms": pct(&mut latency, 99.0),
        "max_ms": pct(&mut latency, 100.0),
        "mean_ms": mean,
        "delete_p50_ms": pct(&mut request_ms, 50.0),
        "delete_p99_ms": pct(&mut request_ms, 99.0),
        "ended_data": reasons,
        "seconds": round(started.elapsed().as_secs_f64(), 2),
    })
}

/// `DELETE /api/v1/sessions/{id}` on a kept-alive connection; its status.
async fn end_session(
    conn: &mut Option<TcpStream>,
    addr: SocketAddr,
    actor: &str,
    victim_id: &str,
) -> std::io::Result<u16> {
    if conn.is_none() {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        *conn = Some(s);
    }
    let stream = conn.as_ref().expect("connected above");
    let request = format!(
        "DELETE /api/v1/sessions/{victim_id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {actor}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    write_all(stream, request.as_bytes()).await?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = read_some(stream, &mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = find(&raw, b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if head.contains("transfer-encoding: chunked") {
            // Not expected from this endpoint; read up to the last chunk and start afresh.
            while find(&raw[end..], b"\r\n0\r\n\r\n").is_none() {
                let n = read_some(stream, &mut buf).await?;
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            *conn = None;
            return Ok(status);
        }
        while raw.len() < end + 4 + length {
            let n = read_some(stream, &mut buf).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        if head.contains("connection: close") {
            *conn = None;
        }
        return Ok(status);
    }
}
