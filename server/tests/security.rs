//! Regression tests of the security review (issue 11) over real HTTP, on SQLite and PostgreSQL:
//! device cookies and app device ids that keep the owner's devices logging in while strangers
//! fill the account's throttle counter, the sign-up limit, and one rule for device names.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

const WRONG: &str = "Not-The-Password-99";

async fn api_login(server: &TestServer, email: &str, password: &str, device_id: Option<&str>) -> Answer {
    let body = json!({ "email": email, "password": password, "device_name": "Pixel 8", "device_id": device_id });
    Answer::read(server.raw().post(server.url("/api/v1/login")).json(&body).send().await.expect("login")).await
}

backend_tests! {
    async fn a_browser_that_logged_in_before_is_not_held_back_by_strangers_guesses(db) {
        let server = TestServer::start(&db).await;
        let mut owner = server.browser();
        let res = owner.sign_up("Ada", "ada@example.com", PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let set = res.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with("postern_device=")).expect("a device cookie").to_string();
        assert!(set.contains("HttpOnly") && set.contains("Max-Age=31536000") && set.contains("SameSite=Lax"), "{set}");
        let device = owner.device.clone().expect("kept");
        assert_eq!(device.len(), 43);
        // Logging out keeps the device cookie, as a browser would.
        owner.call("logout", &[]).await;
        // Strangers guess until the account says wait.
        for _ in 0..8 {
            server.browser().log_in("ada@example.com", WRONG, false).await;
        }
        let stranger = server.browser().log_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS);
        // The owner's browser logs in at once, and keeps its device id (no new cookie).
        let res = owner.log_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert!(res.device_set_cookie().is_none(), "a known device keeps its cookie");
        assert_eq!(owner.status().await["state"], "active");
        // A browser that forges a device id it never got is a stranger.
        let mut forger = server.browser();
        forger.device = Some("A".repeat(43));
        assert_eq!(forger.log_in("ada@example.com", PASSWORD, false).await.status, StatusCode::TOO_MANY_REQUESTS);
    }

    async fn a_mail_app_that_sends_its_device_id_keeps_logging_in_while_the_account_is_attacked(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let first = api_login(&server, "ada@example.com", PASSWORD, None).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let device_id = first.json()["device_id"].as_str().unwrap().to_string();
        for _ in 0..8 {
            api_login(&server, "ada@example.com", WRONG, None).await;
        }
        assert_eq!(api_login(&server, "ada@example.com", PASSWORD, None).await.status, StatusCode::TOO_MANY_REQUESTS);
        let again = api_login(&server, "ada@example.com", PASSWORD, Some(&device_id)).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.json()["device_id"], device_id.as_str(), "the same id comes back");
        // Anything but an id Postern issued counts as none.
        let junk = api_login(&server, "ada@example.com", PASSWORD, Some("not-a-device")).await;
        assert_eq!(junk.status, StatusCode::TOO_MANY_REQUESTS);
    }

    async fn sign_ups_from_one_address_stop_at_the_configured_limit_with_retry_after(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &["--signup-limit-per-hour", "3"]).await;
        for i in 0..3 {
            let res = server.browser().sign_up("User", &format!("user{i}@example.com"), PASSWORD).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        }
        let refused = server.browser().sign_up("User", "user3@example.com", PASSWORD).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
        assert_eq!(refused.json()["error"], "too_many_signups");
        assert_eq!(refused.json()["message"], "Too many new accounts from this address. Please try again later.");
        // Retry-After says when the hour is over, counted from the last sign-up.
        assert_eq!(refused.header("retry-after"), Some("3600"));
        assert_eq!(refused.json()["retry_after_secs"], 3600);
        clock.advance_ms(HOUR);
        assert_eq!(server.browser().sign_up("User", "user3@example.com", PASSWORD).await.status, StatusCode::OK);
    }

    async fn the_api_refuses_control_and_invisible_characters_in_device_names_naming_the_field(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        for bad in ["Pixel\u{7}8", "Pixel\n8", "Pixel\u{202E}8", "Pi\u{200B}xel"] {
            let body = json!({ "email": "ada@example.com", "password": PASSWORD, "device_name": bad });
            let res = Answer::read(server.raw().post(server.url("/api/v1/login")).json(&body).send().await.unwrap()).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", res.text);
            assert_eq!(res.json()["field"], "device_name");
            assert_eq!(res.json()["error"], "validation");
        }
        let ok = api_login(&server, "ada@example.com", PASSWORD, None).await;
        assert_eq!(ok.status, StatusCode::OK);
    }

    async fn a_nul_in_an_email_or_a_session_id_is_refused_like_any_stranger_never_a_500(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.sign_up("Ada", "ada@example.com").await;
        let res = server.browser().log_in("ada\u{0}@example.com", PASSWORD, false).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
        assert_eq!(res.json()["error"], "invalid_credentials");
        let res = browser.call("end_session", &[("id", "abc\u{0}def")]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
}
