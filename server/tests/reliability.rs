//! Reliability: concurrent writers, a server killed with SIGKILL in the middle of a burst, and a
//! database that goes away and comes back — on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The real server binary, started as its own process.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    async fn start(db: &TestDb, extra_args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        // POSTERN_TEST_SERVER_BIN: a copy of the binary (scripts/stress-test.sh runs copies, so
        // that a build meanwhile cannot swap the program under test).
        let program =
            std::env::var_os("POSTERN_TEST_SERVER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_server").into());
        let child = Command::new(program)
            .args(["--database-url", &db.url, "--listen", &format!("127.0.0.1:{port}"), "--public-url", &base])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let mut process = Process { child, base: base.clone() };
        let http = client();
        let ready = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                if let Ok(res) = http.get(format!("{base}/readyz")).send().await {
                    if res.status() == StatusCode::OK {
                        return;
                    }
                }
                if let Ok(Some(exit)) = process.child.try_wait() {
                    panic!("the server binary exited before it was ready: {exit}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if ready.is_err() {
            process.kill();
            panic!("the server did not become ready within 120 s");
        }
        process
    }

    /// SIGTERM, and the exit status once the process has stopped.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success());
        self.child.wait().expect("wait for the server")
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the burst was told, per app session.
#[derive(Clone, Debug)]
struct Login {
    token: String,
    /// `None`: no end was asked for; `Some(false)`: asked, no answer; `Some(true)`: 204.
    ended: Option<bool>,
}

/// One password change of a burst account, from the password before it to `to`.
#[derive(Clone, Debug)]
struct PasswordChange {
    to: String,
    /// An app session logged in just before the change: a change that took effect ended it.
    bystander: String,
    answered_ok: bool,
}

/// The burst's shared state: what was acknowledged, and whatever a task did not expect.
#[derive(Default)]
struct Burst {
    /// Logins answered 200 and ends answered 204.
    acknowledged_sessions: AtomicUsize,
    /// Password changes answered 200.
    acknowledged_changes: AtomicUsize,
    /// Set just before the SIGKILL: from then on, a request without an answer is expected.
    killed: AtomicBool,
    surprises: Mutex<Vec<String>>,
}

/// A request that got no answer, or one the burst did not expect.
enum Stop {
    NoAnswer,
    Surprise,
}

impl Burst {
    /// Sends `req`: the answer, or why the task must stop (a surprise is recorded).
    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> Result<Answer, Stop> {
        match req.send().await {
            Ok(res) => Ok(Answer::read(res).await),
            Err(e) => self.no_answer(what, e),
        }
    }

    fn no_answer<T>(&self, what: &str, e: impl std::fmt::Display) -> Result<T, Stop> {
        if self.killed.load(Ordering::SeqCst) {
            Err(Stop::NoAnswer)
        } else {
            self.surprise(format!("{what}: no answer before the kill: {e}"))
        }
    }

    fn surprise<T>(&self, what: String) -> Result<T, Stop> {
        self.surprises.lock().unwrap().push(what);
        Err(Stop::Surprise)
    }

    /// Any answer but the one asked for. None is legitimate here: successful logins are never
    /// throttled (no 429), and with the hashing queue's timeout out of the way a 503 would mean
    /// a write failed ("database is locked"), which must never reach anyone.
    fn unexpected<T>(&self, what: &str, answer: &Answer) -> Result<T, Stop> {
        self.surprise(format!("{what}: unexpected {} {}", answer.status, answer.text))
    }

    /// The JSON of an answer; a body cut short by the kill is no answer.
    fn json(&self, what: &str, answer: &Answer) -> Result<serde_json::Value, Stop> {
        match serde_json::from_str(&answer.text) {
            Ok(value) => Ok(value),
            Err(_) if self.killed.load(Ordering::SeqCst) => Err(Stop::NoAnswer),
            Err(_) => self.unexpected(what, answer),
        }
    }
}

/// Kill once this many logins and ends, and this many password changes, were acknowledged.
const KILL_AFTER_SESSIONS: usize = 12;
const KILL_AFTER_CHANGES: usize = 3;
/// Generous: under a CPU hog on both cores, a real argon2 hash at nice 19 takes seconds, and
/// the burst took up to 83 s to get there (load average 12, stress-ng and builds).
const BURST_DEADLINE: Duration = Duration::from_secs(300);
/// Bounds each task well below the session limit (100 per account), so that the limit never
/// ends a session the burst was told is active.
const LOGINS_PER_ACCOUNT: usize = 40;
const CHANGES_PER_ACCOUNT: usize = 20;

/// Logs app sessions of `email` in and ends every other one through `manager`, until the kill.
async fn log_in_and_end(
    burst: &Burst,
    logins: &Mutex<Vec<Login>>,
    base: &str,
    email: &str,
    manager: &MailApp,
) -> Result<(), Stop> {
    let http = client_with_timeout(BURST_DEADLINE);
    for n in 0..LOGINS_PER_ACCOUNT {
        let what = format!("login {n} of {email}");
        let body = serde_json::json!({"email": email, "password": PASSWORD, "device_name": format!("Phone {n}")});
        let answer = burst.send(&what, http.post(format!("{base}/api/v1/login")).json(&body)).await?;
        if answer.status != StatusCode::OK {
            return burst.unexpected(&what, &answer);
        }
        let body = burst.json(&what, &answer)?;
        let (Some(token), Some(session_id)) = (body["token"].as_str(), body["session_id"].as_str()) else {
            return burst.unexpected(&what, &answer);
        };
        let index = {
            let mut l = logins.lock().unwrap();
            l.push(Login { token: token.to_string(), ended: None });
            l.len() - 1
        };
        burst.acknowledged_sessions.fetch_add(1, Ordering::SeqCst);
        if n % 2 == 0 {
            let what = format!("end of {what}");
            logins.lock().unwrap()[index].ended = Some(false);
            let req =
                manager.request(Method::DELETE, &format!("/api/v1/sessions/{session_id}")).timeout(BURST_DEADLINE);
            let answer = burst.send(&what, req).await?;
            if answer.status != StatusCode::NO_CONTENT {
                return burst.unexpected(&what, &answer);
            }
            logins.lock().unwrap()[index].ended = Some(true);
            burst.acknowledged_sessions.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// Changes the password of `browser`'s account again and again, each time with a bystander app
/// session logged in just before, until the kill.
async fn change_passwords(
    burst: &Burst,
    changes: &Mutex<Vec<PasswordChange>>,
    base: &str,
    email: &str,
    browser: &mut Browser,
) -> Result<(), Stop> {
    let http = client_with_timeout(BURST_DEADLINE);
    let mut current = PASSWORD.to_string();
    for k in 0..CHANGES_PER_ACCOUNT {
        let what = format!("bystander login before change {k} of {email}");
        let body = serde_json::json!({"email": email, "password": current, "device_name": format!("Bystander {k}")});
        let answer = burst.send(&what, http.post(format!("{base}/api/v1/login")).json(&body)).await?;
        if answer.status != StatusCode::OK {
            return burst.unexpected(&what, &answer);
        }
        let Some(bystander) = burst.json(&what, &answer)?["token"].as_str().map(str::to_string) else {
            return burst.unexpected(&what, &answer);
        };
        let what = format!("password change {k} of {email}");
        let next = format!("{NEW_PASSWORD}-{k}");
        changes.lock().unwrap().push(PasswordChange { to: next.clone(), bystander, answered_ok: false });
        let form = [("current_password", current.as_str()), ("new_password", &next), ("repeat_new_password", &next)];
        let Some(answer) = browser.try_call("change_password", &form).await else {
            return burst.no_answer(&what, "the request failed");
        };
        if answer.status != StatusCode::OK {
            return burst.unexpected(&what, &answer);
        }
        changes.lock().unwrap().last_mut().unwrap().answered_ok = true;
        burst.acknowledged_changes.fetch_add(1, Ordering::SeqCst);
        current = next;
    }
    Ok(())
}

backend_tests! {
    async fn concurrent_logins_and_revocations_never_fail(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut manager = server.app();
        assert_eq!(manager.log_in("ada@example.com", PASSWORD, "Manager").await.status, StatusCode::OK);
        let mut tasks = Vec::new();
        for i in 0..24 {
            let mut app = server.app();
            let manager = manager.clone();
            tasks.push(tokio::spawn(async move {
                let login = app.log_in("ada@example.com", PASSWORD, &format!("Phone {i}")).await;
                assert_eq!(login.status, StatusCode::OK, "login {i}: {}", login.text);
                let id = app.session_id().await;
                let end = manager.send(Method::DELETE, &format!("/api/v1/sessions/{id}")).await;
                assert_eq!(end.status, StatusCode::NO_CONTENT, "end {i}: {}", end.text);
                assert_eq!(app.me().await.status, StatusCode::UNAUTHORIZED);
            }));
        }
        for task in tasks {
            task.await.expect("no request failed");
        }
        assert_eq!(manager.me().await.status, StatusCode::OK);
    }

    async fn sigterm_closes_open_event_streams_with_a_retry_hint_and_exits(db) {
        let started = tokio::time::Instant::now();
        let mut process = Process::start(&db, &["--shutdown-timeout-secs", "1"]).await;
        // The shutdown timeout bounds the shutdown only: the server serves past it.
        tokio::time::sleep_until(started + Duration::from_millis(1500)).await;
        assert_eq!(client().get(format!("{}/healthz", process.base)).send().await.unwrap().status(), StatusCode::OK);
        let mut web = Browser::at(&process.base, None);
        let res = web.sign_up("Ada", "ada@example.com", PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let mut stream = web.events().await;
        assert!(stream.expect("sessions").await["sessions_version"].is_i64());
        let pid = process.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success());
        // The stream ends with a short retry and no event: the browser reconnects elsewhere
        // without showing anything; the open stream does not hold the shutdown up.
        let last = stream.next_block().await.expect("a last block before the close");
        assert_eq!(last.retry, Some(500), "{last:?}");
        assert!(last.event.is_none(), "{last:?}");
        stream.expect_closed().await;
        let exited = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(Some(status)) = process.child.try_wait() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the server exits after SIGTERM");
        assert!(exited.success(), "{exited}");
    }

    async fn a_server_killed_mid_burst_keeps_every_answered_change_and_nothing_half_applied(db) {
        stopped_mid_burst(&db, Halt::Kill).await;
    }

    async fn sigterm_mid_burst_answers_what_it_took_applies_it_whole_and_exits_0(db) {
        stopped_mid_burst(&db, Halt::Term).await;
    }
}

/// How the burst's server is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Halt {
    /// SIGKILL: no shutdown code runs.
    Kill,
    /// SIGTERM: the requests in flight finish, then the process exits 0.
    Term,
}

/// A burst of logins, ends and password changes, stopped by `how` once enough was acknowledged;
/// then every acknowledged change must be there, whole, and nothing half applied.
async fn stopped_mid_burst(db: &TestDb, how: Halt) {
    // Real argon2 on a loaded machine may wait long for a hashing slot; that is not what
    // this test is about, so the queue's timeout (and its 503) is kept out of the way.
    let queue_timeout = BURST_DEADLINE.as_secs().to_string();
    // Both cores hash: at nice 19 under a CPU hog one slot would make this test crawl.
    let started = std::time::Instant::now();
    let mut process =
        Process::start(db, &["--hash-queue-timeout-secs", &queue_timeout, "--hash-concurrency", "2"]).await;
    let base = process.base.clone();
    let patient = client_with_timeout(BURST_DEADLINE);

    // Accounts whose app sessions are logged in and ended during the burst, and accounts whose
    // password changes again and again; set up in parallel (each costs a few hashes).
    let managers: Vec<_> = (0..4)
        .map(|i| tokio::spawn(with_manager(base.clone(), patient.clone(), format!("burst{i}@example.com"))))
        .collect();
    let changers: Vec<_> = (0..3)
        .map(|i| {
            let (base, patient, email) = (base.clone(), patient.clone(), format!("change{i}@example.com"));
            tokio::spawn(async move { (email.clone(), signed_up(&base, patient, &email).await) })
        })
        .collect();
    let mut setup = (Vec::new(), Vec::new());
    for task in managers {
        setup.0.push(task.await.expect("set up an account whose sessions come and go"));
    }
    for task in changers {
        setup.1.push(task.await.expect("set up an account whose password changes"));
    }
    let (managers, changers) = setup;

    let burst = Arc::new(Burst::default());
    let logins: Arc<Mutex<Vec<Login>>> = Arc::default();
    let mut changes: Vec<(String, Arc<Mutex<Vec<PasswordChange>>>)> = Vec::new();
    let mut tasks = Vec::new();
    for (email, manager) in managers {
        let (burst, logins, base) = (burst.clone(), logins.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let _ = log_in_and_end(&burst, &logins, &base, &email, &manager).await;
        }));
    }
    for (email, mut browser) in changers {
        let (burst, base, log) = (burst.clone(), base.clone(), Arc::<Mutex<Vec<PasswordChange>>>::default());
        changes.push((email.clone(), log.clone()));
        tasks.push(tokio::spawn(async move {
            let _ = change_passwords(&burst, &log, &base, &email, &mut browser).await;
        }));
    }

    let burst_started = std::time::Instant::now();
    // The kill comes once enough was acknowledged, however long that takes, while the
    // tasks still have requests in flight.
    let deadline = tokio::time::Instant::now() + BURST_DEADLINE;
    loop {
        let sessions = burst.acknowledged_sessions.load(Ordering::SeqCst);
        let changed = burst.acknowledged_changes.load(Ordering::SeqCst);
        if sessions >= KILL_AFTER_SESSIONS && changed >= KILL_AFTER_CHANGES {
            break;
        }
        let surprises = burst.surprises.lock().unwrap().clone();
        assert!(surprises.is_empty(), "the burst met answers it did not expect:\n{}", surprises.join("\n"));
        assert!(
                tokio::time::Instant::now() < deadline && !tasks.iter().all(|t| t.is_finished()),
                "the burst was not far enough along to kill the server after {BURST_DEADLINE:?}: {sessions} of \
                 {KILL_AFTER_SESSIONS} logins and ends and {changed} of {KILL_AFTER_CHANGES} password changes acknowledged",
            );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    burst.killed.store(true, Ordering::SeqCst);
    match how {
        Halt::Kill => process.kill(),
        Halt::Term => {
            let status = process.terminate();
            assert!(status.success(), "exit after SIGTERM: {status}");
        }
    }
    let killed_at = std::time::Instant::now();
    for task in tasks {
        task.await.expect("a burst task panicked");
    }
    let surprises = burst.surprises.lock().unwrap().clone();
    assert!(surprises.is_empty(), "the burst met answers it did not expect:\n{}", surprises.join("\n"));

    let process = Process::start(db, &[]).await;
    let base = process.base.clone();
    let logins = logins.lock().unwrap().clone();
    for login in &logins {
        let me = MailApp::at(&base, Some(login.token.clone())).me().await;
        match login.ended {
            Some(true) => {
                assert_eq!(me.status, StatusCode::UNAUTHORIZED, "an acknowledged end was lost: {login:?}");
                assert_eq!(me.json()["reason"], "ended_by_user");
            }
            None => assert_eq!(me.status, StatusCode::OK, "an acknowledged login was lost: {login:?}: {}", me.text),
            // Asked without an answer: either outcome, but a whole one.
            Some(false) => {
                assert!(me.status == StatusCode::OK || me.json()["reason"] == "ended_by_user", "{}", me.text)
            }
        }
    }
    for (email, log) in &changes {
        let log = log.lock().unwrap().clone();
        // Every change but the last was acknowledged (a task goes on only after a 200); the
        // last may have been in flight when the server died.
        let acknowledged = log.iter().take_while(|c| c.answered_ok).count();
        assert!(log.len() - acknowledged <= 1, "{email}: {log:?}");
        let password_after = |n: usize| if n == 0 { PASSWORD.to_string() } else { log[n - 1].to.clone() };
        for change in &log[..acknowledged] {
            let bystander = MailApp::at(&base, Some(change.bystander.clone())).me().await;
            assert_eq!(
                bystander.status,
                StatusCode::UNAUTHORIZED,
                "an acknowledged password change of {email} left another session: {change:?}"
            );
            assert_eq!(bystander.json()["reason"], "password_changed");
        }
        if acknowledged > 0 {
            let earlier = password_works(&base, email, &password_after(acknowledged - 1)).await;
            assert!(!earlier, "{email}: the password before an acknowledged change still works");
        }
        let old = password_works(&base, email, &password_after(acknowledged)).await;
        match log.get(acknowledged) {
            None => assert!(old, "{email}: the password of its last acknowledged change does not work"),
            Some(in_flight) => {
                let new = password_works(&base, email, &in_flight.to).await;
                assert!(
                    old != new,
                    "{email}: exactly one of the passwords around the change in flight works: old {old}, new {new}"
                );
                let bystander = MailApp::at(&base, Some(in_flight.bystander.clone())).me().await;
                if new {
                    assert_eq!(
                        bystander.status,
                        StatusCode::UNAUTHORIZED,
                        "password changed but other sessions survived"
                    );
                    assert_eq!(bystander.json()["reason"], "password_changed");
                } else {
                    assert_eq!(
                        bystander.status,
                        StatusCode::OK,
                        "password unchanged but a session ended: {}",
                        bystander.text
                    );
                }
            }
        }
    }
    eprintln!(
        "{} ({how:?}): {} logins ({} ended on request) and {} password changes acknowledged before the kill; \
             setup {:.1?}, burst {:.1?}, checks {:.1?}",
        db.backend,
        logins.len(),
        logins.iter().filter(|l| l.ended == Some(true)).count(),
        burst.acknowledged_changes.load(Ordering::SeqCst),
        burst_started - started,
        killed_at - burst_started,
        killed_at.elapsed(),
    );
}

/// A browser signed up as `email` through `http`.
async fn signed_up(base: &str, http: reqwest::Client, email: &str) -> Browser {
    let mut browser = Browser::at_with(base, http);
    let signup = browser.sign_up("Burst", email, PASSWORD).await;
    assert_eq!(signup.status, StatusCode::OK, "{}", signup.text);
    browser
}

/// An account `email` and a mail app logged in to it (that ends the burst's sessions).
async fn with_manager(base: String, http: reqwest::Client, email: String) -> (String, MailApp) {
    signed_up(&base, http.clone(), &email).await;
    let mut manager = MailApp::at_with(&base, http);
    let login = manager.log_in(&email, PASSWORD, "Manager").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    (email, manager)
}

/// Whether `password` logs `email` in (a fresh app session).
async fn password_works(base: &str, email: &str, password: &str) -> bool {
    let mut app = MailApp::at_with(base, client_with_timeout(BURST_DEADLINE));
    let answer = app.log_in(email, password, "Check").await;
    assert!(
        matches!(answer.status, StatusCode::OK | StatusCode::UNAUTHORIZED),
        "checking a password of {email}: {} {}",
        answer.status,
        answer.text
    );
    answer.status == StatusCode::OK
}

/// A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones: the
/// database "going away" without disturbing other tests that share the cluster.
struct Outage {
    addr: std::net::SocketAddr,
    down: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Outage {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (d, l) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: connection refused, in effect
                }
                let upstream = upstream.clone();
                l.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Outage { addr, down, links }
    }

    fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postern_pg), ignore = "needs PostgreSQL: set POSTERN_TEST_POSTGRES_URL (scripts/pg-test-db.sh --admin)")]
async fn postgres_going_away_answers_503_logs_nobody_out_and_recovers_without_a_restart() {
    let db = TestDb::postgres().await;
    let host_start = db.url.find('@').expect("credentials in the URL") + 1;
    let host_end = host_start + db.url[host_start..].find('/').unwrap();
    let outage = Outage::start(db.url[host_start..host_end].to_string()).await;
    let proxied = db.via(format!("{}{}{}", &db.url[..host_start], outage.addr, &db.url[host_end..]));

    let server = TestServer::start(&proxied).await;
    let mut web = server.sign_up("Ada", "ada@example.com").await;
    let mut app = server.app();
    assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);

    outage.cut();
    let status = web.get("/api/session/status").await;
    assert_eq!(status.status, StatusCode::SERVICE_UNAVAILABLE, "{}", status.text);
    assert_eq!(status.json()["error"], "unavailable");
    let page = web.get("/settings/sessions").await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a page is not a redirect to the login page: {}",
        page.text
    );
    let me = app.me().await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(me.json()["error"], "unavailable");
    let login = server.app().log_in("ada@example.com", PASSWORD, "Tablet").await;
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE, "{}", login.text);
    assert!(web.cookie.is_some(), "the outage cleared nobody's cookie");

    outage.restore();
    eventually(Duration::from_secs(60), "reconnecting by itself", || {
        let mut web = web.clone();
        async move { web.get("/api/session/status").await.status == StatusCode::OK }
    })
    .await;
    assert_eq!(web.status().await["state"], "active");
    assert_eq!(app.me().await.status, StatusCode::OK);
    assert_eq!(web.get("/settings/sessions").await.status, StatusCode::OK);
}
