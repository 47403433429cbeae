//! For the people who run it (issue 16), with the real binary: `/metrics` on its own listener
//! (off by default) with the counters a scripted run implies and no personal data in any label,
//! JSON log lines that carry the request id (taken over from a trusted proxy only when short and
//! plain), and the request id in every answer.

#[macro_use]
mod common;

use common::*;
use reqwest::{Method, StatusCode};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server binary as its own process, its log in a file.
struct Process {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Process {
    async fn start(db: &TestDb, extra: &[&str], rust_log: &str) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("postern-ops-{}.log", random_hex()));
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--database-url", &db.url, "--listen", &format!("127.0.0.1:{port}"), "--public-url", &base])
            .args(extra)
            .env("RUST_LOG", rust_log)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let process = Process { child, base, log };
        let http = client();
        eventually(Duration::from_secs(120), "the server is ready", || {
            let url = format!("{}/readyz", process.base);
            let http = http.clone();
            async move { http.get(url).send().await.is_ok_and(|r| r.status() == StatusCode::OK) }
        })
        .await;
        process
    }

    /// SIGTERM, and the log once the process has exited.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit after SIGTERM: {status}");
        let log = std::fs::read_to_string(&self.log).unwrap();
        let _ = std::fs::remove_file(&self.log);
        log
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the metric line that starts with `series` (name and labels as written).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

backend_tests! {
    async fn metrics_count_what_a_scripted_run_did_and_name_nobody(db) {
        let metrics_port = free_port();
        let metrics_addr = format!("127.0.0.1:{metrics_port}");
        let process = Process::start(&db, &["--metrics-listen", &metrics_addr], "warn").await;
        let mut web = Browser::at(&process.base, None);
        assert_eq!(web.sign_up("Ada", "ada@example.com", PASSWORD).await.status, StatusCode::OK);
        let mut wrong = Browser::at(&process.base, None);
        assert_eq!(wrong.log_in("ada@example.com", "Not-The-Password-1", false).await.status, StatusCode::UNAUTHORIZED);
        let mut laptop = Browser::at(&process.base, None);
        assert_eq!(laptop.log_in("ada@example.com", PASSWORD, false).await.status, StatusCode::OK);
        let mut app = MailApp::at(&process.base, None);
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let laptop_id = laptop.session_id().await;
        assert_eq!(app.send(Method::DELETE, &format!("/api/v1/sessions/{laptop_id}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(web.get("/settings/sessions").await.status, StatusCode::OK);
        let mut stream = web.events().await;
        assert!(stream.expect("sessions").await["sessions_version"].is_i64());

        let scrape = || async {
            client().get(format!("http://{metrics_addr}/metrics")).send().await.unwrap().text().await.unwrap()
        };
        let text = scrape().await;
        let expect = [
            (r#"postern_logins_total{result="ok"}"#, 2.0),
            (r#"postern_logins_total{result="invalid"}"#, 1.0),
            ("postern_signups_total", 1.0),
            (r#"postern_sessions_started_total{kind="browser"}"#, 2.0),
            (r#"postern_sessions_started_total{kind="app"}"#, 1.0),
            (r#"postern_sessions_ended_total{reason="ended_by_user"}"#, 1.0),
            ("postern_event_streams_open", 1.0),
            (r#"postern_http_requests_total{route="/api/v1/sessions/{id}",method="DELETE",status="204"}"#, 1.0),
            (r#"postern_db_write_seconds_count{write="end_session"}"#, 1.0),
        ];
        for (series, value) in expect {
            assert_eq!(metric(&text, series), Some(value), "{series} in:\n{text}");
        }
        assert!(text.contains("postern_http_request_duration_seconds_bucket"), "a latency histogram");
        // Each write path's latency as quantiles, the p99 the benchmark reports among them.
        assert!(text.contains(r#"postern_db_write_seconds{write="end_session",quantile="0.99"}"#), "{text}");
        assert!(text.contains(r#"postern_db_write_seconds_count{write="create_account"}"#), "{text}");
        assert!(text.contains(r#"route="/settings/sessions""#), "pages by their template:\n{text}");
        for personal in ["ada@example.com", "127.0.0.1", laptop_id.as_str(), web.cookie.as_deref().unwrap(),
                         app.token.as_deref().unwrap(), "Pixel 8"] {
            assert!(!text.contains(personal), "{personal:?} in a metric");
        }
        // Never on the public listener.
        assert_eq!(web.get("/metrics").await.status, StatusCode::NOT_FOUND);
        drop(stream);
        eventually(Duration::from_secs(30), "the closed stream leaves the gauge", || async {
            metric(&scrape().await, "postern_event_streams_open") == Some(0.0)
        }).await;
        process.stop();
    }

    async fn json_logs_carry_the_request_id_and_no_secret(db) {
        let process =
            Process::start(&db, &["--log-format", "json", "--trusted-proxies", "127.0.0.1"], "info,server=debug").await;
        let mut web = Browser::at(&process.base, None);
        let res = web.sign_up("Ada", "ada@example.com", PASSWORD).await;
        let id = res.header("x-request-id").expect("every answer has a request id").to_string();
        assert!(id.len() >= 16, "{id}");
        // A trusted proxy's plain id is kept; anything else is replaced.
        let http = client();
        let sent = http.get(format!("{}/healthz", process.base)).header("x-request-id", "lb-7f3a.42_x").send().await.unwrap();
        assert_eq!(sent.headers()["x-request-id"], "lb-7f3a.42_x");
        let odd = http.get(format!("{}/healthz", process.base)).header("x-request-id", "a b;<c>").send().await.unwrap();
        assert_ne!(odd.headers()["x-request-id"], "a b;<c>");
        let token = web.cookie.clone().unwrap();
        let log = process.stop();

        let lines: Vec<serde_json::Value> = log
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l}")))
            .collect();
        assert!(!lines.is_empty());
        let of_request: Vec<&serde_json::Value> =
            lines.iter().filter(|l| l["span"]["request_id"] == id.as_str()).collect();
        assert!(!of_request.is_empty(), "the sign-up's log lines carry its request id {id}:\n{log}");
        assert!(lines.iter().any(|l| l["span"]["request_id"] == "lb-7f3a.42_x"), "the proxy's id is in the log");
        assert!(!log.contains(PASSWORD), "no password in the log");
        assert!(!log.contains(&token), "no token in the log");
    }
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    use clap::Parser;
    let config = server::config::Config::parse_from(["postern"]);
    assert!(config.metrics_listen.is_none());
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    assert!(server.state.metrics.is_none());
    let mut web = server.sign_up("Ada", "ada@example.com").await;
    let res = web.get("/metrics").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.text.contains("# TYPE"), "no metric on the public listener");
}
