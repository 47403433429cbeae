//! The real server over HTTP: pages, server functions (`/api/fn/*`), the status poll and the
//! mail-app JSON API (`/api/v1/*`), on SQLite and on PostgreSQL (see `common::backend_tests!`).
//! Every test starts its own server on a loopback port with a manual clock.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

fn assert_security_headers(answer: &Answer, what: &str) {
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(answer.header("referrer-policy"), Some("same-origin"), "{what}");
    assert!(answer.header("content-security-policy").is_some_and(|v| v.contains("frame-ancestors 'none'")), "{what}");
}

fn assert_no_store(answer: &Answer, what: &str) {
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{what}: {:?}", answer.headers);
}

backend_tests! {
    // ---- sign-up, login, logout ------------------------------------------------------------------

    async fn signing_up_sets_a_session_cookie_and_opens_the_mailbox(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.browser();
        let res = browser.sign_up("Ada Lovelace", "ada@example.com", PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        // Called from the page's JavaScript, the redirect is a header for the client router.
        assert!(res.header("serverfnredirect").is_some(), "{:?}", res.headers);
        assert_eq!(res.location(), Some("/"));
        let cookie = res.session_set_cookie().expect("a session cookie");
        assert!(cookie.contains("; Path=/") && cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Max-Age"), "a session cookie dies with the browser: {cookie}");
        let token = browser.cookie.clone().unwrap();
        assert_eq!(token.len(), 43);

        let page = browser.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.header("content-type").is_some_and(|v| v.starts_with("text/html")));
        assert_no_store(&page, "mailbox page");
        let status = browser.status().await;
        assert_eq!(status["state"], "active");
        assert!(status["sessions_version"].is_i64());

        assert!(page.text.contains("Ada Lovelace") && page.text.contains("ada@example.com"), "the shell names the account");
        let list = browser.sessions().await;
        assert_eq!((list.len(), &list[0]["current"], &list[0]["auto_login"]), (1, &json!(true), &json!(false)));
    }

    async fn signing_up_with_a_taken_email_or_a_weak_password_is_refused_without_a_cookie(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut other = server.browser();
        let res = other.sign_up("Impostor", " ADA@Example.com ", NEW_PASSWORD).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
        let body = res.json();
        assert_eq!(body["error"], "validation");
        assert_eq!(body["field"], "email");
        assert!(res.session_set_cookie().is_none());
        assert!(other.cookie.is_none());

        let res = other.sign_up("Bob", "bob@example.com", "password").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["field"], "password");
        assert!(other.cookie.is_none());
        let res = other.log_in("bob@example.com", "password", false).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "no account was created");
    }

    async fn logging_in_gives_a_new_cookie_every_time(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.sign_up("Ada", "ada@example.com").await;
        let first = browser.cookie.clone().unwrap();
        // Logging in again while holding a cookie never keeps it (no session fixation).
        let res = browser.log_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.location(), Some("/"));
        let second = browser.cookie.clone().unwrap();
        assert_ne!(first, second);
        // A planted cookie is not adopted either.
        let mut planted = server.browser_with(Some("A".repeat(43)));
        planted.log_in("ada@example.com", PASSWORD, false).await;
        assert_ne!(planted.cookie.as_deref(), Some("A".repeat(43).as_str()));
        assert_eq!(planted.status().await["state"], "active");
        assert_eq!(browser.sessions().await.len(), 3);
    }

    async fn stay_logged_in_makes_a_persistent_cookie(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut browser = server.browser();
        let res = browser.log_in("ada@example.com", PASSWORD, true).await;
        assert_eq!(res.status, StatusCode::OK);
        let cookie = res.session_set_cookie().unwrap();
        assert!(cookie.contains(&format!("Max-Age={}", 30 * 24 * 3600)), "{cookie}");
        let list = browser.sessions().await;
        assert_eq!(list[0]["auto_login"], true);
    }

    async fn a_wrong_password_and_an_unknown_email_get_the_same_401(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut browser = server.browser();
        let wrong = browser.log_in("ada@example.com", "Not-The-Password-99", false).await;
        let unknown = browser.log_in("nobody@example.com", PASSWORD, false).await;
        for res in [&wrong, &unknown] {
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
            assert_eq!(res.json(), json!({ "error": "invalid_credentials", "message": "The e-mail address or password is incorrect." }));
            assert!(res.session_set_cookie().is_none());
            assert!(res.location().is_none());
        }
        assert_eq!(wrong.text, unknown.text);
        assert!(browser.cookie.is_none());
    }

    async fn logging_out_ends_the_session_and_clears_the_cookie(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.sign_up("Ada", "ada@example.com").await;
        let saved = browser.cookie.clone();
        let res = browser.call("logout", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.location(), Some("/login"));
        assert!(res.session_set_cookie().unwrap().contains("Max-Age=0"));
        assert!(browser.cookie.is_none());
        assert_eq!(browser.status().await, json!({ "state": "none" }));

        let mut replay = server.browser_with(saved);
        assert_eq!(replay.status().await, json!({ "state": "ended", "reason": "logged_out" }));
        let page = replay.get("/").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/login"));
        let res = replay.call("sessions", &[]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json(), json!({ "error": "session_ended", "message": "Your session has ended.", "reason": "logged_out" }));
    }

    async fn a_plain_form_post_without_javascript_is_redirected(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let login_page = server.url("/login");
        let form = [("email", "ada@example.com"), ("password", PASSWORD)];
        let html = [("sec-fetch-site", "same-origin"), ("accept", "text/html"), ("referer", login_page.as_str())];
        let mut browser = server.browser();
        let res = browser.call_with("login", &form, &html).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
        assert_eq!(res.location(), Some("/"));
        assert!(browser.cookie.is_some());
        // A failed plain login goes back to the form, without a cookie.
        let mut other = server.browser();
        let res = other.call_with("login", &[("email", "ada@example.com"), ("password", "nope-nope-nope")], &html).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
        assert!(res.location().is_some_and(|l| l.contains("/login")), "{:?}", res.location());
        assert!(other.cookie.is_none());
    }

    // ---- pages and the session cookie ----------------------------------------------------------

    async fn pages_send_people_without_a_session_to_the_login_page_and_back(db) {
        let server = TestServer::start(&db).await;
        let mut anonymous = server.browser();
        for path in ["/", "/settings", "/settings/sessions", "/settings/password", "/account/security"] {
            let res = anonymous.get(path).await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(res.location(), Some("/login"), "{path}");
        }
        for path in ["/login", "/signup"] {
            let res = anonymous.get(path).await;
            assert_eq!(res.status, StatusCode::OK, "{path}");
            assert_no_store(&res, path);
            assert_security_headers(&res, path);
        }
        let mut signed_in = server.sign_up("Ada", "ada@example.com").await;
        for path in ["/login", "/signup"] {
            let res = signed_in.get(path).await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(res.location(), Some("/"), "{path}");
        }
        for path in ["/", "/settings/sessions", "/account/security"] {
            assert_eq!(signed_in.get(path).await.status, StatusCode::OK, "{path}");
        }
    }

    async fn an_unknown_or_revoked_cookie_is_refused(db) {
        let server = TestServer::start(&db).await;
        let mut web = server.sign_up("Ada", "ada@example.com").await;
        let mut unknown = server.browser_with(Some(app::ssr::token::new_token()));
        assert_eq!(unknown.status().await, json!({ "state": "none" }));
        assert_eq!(unknown.get("/").await.location(), Some("/login"));
        let res = unknown.call("sessions", &[]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json(), json!({ "error": "unauthorized", "message": "Please log in." }));
        let mut garbage = server.browser_with(Some("not-a-token'; DROP TABLE sessions; --".into()));
        assert_eq!(garbage.status().await, json!({ "state": "none" }));

        let mut laptop = server.browser();
        laptop.log_in("ada@example.com", PASSWORD, false).await;
        let laptop_id = laptop.session_id().await;
        let res = web.call("end_session", &[("id", &laptop_id)]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(laptop.status().await, json!({ "state": "ended", "reason": "ended_by_user" }));
        let page = laptop.get("/settings/sessions").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/login"));
        let res = laptop.call("sessions", &[]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json(), json!({ "error": "session_ended", "message": "Your session has ended.", "reason": "ended_by_user" }));
        assert_eq!(web.status().await["state"], "active");
    }

    // ---- cross-site requests -------------------------------------------------------------------

    async fn cross_site_posts_are_refused_and_change_nothing(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let app_id = app.session_id().await;
        let version = web.status().await["sessions_version"].clone();
        let evil_origin = "http://evil.example";
        let same_site_origin = server.base.replace("127.0.0.1", "localhost");
        // Look-alikes of our own origin: only the exact bytes a browser sends are ours.
        let trailing_slash = format!("{}/", server.base);
        let upper_case = server.base.replacen("http", "HTTP", 1);
        let prefix = format!("{}.evil.example", server.base);
        let attempts: Vec<Vec<(&str, &str)>> = vec![
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("sec-fetch-site", "none")],
            vec![],
            vec![("origin", evil_origin)],
            vec![("origin", "null")],
            vec![("origin", same_site_origin.as_str())],
            vec![("origin", trailing_slash.as_str())],
            vec![("origin", upper_case.as_str())],
            vec![("origin", prefix.as_str())],
            vec![("sec-fetch-site", "cross-site"), ("origin", server.base.as_str())],
        ];
        let refusal = json!({ "error": "forbidden", "message": "This request was refused because it did not come from this site." });
        let purge = Method::from_bytes(b"PURGE").unwrap();
        let methods = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE, purge];
        let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("logout", vec![]),
            ("terminate_all", vec![]),
            ("end_session", vec![("id", app_id.as_str())]),
            ("change_password", vec![("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)]),
            ("reset_auto_login", vec![("password", PASSWORD)]),
            ("login", vec![("email", "ada@example.com"), ("password", PASSWORD)]),
            ("signup", vec![("name", "Eve"), ("email", "eve@example.com"), ("password", NEW_PASSWORD), ("repeat_password", NEW_PASSWORD)]),
        ];
        for headers in &attempts {
            for (name, form) in &calls {
                for method in &methods {
                    let mut attacker_driven = web.clone();
                    let res = attacker_driven.call_method(method.clone(), name, form, headers).await;
                    assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {name} with {headers:?}: {}", res.text);
                    assert_eq!(res.json(), refusal, "{method} {name} with {headers:?}");
                    assert!(res.session_set_cookie().is_none(), "{method} {name} with {headers:?}");
                    assert_security_headers(&res, name);
                }
            }
        }
        // Even from our own pages, server functions take nothing but POST.
        for (name, form) in &calls {
            for method in methods.iter().skip(1) {
                let res = web.clone().call_method(method.clone(), name, form, &[("sec-fetch-site", "same-origin")]).await;
                assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {name}: {}", res.text);
                assert!(res.session_set_cookie().is_none(), "{method} {name}");
            }
        }
        // Nothing changed: both sessions live, the password is the old one, no account for Eve.
        assert_eq!(web.status().await, json!({ "state": "active", "sessions_version": version }));
        assert_eq!(app.me().await.status, StatusCode::OK);
        assert_eq!(web.sessions().await.len(), 2);
        let mut check = server.app();
        assert_eq!(check.log_in("ada@example.com", NEW_PASSWORD, "Check").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(check.log_in("eve@example.com", NEW_PASSWORD, "Check").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(check.log_in("ada@example.com", PASSWORD, "Check").await.status, StatusCode::OK);

        // The page's own requests pass: Sec-Fetch-Site same-origin, or only an Origin that is ours.
        let res = web.clone().call_with("sessions", &[], &[("origin", server.base.as_str())]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let res = web.call_with("logout", &[], &[("sec-fetch-site", "same-origin"), ("origin", evil_origin)]).await;
        assert_eq!(res.status, StatusCode::OK, "Sec-Fetch-Site decides when a browser sends it");
    }

    // ---- managing sessions through server functions ----------------------------------------------

    async fn the_session_list_shows_the_callers_sessions_without_secrets(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let bob = server.sign_up("Bob", "bob@example.com").await;
        let res = web.call("sessions", &[]).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_no_store(&res, "sessions server function");
        for secret in [web.cookie.as_ref().unwrap(), app.token.as_ref().unwrap(), bob.cookie.as_ref().unwrap()] {
            assert!(!res.text.contains(secret.as_str()), "a token leaked: {}", res.text);
        }
        let answer = res.json();
        let list = answer["sessions"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["current"], true);
        assert_eq!(list[0]["kind"], "browser");
        assert_eq!(list[0]["device"], "Chrome on Linux");
        assert_eq!(list[0]["ip"], "127.0.0.1");
        assert_eq!(list[1]["current"], false);
        assert_eq!(list[1]["kind"], "app");
        assert_eq!(list[1]["device"], "Mail app on Pixel 8");
        assert_eq!(list[1]["id"], app.session_id().await);
        assert_eq!(
            keys(&list[0]),
            [
                "auto_login",
                "bound",
                "created_at",
                "current",
                "device",
                "device_type",
                "id",
                "ip",
                "kind",
                "last_active_at",
                "location",
                "parsed_device",
                "user_agent"
            ]
        );
    }

    async fn ending_sessions_through_server_functions_follows_the_rules(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let own_id = web.session_id().await;
        let app_id = app.session_id().await;
        let bob_id = bob.session_id().await;

        let res = web.call("end_session", &[("id", own_id.as_str())]).await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"], "conflict");
        let res = web.call("end_session", &[("id", bob_id.as_str())]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.json(), json!({ "error": "not_found", "message": "That session does not exist." }));
        assert_eq!(bob.status().await["state"], "active");
        let res = web.call("end_session", &[("id", "AAAAAAAAAAAAAAAAAAAAAA")]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);

        let res = web.call("end_session", &[("id", app_id.as_str())]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let res = web.call("end_session", &[("id", app_id.as_str())]).await;
        assert_eq!(res.status, StatusCode::OK, "ending an ended session again is fine");
        assert_eq!(web.status().await["state"], "active");
        assert_eq!(web.sessions().await.len(), 1);
    }

    async fn an_app_token_fails_right_after_the_browser_ends_it(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        assert_eq!(app.me().await.status, StatusCode::OK);
        let app_id = app.session_id().await;
        assert_eq!(web.call("end_session", &[("id", app_id.as_str())]).await.status, StatusCode::OK);
        let res = app.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        let body = res.json();
        assert_eq!(body["error"], "session_ended");
        assert_eq!(body["reason"], "ended_by_user");
    }

    async fn terminate_all_ends_every_session_and_clears_the_cookie(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let mut laptop = server.browser();
        laptop.log_in("ada@example.com", PASSWORD, true).await;
        let saved = web.cookie.clone();
        let res = web.call("terminate_all", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.location(), Some("/login"));
        assert!(web.cookie.is_none());
        let ended = json!({ "state": "ended", "reason": "terminated_all" });
        assert_eq!(server.browser_with(saved).status().await, ended);
        assert_eq!(laptop.status().await, ended);
        let res = app.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["reason"], "terminated_all");
    }

    async fn changing_the_password_ends_other_sessions_and_renews_the_cookie(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let mut laptop = server.browser();
        laptop.log_in("ada@example.com", PASSWORD, false).await;
        let old_cookie = web.cookie.clone();
        let own_id = web.session_id().await;

        let wrong = [("current_password", "Wrong-Password-123"), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        let res = web.call("change_password", &wrong).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["field"], "current_password");
        assert_eq!(laptop.status().await["state"], "active");
        assert_eq!(web.cookie, old_cookie);

        let form = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        let res = web.call("change_password", &form).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_ne!(web.cookie, old_cookie, "the current session gets a new cookie");
        assert_eq!(web.status().await["state"], "active");
        assert_eq!(web.session_id().await, own_id, "and stays the same session");
        assert_eq!(server.browser_with(old_cookie).status().await, json!({ "state": "none" }));
        assert_eq!(laptop.status().await, json!({ "state": "ended", "reason": "password_changed" }));
        assert_eq!(app.me().await.json()["reason"], "password_changed");

        let mut fresh = server.browser();
        assert_eq!(fresh.log_in("ada@example.com", PASSWORD, false).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(fresh.log_in("ada@example.com", NEW_PASSWORD, false).await.status, StatusCode::OK);
    }

    async fn resetting_auto_login_ends_remembered_logins_and_demotes_the_cookie(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut here = server.browser();
        let res = here.log_in("ada@example.com", PASSWORD, true).await;
        assert!(res.session_set_cookie().unwrap().contains("Max-Age="));
        let mut remembered = server.browser();
        remembered.log_in("ada@example.com", PASSWORD, true).await;
        let mut plain = server.browser();
        plain.log_in("ada@example.com", PASSWORD, false).await;
        let mut app = server.app();
        app.log_in("ada@example.com", PASSWORD, "Pixel 8").await;

        let res = here.call("reset_auto_login", &[("password", "Wrong-Password-123")]).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["field"], "password");
        assert_eq!(remembered.status().await["state"], "active");

        let old = here.cookie.clone();
        let res = here.call("reset_auto_login", &[("password", PASSWORD)]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let cookie = res.session_set_cookie().unwrap();
        assert!(!cookie.contains("Max-Age"), "no longer a persistent cookie: {cookie}");
        assert_ne!(here.cookie, old);
        assert_eq!(here.status().await["state"], "active");
        let current = here.sessions().await.into_iter().find(|s| s["current"] == true).expect("current");
        assert_eq!(current["auto_login"], false);
        let reset = json!({ "state": "ended", "reason": "auto_login_reset" });
        assert_eq!(remembered.status().await, reset);
        assert_eq!(plain.status().await["state"], "active");
        assert_eq!(app.me().await.json()["reason"], "auto_login_reset");
    }

    // ---- the status poll -------------------------------------------------------------------------

    async fn the_status_poll_never_extends_a_session_but_page_loads_do(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &["--idle-timeout-minutes", "30"]).await;
        let mut polled = server.sign_up("Ada", "ada@example.com").await;
        let mut used = server.browser();
        used.log_in("ada@example.com", PASSWORD, false).await;

        for minute in 1..30 {
            clock.set_ms(T0 + minute * MINUTE);
            assert_eq!(polled.status().await["state"], "active", "minute {minute}");
            if minute == 10 {
                assert_eq!(used.get("/").await.status, StatusCode::OK);
            }
        }
        clock.set_ms(T0 + 30 * MINUTE - 1);
        assert_eq!(polled.status().await["state"], "active");
        clock.set_ms(T0 + 30 * MINUTE);
        assert_eq!(polled.status().await, json!({ "state": "ended", "reason": "expired" }));
        assert_eq!(used.status().await["state"], "active", "the page load at minute 10 counted");
        clock.set_ms(T0 + 40 * MINUTE);
        assert_eq!(used.status().await, json!({ "state": "ended", "reason": "expired" }));
        assert_eq!(used.get("/").await.location(), Some("/login"));
    }

    async fn the_status_poll_reports_when_the_set_of_sessions_changes(db) {
        let server = TestServer::start(&db).await;
        let mut web = server.sign_up("Ada", "ada@example.com").await;
        let status = web.status().await;
        assert_eq!(keys(&status), ["sessions_version", "state"]);
        let v1 = status["sessions_version"].as_i64().unwrap();
        assert_eq!(web.status().await["sessions_version"], v1);
        let mut app = server.app();
        app.log_in("ada@example.com", PASSWORD, "Pixel 8").await;
        let v2 = web.status().await["sessions_version"].as_i64().unwrap();
        assert!(v2 > v1);
        assert_eq!(server.browser().status().await, json!({ "state": "none" }));
    }

    // ---- the JSON API ----------------------------------------------------------------------------

    async fn the_api_login_returns_a_token_and_a_session_id(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut app = server.app();
        let res = app.log_in("ada@example.com", PASSWORD, "Pixel 8").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_no_store(&res, "api login");
        let body = res.json();
        assert_eq!(keys(&body), ["device_id", "session_id", "token"]);
        assert_eq!(body["device_id"].as_str().unwrap().len(), 43);
        assert_ne!(body["device_id"], body["token"]);
        assert_eq!(body["token"].as_str().unwrap().len(), 43);
        assert_ne!(body["token"], body["session_id"]);
        assert!(res.session_set_cookie().is_none(), "the API never sets cookies");
        let me = app.me().await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json(), json!({ "email": "ada@example.com", "name": "Ada", "session_id": body["session_id"] }));
    }

    async fn the_api_login_refuses_wrong_credentials_the_same_way(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let wrong = server.app().log_in("ada@example.com", "Not-The-Password-99", "Pixel 8").await;
        let unknown = server.app().log_in("nobody@example.com", PASSWORD, "Pixel 8").await;
        for res in [&wrong, &unknown] {
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
            assert_eq!(res.json()["error"], "invalid_credentials");
            assert!(res.header("content-type").is_some_and(|v| v.starts_with("application/json")));
        }
        assert_eq!(wrong.text, unknown.text);
    }

    async fn the_api_login_answers_malformed_requests_with_json_errors(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let url = server.url("/api/v1/login");
        let http = server.raw();
        let form = http.post(&url).form(&[("email", "ada@example.com"), ("password", PASSWORD), ("device_name", "Pixel 8")]);
        let attempts = [
            ("form-encoded", form),
            ("no content type", http.post(&url).body(r#"{"email":"ada@example.com","password":"x","device_name":"P"}"#)),
            ("malformed JSON", http.post(&url).header("content-type", "application/json").body("{\"email\":")),
            ("missing device name", http.post(&url).json(&json!({ "email": "ada@example.com", "password": PASSWORD }))),
            ("wrong types", http.post(&url).json(&json!({ "email": 1, "password": [], "device_name": null }))),
        ];
        for (what, req) in attempts {
            let res = Answer::read(req.send().await.unwrap()).await;
            assert!(res.status.is_client_error(), "{what}: {:?}", res.status);
            assert!(res.header("content-type").is_some_and(|v| v.starts_with("application/json")), "{what}");
            assert_eq!(res.json()["error"], "bad_request", "{what}");
        }
        let res = server.app().log_in("ada@example.com", PASSWORD, "  \u{7} ").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["field"], "device_name");
        let res = server.app().log_in("ada@example.com", PASSWORD, &"x".repeat(65)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        // Too large a body is refused before it is read.
        let huge = json!({ "email": "ada@example.com", "password": "x".repeat(20_000), "device_name": "P" });
        let res = http.post(&url).json(&huge).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    async fn the_api_refuses_missing_unknown_and_ended_tokens(db) {
        let server = TestServer::start(&db).await;
        let (_web, mut app) = browser_and_app(&server, "ada@example.com").await;
        let unauthorized = json!({ "error": "unauthorized", "message": "Please log in." });
        let res = server.app().me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"], "unauthorized");
        let res = server.app_with(&app::ssr::token::new_token()).me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"], unauthorized["error"]);
        let basic = server.raw().get(server.url("/api/v1/me")).header("authorization", format!("Basic {}", app.token.clone().unwrap()));
        let res = Answer::read(basic.send().await.unwrap()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_no_store(&res, "api 401");

        let res = app.send(Method::POST, "/api/v1/logout").await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        let res = app.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        let body = res.json();
        assert_eq!(body["error"], "session_ended");
        assert_eq!(body["reason"], "logged_out");
        assert_eq!(app.send(Method::GET, "/api/v1/sessions").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.send(Method::POST, "/api/v1/logout").await.status, StatusCode::UNAUTHORIZED);
        // A fresh login works again.
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
    }

    async fn the_api_session_list_has_the_documented_fields(db) {
        let server = TestServer::start(&db).await;
        let (_web, app) = browser_and_app(&server, "ada@example.com").await;
        let res = app.send(Method::GET, "/api/v1/sessions").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_no_store(&res, "api sessions");
        let list = res.json();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2);
        let me = &list[0];
        assert_eq!(
            keys(me),
            [
                "auto_login",
                "bound",
                "created_at",
                "current",
                "device",
                "id",
                "ip",
                "kind",
                "last_active_at",
                "location",
                "parsed_device"
            ]
        );
        assert_eq!(me["id"], app.session_id().await);
        assert_eq!(me["device"], "Mail app on Pixel 8");
        assert_eq!(me["ip"], "127.0.0.1");
        assert_eq!(me["kind"], "app");
        assert_eq!(me["auto_login"], true);
        assert_eq!(me["current"], true);
        // Times are ISO 8601 UTC; the manual clock starts at T0.
        assert_eq!(me["created_at"], "2023-11-14T22:13:20Z");
        assert!(me["last_active_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(list[1]["kind"], "browser");
        assert_eq!(list[1]["current"], false);
        assert_eq!(list[1]["auto_login"], false);
        assert!(!res.text.contains(app.token.as_deref().unwrap()));
    }

    async fn the_api_ends_sessions_by_id_following_the_rules(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let (_bob_web, bob_app) = browser_and_app(&server, "bob@example.com").await;
        let web_id = web.session_id().await;
        let own_id = app.session_id().await;
        let bob_id = bob_app.session_id().await;

        let res = app.send(Method::DELETE, &format!("/api/v1/sessions/{own_id}")).await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"], "conflict");
        let res = app.send(Method::DELETE, &format!("/api/v1/sessions/{bob_id}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.json()["error"], "not_found");
        assert_eq!(bob_app.me().await.status, StatusCode::OK, "Bob's session survives");
        let res = app.send(Method::DELETE, "/api/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);

        let res = app.send(Method::DELETE, &format!("/api/v1/sessions/{web_id}")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert!(res.text.is_empty());
        assert_eq!(web.status().await, json!({ "state": "ended", "reason": "ended_by_user" }));
        let res = app.send(Method::DELETE, &format!("/api/v1/sessions/{web_id}")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "already ended");
        assert_eq!(app.me().await.status, StatusCode::OK);
    }

    async fn the_api_can_end_every_session_at_once(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let mut tablet = server.app();
        tablet.log_in("ada@example.com", PASSWORD, "Tablet").await;
        let (mut bob, _) = browser_and_app(&server, "bob@example.com").await;
        let res = app.send(Method::DELETE, "/api/v1/sessions").await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        for a in [&app, &tablet] {
            let res = a.me().await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
            assert_eq!(res.json()["reason"], "terminated_all");
        }
        assert_eq!(web.status().await, json!({ "state": "ended", "reason": "terminated_all" }));
        assert_eq!(bob.status().await["state"], "active");
    }

    async fn the_api_ignores_cookies(db) {
        let server = TestServer::start(&db).await;
        let (web, app) = browser_and_app(&server, "ada@example.com").await;
        let cookie = format!("{COOKIE_NAME}={}", web.cookie.clone().unwrap());
        for (method, path) in [(Method::GET, "/api/v1/me"), (Method::GET, "/api/v1/sessions"), (Method::DELETE, "/api/v1/sessions"), (Method::POST, "/api/v1/logout")] {
            let req = server.raw().request(method.clone(), server.url(path)).header("cookie", &cookie).header("sec-fetch-site", "same-origin");
            let res = Answer::read(req.send().await.unwrap()).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(res.json()["error"], "unauthorized", "{method} {path}");
        }
        assert_eq!(server.browser_with(web.cookie.clone()).status().await["state"], "active");
        assert_eq!(app.me().await.status, StatusCode::OK);
    }

    async fn the_openapi_document_describes_the_api(db) {
        let server = TestServer::start(&db).await;
        let res = Answer::read(server.raw().get(server.url("/api/v1/openapi.json")).send().await.unwrap()).await;
        assert_eq!(res.status, StatusCode::OK);
        let doc = res.json();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in ["/api/v1/login", "/api/v1/logout", "/api/v1/me", "/api/v1/sessions", "/api/v1/sessions/{id}"] {
            assert!(paths.contains_key(path), "{path} missing");
        }
        assert!(paths["/api/v1/sessions"].get("get").is_some() && paths["/api/v1/sessions"].get("delete").is_some());
        assert!(paths["/api/v1/sessions/{id}"].get("delete").is_some());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    async fn every_answer_carries_the_security_headers(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let page = web.get("/").await;
        assert_security_headers(&page, "page");
        assert_no_store(&page, "page");
        let login_page = server.browser().get("/login").await;
        assert_security_headers(&login_page, "login page");
        let fun = web.call("sessions", &[]).await;
        assert_security_headers(&fun, "server function");
        assert_no_store(&fun, "server function");
        let status = web.get("/api/session/status").await;
        assert_security_headers(&status, "status");
        assert_no_store(&status, "status");
        for (what, res) in [
            ("api me", app.me().await),
            ("api sessions", app.send(Method::GET, "/api/v1/sessions").await),
            ("api 401", server.app().me().await),
        ] {
            assert_security_headers(&res, what);
            assert_no_store(&res, what);
        }
        let refused = web.clone().call_with("logout", &[], &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_security_headers(&refused, "403");
        let health = Answer::read(server.raw().get(server.url("/healthz")).send().await.unwrap()).await;
        assert_eq!(health.status, StatusCode::OK);
        let ready = Answer::read(server.raw().get(server.url("/readyz")).send().await.unwrap()).await;
        assert_eq!(ready.status, StatusCode::OK);
        assert_security_headers(&ready, "readyz");
    }

    async fn the_client_address_comes_from_the_socket_unless_a_trusted_proxy_forwards_it(db) {
        let server = TestServer::start(&db).await;
        let mut web = server.sign_up("Ada", "ada@example.com").await;
        let mut spoofing = server.browser();
        spoofing.call_with("login", &[("email", "ada@example.com"), ("password", PASSWORD)],
            &[("sec-fetch-site", "same-origin"), ("x-forwarded-for", "6.6.6.6")]).await;
        let list = web.sessions().await;
        assert!(list.iter().all(|s| s["ip"] == "127.0.0.1"), "{list:?}");
        server.stop().await;

        let behind_proxy = TestServer::start_with(&db, ManualClock::new(T0), &["--trusted-proxies", "127.0.0.1"]).await;
        let mut proxied = behind_proxy.browser();
        proxied.call_with("login", &[("email", "ada@example.com"), ("password", PASSWORD)],
            &[("sec-fetch-site", "same-origin"), ("x-forwarded-for", "6.6.6.6, 203.0.113.7")]).await;
        let list = proxied.sessions().await;
        let current = list.iter().find(|s| s["current"] == true).unwrap();
        assert_eq!(current["ip"], "203.0.113.7");
    }

    // ---- restarts and several instances ------------------------------------------------------------

    async fn a_saved_cookie_is_refused_after_its_session_ended_even_across_a_restart(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let mut laptop = server.browser();
        laptop.log_in("ada@example.com", PASSWORD, true).await;
        let saved_cookie = laptop.cookie.clone();
        let saved_token = app.token.clone().unwrap();
        let laptop_id = laptop.session_id().await;
        assert_eq!(web.call("end_session", &[("id", laptop_id.as_str())]).await.status, StatusCode::OK);
        assert_eq!(web.call("end_session", &[("id", app.session_id().await.as_str())]).await.status, StatusCode::OK);
        let web_cookie = web.cookie.clone();
        server.stop().await;

        let restarted = TestServer::start(&db).await;
        let mut replay = restarted.browser_with(saved_cookie);
        assert_eq!(replay.status().await, json!({ "state": "ended", "reason": "ended_by_user" }));
        let page = replay.get("/").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/login"));
        assert_eq!(replay.call("sessions", &[]).await.status, StatusCode::UNAUTHORIZED);
        let res = restarted.app_with(&saved_token).me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["reason"], "ended_by_user");
        // The session that did the ending survives the restart.
        let mut web = restarted.browser_with(web_cookie);
        assert_eq!(web.get("/").await.status, StatusCode::OK);
    }

    async fn two_instances_on_one_database_see_each_others_changes_at_once(db) {
        let clock = ManualClock::new(T0);
        let a = TestServer::start_with(&db, clock.clone(), &[]).await;
        let b = TestServer::start_with(&db, clock.clone(), &[]).await;

        // Browser logs in through A; ended through B's JSON API; A refuses it on the next request.
        let mut on_a = a.sign_up("Ada", "ada@example.com").await;
        let mut app_on_b = b.app();
        assert_eq!(app_on_b.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let web_id = on_a.session_id().await;
        assert_eq!(app_on_b.send(Method::DELETE, &format!("/api/v1/sessions/{web_id}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(on_a.status().await, json!({ "state": "ended", "reason": "ended_by_user" }));
        assert_eq!(on_a.get("/").await.location(), Some("/login"));

        // The app logs in through A; a browser on B ends it; A refuses the token at once.
        let mut app_on_a = a.app();
        app_on_a.log_in("ada@example.com", PASSWORD, "Tablet").await;
        let tablet_id = app_on_a.session_id().await;
        let mut on_b = b.browser();
        on_b.log_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(on_b.call("end_session", &[("id", tablet_id.as_str())]).await.status, StatusCode::OK);
        let res = app_on_a.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["reason"], "ended_by_user");

        // A password change through B ends the sessions A knows about; the new cookie works on A.
        let mut on_a2 = a.browser();
        on_a2.log_in("ada@example.com", PASSWORD, false).await;
        let form = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        assert_eq!(on_b.call("change_password", &form).await.status, StatusCode::OK);
        assert_eq!(on_a2.status().await, json!({ "state": "ended", "reason": "password_changed" }));
        let mut b_cookie_on_a = a.browser_with(on_b.cookie.clone());
        assert_eq!(b_cookie_on_a.get("/").await.status, StatusCode::OK);
        assert_eq!(app_on_b.me().await.json()["reason"], "password_changed");
    }
}
