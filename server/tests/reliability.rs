//! Reliability: concurrent writers, a server killed with SIGKILL in the middle of a burst, and a
//! database that goes away and comes back — on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The real server binary, started as its own process.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    async fn start(db: &TestDb) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--database-url", &db.url, "--listen", &format!("127.0.0.1:{port}"), "--public-url", &base])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let mut process = Process { child, base: base.clone() };
        let http = client();
        for _ in 0..300 {
            if let Ok(res) = http.get(format!("{base}/readyz")).send().await {
                if res.status() == StatusCode::OK {
                    return process;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process.kill();
        panic!("the server did not become ready");
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

#[derive(Clone, Debug)]
struct PasswordChange {
    email: String,
    /// An app session from before the burst: a change that took effect ended it.
    bystander: String,
    answered_ok: bool,
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

    async fn a_server_killed_mid_burst_keeps_every_answered_change_and_nothing_half_applied(db) {
        let mut process = Process::start(&db).await;
        let base = process.base.clone();

        // Accounts whose app sessions are logged in and ended during the burst.
        let mut managers = Vec::new();
        for i in 0..4 {
            let email = format!("burst{i}@example.com");
            let mut browser = Browser::at(&base, None);
            assert_eq!(browser.sign_up("Burst", &email, PASSWORD).await.status, StatusCode::OK);
            let mut manager = MailApp::at(&base, None);
            assert_eq!(manager.log_in(&email, PASSWORD, "Manager").await.status, StatusCode::OK);
            managers.push((email, manager));
        }
        // Accounts whose password changes during the burst.
        let mut changers = Vec::new();
        for i in 0..3 {
            let email = format!("change{i}@example.com");
            let mut browser = Browser::at(&base, None);
            assert_eq!(browser.sign_up("Change", &email, PASSWORD).await.status, StatusCode::OK);
            let mut bystander = MailApp::at(&base, None);
            assert_eq!(bystander.log_in(&email, PASSWORD, "Bystander").await.status, StatusCode::OK);
            changers.push((email, browser, bystander.token.clone().unwrap()));
        }

        let logins: Arc<Mutex<Vec<Login>>> = Arc::default();
        let changes: Arc<Mutex<Vec<PasswordChange>>> = Arc::default();
        let mut tasks = Vec::new();
        for (email, manager) in managers {
            let (logins, base) = (logins.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let app = MailApp::at(&base, None);
                    let Ok(res) = app.request(Method::POST, "/api/v1/login")
                        .json(&serde_json::json!({"email": email, "password": PASSWORD, "device_name": format!("Phone {n}")}))
                        .send().await else { return };
                    if res.status() != StatusCode::OK { return; }
                    let Ok(body) = res.json::<serde_json::Value>().await else { return };
                    let token = body["token"].as_str().unwrap().to_string();
                    let session_id = body["session_id"].as_str().unwrap().to_string();
                    let index = {
                        let mut l = logins.lock().unwrap();
                        l.push(Login { token, ended: None });
                        l.len() - 1
                    };
                    if n % 2 == 0 {
                        logins.lock().unwrap()[index].ended = Some(false);
                        let Ok(res) = manager.request(Method::DELETE, &format!("/api/v1/sessions/{session_id}")).send().await else { return };
                        if res.status() != StatusCode::NO_CONTENT { return; }
                        logins.lock().unwrap()[index].ended = Some(true);
                    }
                }
            }));
        }
        for (email, mut browser, bystander) in changers {
            let changes = changes.clone();
            tasks.push(tokio::spawn(async move {
                let index = {
                    let mut c = changes.lock().unwrap();
                    c.push(PasswordChange { email, bystander, answered_ok: false });
                    c.len() - 1
                };
                let form = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
                let answer = browser.try_call("change_password", &form).await;
                if answer.is_some_and(|a| a.status == StatusCode::OK) {
                    changes.lock().unwrap()[index].answered_ok = true;
                }
            }));
        }

        tokio::time::sleep(Duration::from_millis(1500)).await;
        process.kill();
        for task in tasks {
            let _ = task.await;
        }

        let process = Process::start(&db).await;
        let base = process.base.clone();
        let logins = logins.lock().unwrap().clone();
        assert!(logins.len() >= 4, "the burst made too few logins to prove anything: {}", logins.len());
        for login in &logins {
            let me = MailApp::at(&base, Some(login.token.clone())).me().await;
            match login.ended {
                Some(true) => {
                    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "an acknowledged end was lost: {login:?}");
                    assert_eq!(me.json()["reason"], "ended_by_user");
                }
                None => assert_eq!(me.status, StatusCode::OK, "an acknowledged login was lost: {login:?}"),
                // Asked without an answer: either outcome, but a whole one.
                Some(false) => assert!(me.status == StatusCode::OK || me.json()["reason"] == "ended_by_user", "{}", me.text),
            }
        }
        let changes = changes.lock().unwrap().clone();
        for change in &changes {
            let old = MailApp::at(&base, None).log_in(&change.email, PASSWORD, "Check").await.status == StatusCode::OK;
            let new = MailApp::at(&base, None).log_in(&change.email, NEW_PASSWORD, "Check").await.status == StatusCode::OK;
            assert!(old != new, "exactly one password works for {}: old {old}, new {new}", change.email);
            if change.answered_ok {
                assert!(new, "an acknowledged password change was lost for {}", change.email);
            }
            let bystander = MailApp::at(&base, Some(change.bystander.clone())).me().await;
            if new {
                assert_eq!(bystander.status, StatusCode::UNAUTHORIZED, "password changed but other sessions survived");
                assert_eq!(bystander.json()["reason"], "password_changed");
            } else {
                assert_eq!(bystander.status, StatusCode::OK, "password unchanged but a session ended");
            }
        }
    }
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
async fn postgres_going_away_answers_503_logs_nobody_out_and_recovers_without_a_restart() {
    let Some(db) = TestDb::postgres().await else { return };
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
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "a page is not a redirect to the login page: {}", page.text);
    let me = app.me().await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(me.json()["error"], "unavailable");
    let login = server.app().log_in("ada@example.com", PASSWORD, "Tablet").await;
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE, "{}", login.text);
    assert!(web.cookie.is_some(), "the outage cleared nobody's cookie");

    outage.restore();
    let mut ok = false;
    for _ in 0..50 {
        if web.get("/api/session/status").await.status == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the server did not reconnect by itself");
    assert_eq!(web.status().await["state"], "active");
    assert_eq!(app.me().await.status, StatusCode::OK);
    assert_eq!(web.get("/settings/sessions").await.status, StatusCode::OK);
}
