//! Instant push (issue 14) over real HTTP, on SQLite and on PostgreSQL: the event stream of the
//! pages (`GET /api/session/events`) and of the mail app (`GET /api/v1/events`) says `ended` with
//! the right reason for every way a session ends, and closes; tells `sessions` and `message`
//! changes of its own account only; answers 200 for no session; holds at most four streams per
//! session; closes on shutdown with a retry hint; and reaches a stream held by another instance
//! (SQLite: another store on the same file, through `session_changes`; PostgreSQL: LISTEN/NOTIFY,
//! re-synced after the listener's connection is cut). Every test waits for events, never sleeps.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Opens `browser`'s stream and reads its first event, `sessions`; returns both.
async fn open(browser: &Browser) -> (EventStream, i64) {
    let mut stream = browser.events().await;
    assert_eq!(stream.status, StatusCode::OK);
    let first = stream.next_event().await.expect("a first event");
    assert_eq!(first.event.as_deref(), Some("sessions"), "{first:?}");
    assert_eq!(first.retry, Some(3000), "the first event carries the reconnect hint");
    (stream, first.json()["sessions_version"].as_i64().expect("a version"))
}

async fn expect_ended(stream: &mut EventStream, reason: &str, what: &str) {
    // `sessions` events may come first (this session's end is a change of the set too).
    loop {
        let block = stream.next_event().await.unwrap_or_else(|| panic!("{what}: closed before `ended`"));
        match block.event.as_deref() {
            Some("ended") => {
                assert_eq!(block.json(), json!({ "reason": reason }), "{what}");
                break;
            }
            Some("sessions") | Some("message") => continue,
            other => panic!("{what}: unexpected {other:?} {block:?}"),
        }
    }
    stream.expect_closed().await;
}

fn password_form() -> [(&'static str, &'static str); 3] {
    [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)]
}

backend_tests! {
    async fn every_way_a_session_ends_reaches_its_stream_with_the_reason(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;

        // Ended from another device.
        let other = server.logged_in("ada@example.com", PASSWORD, false).await;
        let (mut stream, _) = open(&other).await;
        let id = other.clone().session_id().await;
        assert_eq!(ada.call("end_session", &[("id", id.as_str())]).await.status, StatusCode::OK);
        expect_ended(&mut stream, "ended_by_user", "end one session").await;

        // "End all other sessions".
        let other = server.logged_in("ada@example.com", PASSWORD, false).await;
        let (mut stream, _) = open(&other).await;
        assert_eq!(ada.call("end_other_sessions", &[]).await.status, StatusCode::OK);
        expect_ended(&mut stream, "ended_others", "end all other sessions").await;

        // Reset auto-login ends the remembered logins.
        let remembered = server.logged_in("ada@example.com", PASSWORD, true).await;
        let (mut stream, _) = open(&remembered).await;
        assert_eq!(ada.call("reset_auto_login", &[("password", PASSWORD)]).await.status, StatusCode::OK);
        expect_ended(&mut stream, "auto_login_reset", "reset auto-login").await;

        // A password change ends the other sessions.
        let other = server.logged_in("ada@example.com", PASSWORD, false).await;
        let (mut stream, _) = open(&other).await;
        assert_eq!(ada.call("change_password", &password_form()).await.status, StatusCode::OK);
        expect_ended(&mut stream, "password_changed", "password change").await;

        // "Terminate all sessions" ends the caller's own stream too.
        let mut other = server.browser();
        assert_eq!(other.log_in("ada@example.com", NEW_PASSWORD, false).await.status, StatusCode::OK);
        let (mut mine, _) = open(&ada).await;
        let (mut theirs, _) = open(&other).await;
        assert_eq!(ada.call("terminate_all", &[]).await.status, StatusCode::OK);
        expect_ended(&mut mine, "terminated_all", "terminate all, the caller's stream").await;
        expect_ended(&mut theirs, "terminated_all", "terminate all, another stream").await;

        // Logging out in another tab of the same browser.
        let mut tab = server.browser();
        assert_eq!(tab.log_in("ada@example.com", NEW_PASSWORD, false).await.status, StatusCode::OK);
        let (mut stream, _) = open(&tab).await;
        let res = tab.call("logout", &[]).await;
        assert!(res.status.is_success() || res.status.is_redirection(), "{:?}", res.status);
        expect_ended(&mut stream, "logged_out", "log out").await;
    }

    async fn this_wasnt_me_ends_the_reported_sessions_stream(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let intruder = server.logged_in("ada@example.com", PASSWORD, true).await;
        let intruder_id = intruder.clone().session_id().await;
        let (mut stream, _) = open(&intruder).await;
        let form = [("session", intruder_id.as_str()), ("current_password", PASSWORD),
                    ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        let res = ada.call("secure_account", &form).await;
        assert!(res.status.is_success() || res.status.is_redirection(), "{:?} {}", res.status, res.text);
        expect_ended(&mut stream, "not_me", "This wasn't me").await;
    }

    async fn expiry_reaches_the_stream_at_the_moment_the_session_runs_out(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &[]).await;
        let ada = server.sign_up("Ada", "ada@example.com").await;
        let mut watcher = server.logged_in("ada@example.com", PASSWORD, false).await;
        let (mut stream, _) = open(&ada).await;
        let (mut other, _) = open(&watcher).await;
        // No request, no purge job: the stream's own timer notices the deadline.
        clock.advance_ms(400 * DAY);
        expect_ended(&mut stream, "expired", "idle timeout, timer").await;
        expect_ended(&mut other, "expired", "idle timeout, timer, the other session").await;
        assert_eq!(watcher.status().await, json!({ "state": "ended", "reason": "expired" }));
    }

    async fn expiry_by_the_purge_job_reaches_the_stream(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &[]).await;
        let ada = server.sign_up("Ada", "ada@example.com").await;
        let (mut stream, _) = open(&ada).await;
        // The session's deadline moves into the past behind the stream's back (its timer still
        // waits for the old one, and nothing announces a raw UPDATE): only the purge's commit
        // can wake the stream.
        // (T0 + 1 ms: ran out a minute before the purge, long within the retention period.)
        server.state.ctx.auth.store
            .execute_raw("UPDATE sessions SET idle_expires_at = 1700000000001 WHERE ended_at IS NULL")
            .await.expect("move the deadline");
        clock.advance_ms(MINUTE);
        stream.expect_quiet(Duration::from_millis(400)).await;
        server.state.ctx.auth.purge().await.expect("purge");
        expect_ended(&mut stream, "expired", "purge job").await;
    }

    async fn a_stream_tells_its_accounts_changes_and_nobody_elses(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let (mut stream, version) = open(&ada).await;
        assert_eq!(ada.status().await["sessions_version"], version, "the stream starts at the poll's version");

        // Bob's account changing says nothing on Ada's stream.
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let _bob_laptop = server.logged_in("bob@example.com", PASSWORD, false).await;
        assert_eq!(bob.call("end_other_sessions", &[]).await.status, StatusCode::OK);

        // A login to Ada's account from a new device: the list changed, and a message came. The
        // very next events are these (nothing of Bob's came before them).
        let _laptop = server.logged_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(stream.expect("sessions").await, json!({ "sessions_version": version + 1 }));
        assert_eq!(stream.expect("message").await, json!({ "unread_messages": 1 }));
        assert_eq!(ada.status().await["sessions_version"], version + 1);

        // Another change of the set.
        assert_eq!(ada.call("end_other_sessions", &[]).await.status, StatusCode::OK);
        assert_eq!(stream.expect("sessions").await, json!({ "sessions_version": version + 2 }));
        stream.expect_quiet(Duration::from_millis(300)).await;
    }

    async fn the_stream_answers_200_without_a_session_and_refuses_other_sites(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;

        let (stream, _) = open(&ada).await;
        assert_eq!(stream.headers["content-type"], "text/event-stream");
        assert_eq!(stream.headers["cache-control"], "no-store");
        assert_eq!(stream.headers["x-accel-buffering"], "no");
        assert!(stream.headers.get("content-encoding").is_none());
        drop(stream);

        // No cookie, a made-up cookie: 200, `none`, closed.
        for browser in [server.browser(), server.browser_with(Some("A".repeat(43)))] {
            let mut stream = browser.events().await;
            assert_eq!(stream.status, StatusCode::OK);
            assert_eq!(stream.expect("none").await, json!({}));
            stream.expect_closed().await;
        }

        // An ended session: 200, `ended` with its reason, closed.
        let mut tab = server.logged_in("ada@example.com", PASSWORD, false).await;
        let saved = tab.clone();
        tab.call("logout", &[]).await;
        let mut stream = saved.events().await;
        assert_eq!(stream.status, StatusCode::OK);
        assert_eq!(stream.expect("ended").await, json!({ "reason": "logged_out" }));
        stream.expect_closed().await;

        // Another site cannot open it (nor a request that proves nothing).
        for headers in [vec![("sec-fetch-site", "cross-site")], vec![("sec-fetch-site", "same-site")],
                        vec![("origin", "http://evil.example")], vec![]] {
            let stream = ada.events_with(&headers).await;
            assert_eq!(stream.status, StatusCode::FORBIDDEN, "{headers:?}");
            assert_eq!(stream.headers["content-type"], "application/json");
        }
        // The public origin without Sec-Fetch-Site (an older browser) may.
        let origin = server.base.clone();
        let stream = ada.events_with(&[("origin", origin.as_str())]).await;
        assert_eq!(stream.status, StatusCode::OK);

        // Opening a stream is not activity: another device sees Ada's last activity unmoved.
        let mut other = server.logged_in("ada@example.com", PASSWORD, false).await;
        let ada_id = ada.session_id().await;
        let last_active = |list: Vec<Value>| {
            list.into_iter().find(|s| s["id"] == ada_id.as_str()).expect("Ada's session")["last_active_at"].clone()
        };
        let before = last_active(other.sessions().await);
        server.clock.advance_ms(10 * MINUTE);
        let (_again, _) = open(&ada).await;
        assert_eq!(last_active(other.sessions().await), before, "a stream is not activity");
    }

    async fn a_session_holds_at_most_four_streams(db) {
        let server = TestServer::start(&db).await;
        let ada = server.sign_up("Ada", "ada@example.com").await;
        let mut streams = Vec::new();
        for _ in 0..4 {
            streams.push(open(&ada).await.0);
        }
        let (mut fifth, _) = open(&ada).await;
        // The oldest closes (with a comment, no event); the others stay.
        streams[0].expect_closed().await;
        eventually(Duration::from_secs(5), "four open streams", || async {
            server.state.ctx.auth.store.hub().open_streams() == 4
        }).await;
        streams[1].expect_quiet(Duration::from_millis(200)).await;
        fifth.expect_quiet(Duration::from_millis(200)).await;
    }

    async fn the_mail_app_has_a_stream_of_its_own(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;

        let refused = server.app().events().await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        let refused = server.app_with(&"A".repeat(43)).events().await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

        let mut stream = app.events().await;
        assert_eq!(stream.status, StatusCode::OK);
        assert_eq!(stream.headers["content-type"], "text/event-stream");
        let version = stream.expect("sessions").await["sessions_version"].as_i64().unwrap();
        let _laptop = server.logged_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(stream.expect("sessions").await, json!({ "sessions_version": version + 1 }));
        let app_id = app.session_id().await;
        assert_eq!(web.call("end_session", &[("id", app_id.as_str())]).await.status, StatusCode::OK);
        expect_ended(&mut stream, "ended_by_user", "the app's session ended from the web").await;

        // An ended token cannot open one: 401 with the reason, as every API operation answers.
        let again = app.events().await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.me().await.json()["reason"], "ended_by_user");
    }

    async fn shutting_down_closes_streams_with_a_retry_hint(db) {
        let server = TestServer::start(&db).await;
        let ada = server.sign_up("Ada", "ada@example.com").await;
        let (mut stream, _) = open(&ada).await;
        server.state.ctx.auth.store.hub().shut_down();
        let block = stream.next_block().await.expect("a last block");
        assert_eq!(block.retry, Some(500), "{block:?}");
        assert!(block.event.is_none(), "no event, nothing for the page to show: {block:?}");
        stream.expect_closed().await;
    }

    async fn the_read_timeouts_do_not_cut_an_open_stream(db) {
        let server = TestServer::start_with(&db, ManualClock::new(T0),
            &["--header-read-timeout-secs", "1", "--body-read-timeout-secs", "1"]).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let other = server.logged_in("ada@example.com", PASSWORD, false).await;
        let (mut stream, _) = open(&other).await;
        // A connection that sends nothing is closed once the header timeout passed: by then the
        // stream has been open for longer than both timeouts.
        let idle = server.connect().await;
        let closed = tokio::time::timeout(Duration::from_secs(15), async {
            let mut buf = [0u8; 64];
            loop {
                let _ = idle.readable().await;
                match idle.try_read(&mut buf) {
                    Ok(0) => return,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Ok(_) | Err(_) => return,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the idle connection is closed by the header timeout");
        let id = other.clone().session_id().await;
        assert_eq!(ada.call("end_session", &[("id", id.as_str())]).await.status, StatusCode::OK);
        expect_ended(&mut stream, "ended_by_user", "after the read timeouts passed").await;
    }

    async fn another_instance_on_the_same_database_reaches_the_stream(db) {
        let clock = ManualClock::new(T0);
        let a = TestServer::start_with(&db, clock.clone(), &[]).await;
        let b = TestServer::start_with(&db, clock.clone(), &[]).await;
        let on_a = a.sign_up("Ada", "ada@example.com").await;
        let (mut stream, version) = open(&on_a).await;

        // A login through B is a `sessions` change on A's stream.
        let mut app_on_b = b.app();
        assert_eq!(app_on_b.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        assert_eq!(stream.expect("sessions").await, json!({ "sessions_version": version + 1 }));
        assert_eq!(stream.expect("message").await, json!({ "unread_messages": 1 }));

        // The session ended through B: A's stream says so and closes.
        let web_id = on_a.clone().session_id().await;
        let res = app_on_b.send(Method::DELETE, &format!("/api/v1/sessions/{web_id}")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        expect_ended(&mut stream, "ended_by_user", "ended through the other instance").await;
    }
}

/// PostgreSQL only: notifications sent while an instance's listener is disconnected are lost,
/// so after reconnecting it has every open stream read its session again.
#[cfg_attr(not(postern_pg), ignore = "needs PostgreSQL: set POSTERN_TEST_POSTGRES_URL (scripts/pg-test-db.sh --admin)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_listener_connection_re_syncs_every_stream() {
    let db = TestDb::postgres().await;
    let clock = ManualClock::new(T0);
    let a = TestServer::start_with(&db, clock.clone(), &[]).await;
    let b = TestServer::start_with(&db, clock.clone(), &[]).await;
    let feed = a.state.ctx.auth.store.feed_state().clone();
    eventually(Duration::from_secs(10), "A's listener connects", || async { *feed.connected.borrow() }).await;

    let on_a = a.sign_up("Ada", "ada@example.com").await;
    let (mut stream, _) = open(&on_a).await;
    let mut on_b = b.browser();
    assert_eq!(on_b.log_in("ada@example.com", PASSWORD, false).await.status, StatusCode::OK);
    assert!(stream.expect("sessions").await["sessions_version"].is_i64());
    assert_eq!(stream.expect("message").await["unread_messages"], 1);

    // Cut A's listening connection and keep it from reconnecting while B ends A's session: the
    // NOTIFY reaches nobody.
    feed.hold_reconnect.send_replace(true);
    b.state
        .ctx
        .auth
        .store
        .execute_raw(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'postern-listener' AND datname = current_database()",
        )
        .await
        .expect("terminate the listeners");
    eventually(Duration::from_secs(10), "A notices the lost connection", || async { !*feed.connected.borrow() }).await;
    let web_id = on_a.clone().session_id_via(&b).await;
    assert_eq!(on_b.call("end_session", &[("id", web_id.as_str())]).await.status, StatusCode::OK);
    stream.expect_quiet(Duration::from_millis(300)).await;

    // Back: A re-reads every stream's session before trusting the channel again.
    feed.hold_reconnect.send_replace(false);
    expect_ended(&mut stream, "ended_by_user", "after the listener reconnected").await;
    eventually(Duration::from_secs(10), "A's listener is back", || async { *feed.connected.borrow() }).await;
}

trait SessionIdVia {
    async fn session_id_via(self, server: &TestServer) -> String;
}

impl SessionIdVia for Browser {
    /// The browser's session id, asked through another instance (the cookie works on every one).
    async fn session_id_via(self, server: &TestServer) -> String {
        server.browser_with(self.cookie.clone()).session_id().await
    }
}
