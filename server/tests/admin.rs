//! The operators' commands (`server admin …`, issue 16) as the real binary, against a real
//! database of each backend, next to a running server: what each prints (text and `--json`), its
//! exit code, its bad-input answers, and that an end made by the command reaches the person's
//! devices like any other (the next request, the poll, the event stream from another process).

#[macro_use]
mod common;

use app::ssr::{Clock, ManualClock, SystemClock};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;

/// What a run of the binary said.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.stdout))
    }
}

/// `server --database-url URL admin ARGS…`, off the async runtime's threads.
async fn admin(db: &TestDb, args: &[&str]) -> Run {
    let mut all: Vec<String> = vec!["--database-url".into(), db.url.clone(), "admin".into()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(&all)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run the binary");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// A server whose clock reads the real time, which is the command's clock too.
async fn server_now(db: &TestDb) -> TestServer {
    TestServer::start_with(db, ManualClock::new(SystemClock.now_ms()), &[]).await
}

async fn logged_in(server: &TestServer, remember: bool) -> Browser {
    server.logged_in("ada@example.com", PASSWORD, remember).await
}

backend_tests! {
    async fn ending_one_session_reaches_its_device_at_once(db) {
        let server = server_now(&db).await;
        let _ada = server.sign_up("Ada", "ada@example.com").await;
        let mut laptop = logged_in(&server, false).await;
        let laptop_id = laptop.session_id().await;
        let mut stream = laptop.events().await;
        assert!(stream.expect("sessions").await["sessions_version"].is_i64());

        let run = admin(&db, &["sessions", "end", "ada@example.com", "--session", &laptop_id]).await;
        assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
        assert_eq!(run.stdout.trim(), format!("Ended session {laptop_id} of ada@example.com."));
        // Another process ended it: the stream of this server hears it (SQLite: session_changes,
        // PostgreSQL: NOTIFY), and the next request and the poll say so.
        loop {
            let block = stream.next_event().await.expect("an event before the close");
            if block.event.as_deref() == Some("ended") {
                assert_eq!(block.json(), json!({ "reason": "ended_by_admin" }));
                break;
            }
        }
        stream.expect_closed().await;
        assert_eq!(laptop.status().await, json!({ "state": "ended", "reason": "ended_by_admin" }));
        assert_eq!(laptop.get("/").await.location(), Some("/login"));

        // Again: it had ended; exit 0, and it says so.
        let again = admin(&db, &["--json", "sessions", "end", "ada@example.com", "--session", &laptop_id]).await;
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert_eq!(again.json(), json!({ "ended": 0, "already_ended": true }));
    }

    async fn ending_all_sessions_and_resetting_auto_login(db) {
        let server = server_now(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut remembered = logged_in(&server, true).await;
        let mut app = server.app();
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);

        let run = admin(&db, &["reset-auto-login", "ada@example.com"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.trim(), "Reset auto-login of ada@example.com: 2 remembered session(s) ended.");
        assert_eq!(remembered.status().await, json!({ "state": "ended", "reason": "auto_login_reset" }));
        assert_eq!(app.me().await.json()["reason"], "auto_login_reset");
        assert_eq!(ada.status().await["state"], "active", "a session that does not stay logged in stays");

        let mut laptop = logged_in(&server, false).await;
        let run = admin(&db, &["--json", "sessions", "end", "ada@example.com", "--all"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json(), json!({ "ended": 2, "already_ended": false }));
        for browser in [&mut ada, &mut laptop] {
            assert_eq!(browser.status().await, json!({ "state": "ended", "reason": "ended_by_admin" }));
        }
        // Ada logs in again and sees how they ended.
        let mut back = logged_in(&server, false).await;
        let page = back.get("/settings/sessions").await;
        assert!(page.text.contains("Ended by the administrator"), "Recently ended says who");
        let activity = back.get("/settings/activity").await;
        assert!(activity.text.contains("Ended by the administrator"), "and so does the log");
    }

    async fn account_show_lists_sessions_and_events(db) {
        let server = server_now(&db).await;
        let ada = server.sign_up("Ada Lovelace", "ada@example.com").await;
        let mut app = server.app();
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let run = admin(&db, &["account", "show", "  ADA@example.com "]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        for text in ["Ada Lovelace <ada@example.com>", "Active sessions: 2", "Chrome on Linux", "Mail app on Pixel 8",
                     "Account created", "Logged in", "(stays logged in)"] {
            assert!(run.stdout.contains(text), "{text:?} in {}", run.stdout);
        }
        assert!(!run.stdout.contains(ada.cookie.as_deref().unwrap()), "never a token");
        let run = admin(&db, &["--json", "account", "show", "ada@example.com"]).await;
        let account = run.json();
        assert_eq!(account["email"], "ada@example.com");
        assert_eq!(account["sessions"].as_array().unwrap().len(), 2);
        assert!(account["events"].as_array().unwrap().iter().any(|e| e["kind"] == "account_created"), "{account}");
    }

    async fn bad_input_is_a_message_and_a_non_zero_exit(db) {
        let server = server_now(&db).await;
        let _ada = server.sign_up("Ada", "ada@example.com").await;
        let run = admin(&db, &["account", "show", "nobody@example.com"]).await;
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains("there is no account with the e-mail address nobody@example.com"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
        let run = admin(&db, &["--json", "reset-auto-login", "nobody@example.com"]).await;
        assert_eq!(run.code, 1);
        assert_eq!(run.json()["error"], "there is no account with the e-mail address nobody@example.com");
        let run = admin(&db, &["sessions", "end", "ada@example.com", "--session", "AAAAAAAAAAAAAAAAAAAAAA"]).await;
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains("has no session AAAAAAAAAAAAAAAAAAAAAA"), "{}", run.stderr);
        // Exactly one of --session and --all (clap's usage error: exit 2).
        for args in [vec!["sessions", "end", "ada@example.com"],
                     vec!["sessions", "end", "ada@example.com", "--all", "--session", "x"]] {
            let run = admin(&db, &args).await;
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
        let run = admin(&db, &["check"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with("OK: configuration valid"), "{}", run.stdout);
        let run = admin(&db, &["--json", "purge"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.json()["expired"].is_u64());
    }

    async fn admin_never_migrates_a_database(db) {
        // Nothing has opened this database yet: it is missing (SQLite) or empty (PostgreSQL).
        for _ in 0..2 {
            let run = admin(&db, &["check"]).await;
            assert_eq!(run.code, 1, "{}", run.stdout);
            assert!(run.stderr.contains("there is no database at") || run.stderr.contains("older than this program"),
                    "{}", run.stderr);
        }
        // A server migrates it; then the commands work.
        let server = server_now(&db).await;
        assert_eq!(admin(&db, &["check"]).await.code, 0);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_is_a_private_consistent_copy_that_never_overwrites() {
    let db = TestDb::sqlite();
    let server = server_now(&db).await;
    let _ada = server.sign_up("Ada", "ada@example.com").await;
    let dir = std::env::temp_dir().join(format!("postern-backup-{}", random_hex()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("copy.db");
    let path_str = path.to_str().unwrap();
    let run = admin(&db, &["backup", path_str]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // The copy is a database with the account in it.
    let copy = db.via(format!("sqlite://{path_str}"));
    let run = admin(&copy, &["--json", "account", "show", "ada@example.com"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["email"], "ada@example.com");
    // A file that exists is never overwritten.
    let before = std::fs::read(&path).unwrap();
    let run = admin(&db, &["backup", path_str]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot create"), "{}", run.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg_attr(not(postern_pg), ignore = "needs PostgreSQL: set POSTERN_TEST_POSTGRES_URL (scripts/pg-test-db.sh --admin)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_on_postgresql_points_to_pg_dump() {
    let db = TestDb::postgres().await;
    let _server = server_now(&db).await;
    let run = admin(&db, &["backup", "/tmp/never-written.db"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("pg_dump"), "{}", run.stderr);
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}
