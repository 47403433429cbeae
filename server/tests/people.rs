//! Manage Sessions for people, through the real server on both databases: renaming through the
//! page's server function and the API (the owner's sessions only), the confirmation and rename
//! pages that work without JavaScript, and the location a GeoIP database gives a login.

mod common;

use app::ssr::ManualClock;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// What a browser without JavaScript sends with a form post.
fn plain_form(referer: &str) -> [(&'static str, &str); 3] {
    [("sec-fetch-site", "same-origin"), ("accept", "text/html,application/xhtml+xml"), ("referer", referer)]
}

/// A GeoIP database of the test entries in a file of its own (removed with the returned guard's
/// directory when the test ends).
fn geo_file() -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("geo.mmdb");
    write_geo_db(&path, GEO_TEST_ENTRIES);
    let path = path.display().to_string();
    (dir, path)
}

mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("postern-people-{}", super::random_hex()));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

backend_tests! {
    async fn the_owner_renames_through_the_page_and_the_api_and_nobody_else_can(db) {
        let server = TestServer::start(&db).await;
        let (mut browser, app) = browser_and_app(&server, "ada@example.com").await;
        let app_id = app.session_id().await;

        let res = browser.call("rename_session", &[("id", &app_id), ("device_name", "Ada's phone")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let list = browser.sessions().await;
        let renamed = list.iter().find(|s| s["id"] == app_id.as_str()).unwrap();
        assert_eq!(renamed["device"], "Ada's phone");
        assert_eq!(renamed["parsed_device"], "Mail app on Pixel 8");

        // The API renames too, its own session included, and lists the name.
        let res = app
            .request(Method::PATCH, &format!("/api/v1/sessions/{app_id}"))
            .json(&json!({ "device_name": "Pixel in the kitchen" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let listed = app.send(Method::GET, "/api/v1/sessions").await.json();
        let mine = listed.as_array().unwrap().iter().find(|s| s["id"] == app_id.as_str()).unwrap().clone();
        assert_eq!(mine["device"], "Pixel in the kitchen");
        assert_eq!(mine["parsed_device"], "Mail app on Pixel 8");
        assert_eq!(mine["location"], serde_json::Value::Null, "no GeoIP database here");

        // Bad names: 400 with the field, in the one error shape; nothing changes.
        let patch = |body: serde_json::Value| {
            app.request(Method::PATCH, &format!("/api/v1/sessions/{app_id}")).json(&body).send()
        };
        for bad in ["x".repeat(65), "a\u{202E}b".to_string()] {
            let res = Answer::read(patch(json!({ "device_name": bad })).await.unwrap()).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
            assert_eq!(res.json()["error"], "validation");
            assert_eq!(res.json()["field"], "device_name");
        }
        let res = Answer::read(patch(json!({ "name": "wrong field" })).await.unwrap()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
        let res = Answer::read(
            app.request(Method::PATCH, &format!("/api/v1/sessions/{app_id}")).body("device_name=x").send().await.unwrap(),
        )
        .await;
        assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let res = browser.call("rename_session", &[("id", &app_id), ("device_name", &"y".repeat(65))]).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
        let listed = app.send(Method::GET, "/api/v1/sessions").await.json();
        assert!(listed.as_array().unwrap().iter().any(|s| s["device"] == "Pixel in the kitchen"), "unchanged");

        // Another account: 404 through both, and its own list is untouched.
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let res = bob.call("rename_session", &[("id", &app_id), ("device_name", "Mine now")]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        let mut bobs_app = server.app();
        bobs_app.log_in("bob@example.com", PASSWORD, "Bob's phone").await;
        let res = Answer::read(
            bobs_app
                .request(Method::PATCH, &format!("/api/v1/sessions/{app_id}"))
                .json(&json!({ "device_name": "Mine now" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.json()["error"], "not_found");
        let listed = app.send(Method::GET, "/api/v1/sessions").await.json();
        assert!(listed.as_array().unwrap().iter().any(|s| s["device"] == "Pixel in the kitchen"), "untouched");

        // Without a session: 401.
        let res = server.raw().patch(server.url(&format!("/api/v1/sessions/{app_id}"))).json(&json!({ "device_name": "x" })).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }

    async fn the_confirmation_page_asks_in_the_dialogs_words_and_ok_ends_as_a_plain_form(db) {
        let server = TestServer::start(&db).await;
        let (mut browser, app) = browser_and_app(&server, "ada@example.com").await;
        let app_id = app.session_id().await;
        let mine = browser.session_id().await;

        // The list's buttons are forms that lead to these pages.
        let list = browser.get("/settings/sessions").await;
        for form in [
            "action=\"/settings/sessions/end\"",
            "action=\"/settings/sessions/rename\"",
            "action=\"/api/fn/end_other_sessions\"",
            "action=\"/api/fn/terminate_all\"",
        ] {
            assert!(list.text.contains(form), "{form} in the list");
        }

        let page = browser.get(&format!("/settings/sessions/end?id={app_id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        for text in ["End this session?", "Mail app on Pixel 8 will be logged out. It can log in again with your password.", ">OK<", ">Cancel<", "action=\"/api/fn/end_session\""] {
            assert!(page.text.contains(text), "{text:?} on the confirmation page");
        }
        // The current session cannot be ended here; another account's is not found.
        let own = browser.get(&format!("/settings/sessions/end?id={mine}")).await;
        assert!(own.text.contains("You cannot end your current session here."));
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let theirs = bob.get(&format!("/settings/sessions/end?id={app_id}")).await;
        assert!(theirs.text.contains("This session has already ended, or is not one of yours."));
        assert!(!theirs.text.contains("Mail app on Pixel 8"), "nothing of Ada's session shows");

        // OK, as a plain form: the session ends and the browser goes back to the list.
        let confirm = server.url(&format!("/settings/sessions/end?id={app_id}"));
        let res = browser.call_with("end_session", &[("id", &app_id)], &plain_form(&confirm)).await;
        assert!(res.status.is_redirection(), "{}: {}", res.status, res.text);
        assert_eq!(res.location(), Some("/settings/sessions"));
        assert_eq!(app.me().await.status, StatusCode::UNAUTHORIZED, "the app is logged out");
    }

    async fn the_rename_page_saves_as_a_plain_form_and_shows_a_refusal(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.sign_up("Ada", "ada@example.com").await;
        let mine = browser.session_id().await;
        let page = browser.get(&format!("/settings/sessions/rename?id={mine}")).await;
        for text in ["Rename session", "Device name", ">Save<", "Chrome on Linux"] {
            assert!(page.text.contains(text), "{text:?} on the rename page");
        }
        let rename_page = server.url(&format!("/settings/sessions/rename?id={mine}"));
        let res = browser.call_with("rename_session", &[("id", &mine), ("device_name", "Desk")], &plain_form(&rename_page)).await;
        assert_eq!(res.location(), Some("/settings/sessions"), "{}", res.text);
        assert!(browser.get("/settings/sessions").await.text.contains("Desk"));

        // Refused: back to the rename page, which shows why.
        let res = browser
            .call_with("rename_session", &[("id", &mine), ("device_name", &"z".repeat(65))], &plain_form(&rename_page))
            .await;
        let back = res.location().expect("back to the form").to_string();
        assert!(back.starts_with(&rename_page) || back.starts_with("/settings/sessions/rename"), "{back}");
        // The page shows a URL's error only with the flash cookie the redirect set (see
        // middleware/flash.rs): send it back as a browser would.
        let flash = res
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("postern_flash="))
            .and_then(|v| v.split(';').next())
            .expect("the flash cookie")
            .to_string();
        let token = browser.cookie.clone().unwrap();
        let shown = server
            .raw()
            .get(if back.starts_with("http") { back.clone() } else { server.url(&back) })
            .header("cookie", format!("{COOKIE_NAME}={token}; {flash}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(shown.contains("role=\"alert\""), "{shown}");
        assert!(shown.contains("64 characters"), "the message says the limit");
        assert!(browser.get("/settings/sessions").await.text.contains("Desk"), "nothing changed");
    }

    async fn with_a_geoip_database_the_list_says_where_each_login_came_from(db) {
        let (_dir, geo) = geo_file();
        let server = TestServer::start_with(&db, ManualClock::new(T0), &["--geoip-db", &geo, "--trusted-proxies", "127.0.0.1"]).await;
        let mut local = server.sign_up("Ada", "ada@example.com").await;
        let mut berlin = server.browser();
        let res = berlin
            .call_with(
                "login",
                &[("email", "ada@example.com"), ("password", PASSWORD)],
                &[("sec-fetch-site", "same-origin"), ("x-forwarded-for", "192.0.2.10")],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let page = local.get("/settings/sessions").await;
        assert!(page.text.contains("near Berlin, Germany"), "the city of 192.0.2.10");
        assert!(page.text.contains("Local network"), "127.0.0.1");
        let list = local.sessions().await;
        assert!(list.iter().any(|s| s["location"] == "Berlin, Germany" && s["ip"] == "192.0.2.10"));
        // The new-login message says where too.
        let inbox = local.call("messages", &[]).await.json();
        assert_eq!(inbox["messages"][0]["location"], "Berlin, Germany");
    }

    async fn a_geoip_path_that_is_no_database_stops_the_server_with_its_name(db) {
        let dir = tempdir::Dir::new();
        let path = dir.path.join("not-a-database.mmdb");
        std::fs::write(&path, b"hello").unwrap();
        let path = path.display().to_string();
        let listen = "127.0.0.1:0".to_string();
        let config = <server::config::Config as clap::Parser>::parse_from([
            "postern", "--database-url", &db.url, "--listen", &listen, "--geoip-db", &path,
        ]);
        let clock: app::ssr::SharedClock = ManualClock::new(T0);
        let err = server::build_state(&config, clock, app::ssr::password::PasswordHasherPool::for_tests())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains(&path), "{err}");
    }
}
