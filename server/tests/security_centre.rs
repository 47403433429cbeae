//! The security centre (issue 13) over real HTTP, on SQLite and on PostgreSQL: "End all other
//! sessions" (server function and `DELETE /api/v1/sessions?except=current`), new-login messages
//! in the Inbox and the mail-app API, messages reachable only by their owner, "This wasn't me" →
//! "Secure my account", the activity page and its CSV download, and "Recently ended" sessions.
//! Every test starts its own server on a loopback port with a manual clock at `T0`.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use common::*;
use regex::Regex;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const WRONG: &str = "Not-The-Password-99";
const FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
/// A user agent a spreadsheet would run as a formula (OWASP's CSV-injection example).
const EVIL_UA: &str = "=cmd|' /C calc'!A0";
/// `T0` as the CSV and the JSON API write it.
const T0_ISO: &str = "2023-11-14T22:13:20Z";
const SUBJECT: &str = "New login to your account";
const CSV_HEADER: &str = "When,What,Device,IP address";

// ---- helpers ------------------------------------------------------------------------------------

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

/// A fresh browser (no session cookie, no device cookie), logged in to `email`.
async fn logged_in(server: &TestServer, email: &str, password: &str) -> Browser {
    server.logged_in(email, password, false).await
}

/// A browser login through the server function with extra request headers (a `User-Agent` of
/// its own, an `X-Forwarded-For`). reqwest adds the client's default `User-Agent` only when the
/// request carries none, so a `user-agent` here replaces it.
async fn log_in_with(browser: &mut Browser, email: &str, password: &str, headers: &[(&str, &str)]) -> Answer {
    let mut all: Vec<(&str, &str)> = vec![("sec-fetch-site", "same-origin")];
    all.extend_from_slice(headers);
    browser.call_with("login", &[("email", email), ("password", password)], &all).await
}

async fn assert_ended(browser: &mut Browser, reason: &str, what: &str) {
    assert_eq!(browser.status().await, json!({ "state": "ended", "reason": reason }), "{what}");
}

async fn assert_active(browser: &mut Browser, what: &str) {
    assert_eq!(browser.status().await["state"], "active", "{what}");
}

/// The answer of a server function that succeeded; a redirect (report_not_me, delete_message) is
/// a 200 with `Location` for the page's JavaScript, a 302/303 for a plain form.
fn assert_done(res: &Answer, what: &str) {
    assert!(res.status.is_success() || res.status.is_redirection(), "{what}: {:?} {}", res.status, res.text);
}

/// The page's HTML with the framework's markers (`<!>`, comments) dropped and the entities a
/// text like "This wasn't me" may be written with decoded, so that texts can be searched.
fn readable(html: &str) -> String {
    let markers = Regex::new(r"(?s)<!--.*?-->|<!>").unwrap();
    markers
        .replace_all(html, "")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// `GET path` as a signed-in browser: 200 HTML, made [`readable`].
async fn page(browser: &mut Browser, path: &str) -> String {
    let res = browser.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "GET {path}: {}", res.text);
    assert!(res.header("content-type").is_some_and(|v| v.starts_with("text/html")), "GET {path}: {:?}", res.headers);
    readable(&res.text)
}

/// The ids of the messages an Inbox page links to (`/inbox/<id>`). A set: a link that the page
/// happens to render twice is still one message.
// GUESS: each message is an `<a href="/inbox/<id>">` (the contract's "each a link (to /inbox/<id>)").
fn message_ids(html: &str) -> BTreeSet<i64> {
    let link = Regex::new(r#"href="/inbox/(\d+)""#).unwrap();
    link.captures_iter(html).map(|c| c[1].parse().expect("an id")).collect()
}

/// The Inbox (`GET /`) of `browser`: the ids of its messages.
async fn inbox(browser: &mut Browser) -> BTreeSet<i64> {
    message_ids(&page(browser, "/").await)
}

fn only(ids: &BTreeSet<i64>) -> i64 {
    assert_eq!(ids.len(), 1, "exactly one message: {ids:?}");
    *ids.iter().next().unwrap()
}

/// `GET /api/v1/messages` of a logged-in mail app.
async fn api_messages(app: &MailApp) -> Vec<Value> {
    let res = app.send(Method::GET, "/api/v1/messages").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    res.json()["messages"].as_array().expect("a list of messages").clone()
}

/// `list_sessions` (`POST /api/fn/sessions`) whole: `sessions` and `ended`.
async fn session_list(browser: &mut Browser) -> Value {
    let res = browser.call("sessions", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()
}

fn ended_ids(list: &Value) -> Vec<String> {
    list["ended"].as_array().expect("an `ended` list").iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

fn ended_entry<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["ended"]
        .as_array()
        .expect("an `ended` list")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not among the ended sessions: {list}"))
}

/// A wrong current password in "Secure my account".
// GUESS: the contract does not say which error this is. The existing re-entries (change_password,
// reset_auto_login) answer 400 validation naming the field; a 401 invalid_credentials is also
// accepted here. Anything else (a 500, a 200, session_ended) fails.
fn assert_wrong_current_password(res: &Answer) {
    match res.status {
        StatusCode::BAD_REQUEST => {
            assert_eq!(res.json()["error"], "validation", "{}", res.text);
            assert_eq!(res.json()["field"], "current_password", "{}", res.text);
        }
        StatusCode::UNAUTHORIZED => assert_eq!(res.json()["error"], "invalid_credentials", "{}", res.text),
        other => panic!("a wrong current password got {other}: {}", res.text),
    }
}

/// A CSV document as a spreadsheet reads it: rows of cells, `"…"` quoting with `""` escapes,
/// CRLF or LF line ends.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            _ => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// `GET /settings/activity.csv<query>`: checks the headers and the header line, returns the data
/// rows (each checked to have the four columns).
async fn activity_csv(browser: &mut Browser, query: &str) -> Vec<Vec<String>> {
    let path = format!("/settings/activity.csv{query}");
    let res = browser.get(&path).await;
    assert_eq!(res.status, StatusCode::OK, "GET {path}: {}", res.text);
    assert!(res.header("content-type").is_some_and(|v| v.starts_with("text/csv")), "{path}: {:?}", res.headers);
    assert!(
        res.header("content-disposition").is_some_and(|v| v.contains("attachment")),
        "{path}: a download: {:?}",
        res.headers
    );
    // A byte-order mark (some spreadsheets want one) is not part of the header line.
    let text = res.text.trim_start_matches('\u{feff}');
    assert_eq!(text.lines().next(), Some(CSV_HEADER), "{path}: {text}");
    let rows = csv_rows(text);
    for row in &rows[1..] {
        assert_eq!(row.len(), 4, "{path}: four columns: {row:?}\n{text}");
    }
    rows[1..].to_vec()
}

fn whats(rows: &[Vec<String>]) -> Vec<&str> {
    rows.iter().map(|r| r[1].as_str()).collect()
}

/// The `<input …>` tag of the login-notification checkbox on Security options.
// GUESS: the checkbox is `<input type="checkbox" name="notify" …>` (the form field the contract
// names), with a `checked` attribute when on.
fn notify_checkbox(html: &str) -> String {
    let start = html.find(r#"name="notify""#).expect("the login-notification checkbox");
    let open = html[..start].rfind("<input").expect("an input tag");
    let close = start + html[start..].find('>').expect("a closed tag");
    html[open..=close].to_string()
}

backend_tests! {
    // ---- pages ------------------------------------------------------------------------------------

    async fn my_account_and_security_options_show_their_sections(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada Lovelace", "ada@example.com").await;
        let account = page(&mut ada, "/account").await;
        for text in ["My Account", "Ada Lovelace", "ada@example.com", "Security options", "Manage Sessions", "Change password",
                     r#"href="/account/security""#, r#"href="/settings/sessions""#, r#"href="/settings/password""#] {
            assert!(account.contains(text), "/account lacks {text:?}");
        }
        let security = page(&mut ada, "/account/security").await;
        for text in ["Security options", "Password", "Last changed", "Sessions", "1 active session", "Manage Sessions",
                     "Security activity", "See all security activity", r#"href="/settings/activity""#,
                     "Login notifications", "Tell me about logins from new devices", "Save changes",
                     "Reset auto-login", "Reset auto-login now"] {
            assert!(security.contains(text), "/account/security lacks {text:?}");
        }
        assert!(notify_checkbox(&security).contains("checked"), "on by default: {}", notify_checkbox(&security));
        let _laptop = logged_in(&server, "ada@example.com", PASSWORD).await;
        assert!(page(&mut ada, "/account/security").await.contains("2 active sessions"));

        let res = ada.call("save_login_notifications", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let security = page(&mut ada, "/account/security").await;
        assert!(!notify_checkbox(&security).contains("checked"), "saved as off: {}", notify_checkbox(&security));
        let res = ada.call("save_login_notifications", &[("notify", "on")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert!(notify_checkbox(&page(&mut ada, "/account/security").await).contains("checked"));

        let sessions = page(&mut ada, "/settings/sessions").await;
        assert!(sessions.contains("Security activity") && sessions.contains(r#"href="/settings/activity""#), "the settings menu");
        assert!(sessions.contains("End all other sessions"), "two sessions: the button is there");
        assert!(sessions.contains("Recently ended"));
        let activity = page(&mut ada, "/settings/activity").await;
        for text in ["Security activity", "When", "What", "Device", "IP address", "Show", "Apply", "Download CSV",
                     "/settings/activity.csv?show="] {
            assert!(activity.contains(text), "/settings/activity lacks {text:?}");
        }
    }

    async fn the_new_pages_send_people_without_a_session_to_the_login_page(db) {
        let server = TestServer::start(&db).await;
        let mut anonymous = server.browser();
        for path in ["/account", "/settings/activity", "/inbox/1", "/account/secure?session=AAAAAAAAAAAAAAAAAAAAAA"] {
            let res = anonymous.get(path).await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}: {}", res.text);
            assert_eq!(res.location(), Some("/login"), "{path}");
        }
        // GUESS: the CSV is not a page; a redirect to the login page or a 401 both refuse it.
        let res = anonymous.get("/settings/activity.csv?show=all").await;
        assert!(
            (res.status == StatusCode::SEE_OTHER && res.location() == Some("/login")) || res.status == StatusCode::UNAUTHORIZED,
            "{:?} {:?}", res.status, res.location()
        );
        assert!(!res.text.contains(CSV_HEADER));
        let res = server.app().send(Method::GET, "/api/v1/messages").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"], "unauthorized");
        // The API ignores cookies, the new endpoint too.
        let web = server.sign_up("Ada", "ada@example.com").await;
        let req = server.raw().get(server.url("/api/v1/messages")).header("cookie", format!("{COOKIE_NAME}={}", web.cookie.clone().unwrap()));
        let res = Answer::read(req.send().await.unwrap()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }

    async fn the_new_server_functions_refuse_cross_site_requests_and_change_nothing(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let app_id = app.session_id().await;
        let refusal = json!({ "error": "forbidden", "message": "This request was refused because it did not come from this site." });
        let secure = [("session", app_id.as_str()), ("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("end_other_sessions", vec![]),
            ("save_login_notifications", vec![]),
            ("mark_message_read", vec![("id", "1")]),
            ("delete_message", vec![("id", "1")]),
            ("report_not_me", vec![("id", "1")]),
            ("secure_account", secure.to_vec()),
        ];
        for headers in [vec![("sec-fetch-site", "cross-site")], vec![], vec![("origin", "http://evil.example")]] {
            for (name, form) in &calls {
                let res = web.clone().call_with(name, form, &headers).await;
                assert_eq!(res.status, StatusCode::FORBIDDEN, "{name} with {headers:?}: {}", res.text);
                assert_eq!(res.json(), refusal, "{name} with {headers:?}");
            }
        }
        assert_active(&mut web, "the browser").await;
        assert_eq!(app.me().await.status, StatusCode::OK, "the app's session");
        assert_eq!(server.app().log_in("ada@example.com", PASSWORD, "Check").await.status, StatusCode::OK, "the password is the old one");
        assert!(notify_checkbox(&page(&mut web, "/account/security").await).contains("checked"), "notifications still on");
    }

    // ---- end all other sessions -----------------------------------------------------------------------

    async fn ending_all_other_sessions_keeps_exactly_the_callers_session(db) {
        let server = TestServer::start(&db).await;
        let mut first = server.sign_up("Ada", "ada@example.com").await;
        let mut second = logged_in(&server, "ada@example.com", PASSWORD).await;
        let mut third = logged_in(&server, "ada@example.com", PASSWORD).await;
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let (first_id, second_id, third_id) = (first.session_id().await, second.session_id().await, third.session_id().await);
        assert_eq!(second.sessions().await.len(), 3);

        let res = second.call("end_other_sessions", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_active(&mut second, "the caller").await;
        assert_ended(&mut first, "ended_others", "the first browser").await;
        assert_ended(&mut third, "ended_others", "the third browser").await;
        assert_active(&mut bob, "another account").await;
        let list = second.sessions().await;
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!((list[0]["id"].as_str().unwrap(), &list[0]["current"]), (second_id.as_str(), &json!(true)));
        let list = session_list(&mut second).await;
        assert_eq!(ended_entry(&list, &first_id)["reason"], "ended_others");
        assert_eq!(ended_entry(&list, &third_id)["reason"], "ended_others");
        assert_eq!(second.get("/").await.status, StatusCode::OK);

        // An ended browser cannot end the survivor; with no other session left the call is fine.
        let res = first.call("end_other_sessions", &[]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
        assert_eq!(res.json()["error"], "session_ended");
        assert_eq!(second.call("end_other_sessions", &[]).await.status, StatusCode::OK);
        assert_active(&mut second, "the caller, again").await;
        assert_active(&mut bob, "another account, again").await;
    }

    async fn the_api_ends_every_other_session_with_except_current(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let mut tablet = server.app();
        assert_eq!(tablet.log_in("ada@example.com", PASSWORD, "Tablet").await.status, StatusCode::OK);
        let (mut bob_web, bob_app) = browser_and_app(&server, "bob@example.com").await;

        // Any other value is refused, naming the parameter, and ends nothing (an empty one too:
        // it must not fall back to "terminate all").
        for bad in ["bogus", "CURRENT", "all", ""] {
            let res = app.send(Method::DELETE, &format!("/api/v1/sessions?except={bad}")).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "except={bad}: {}", res.text);
            assert_eq!(res.json()["error"], "validation", "except={bad}");
            assert_eq!(res.json()["field"], "except", "except={bad}");
        }
        assert_active(&mut web, "after the refusals").await;
        assert_eq!(tablet.me().await.status, StatusCode::OK);
        assert_eq!(app.me().await.status, StatusCode::OK);

        let res = app.send(Method::DELETE, "/api/v1/sessions?except=current").await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
        assert!(res.text.is_empty());
        assert_eq!(app.me().await.status, StatusCode::OK, "the app's own session stays");
        let res = tablet.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["reason"], "ended_others");
        assert_ended(&mut web, "ended_others", "the browser").await;
        let list = app.send(Method::GET, "/api/v1/sessions").await.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["current"], true);
        assert_active(&mut bob_web, "another account's browser").await;
        assert_eq!(bob_app.me().await.status, StatusCode::OK, "another account's app");

        // Without the parameter it still ends every session, the app's own included.
        let res = app.send(Method::DELETE, "/api/v1/sessions").await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        let res = app.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["reason"], "terminated_all");
        assert_eq!(bob_app.me().await.status, StatusCode::OK);
    }

    async fn the_openapi_document_describes_except_current_and_the_messages(db) {
        let server = TestServer::start(&db).await;
        let res = Answer::read(server.raw().get(server.url("/api/v1/openapi.json")).send().await.unwrap()).await;
        assert_eq!(res.status, StatusCode::OK);
        let doc = res.json();
        let delete = &doc["paths"]["/api/v1/sessions"]["delete"];
        // GUESS: `except` is documented as a parameter of the operation (utoipa `params(...)`).
        let params = delete["parameters"].as_array().unwrap_or_else(|| panic!("no parameters: {delete}"));
        assert!(params.iter().any(|p| p["name"] == "except" && p["in"] == "query"), "{params:?}");
        assert!(delete.to_string().contains("except=current"), "a curl example: {delete}");
        assert!(doc["paths"]["/api/v1/messages"]["get"].is_object(), "GET /api/v1/messages is documented");
    }

    // ---- new-login messages -------------------------------------------------------------------------

    async fn a_login_from_a_new_device_leaves_exactly_one_message_and_a_known_one_none(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &[]).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        // The browser that created the account is known from the start.
        let html = page(&mut ada, "/").await;
        assert!(message_ids(&html).is_empty(), "{html}");
        assert!(html.contains("No messages in Inbox."));
        // The count is there for the stream to update, but hidden while it is 0.
        assert!(html.contains(r#"<span hidden class="unread-count">"#), "no unread count shown: {html}");

        let mut laptop = logged_in(&server, "ada@example.com", PASSWORD).await;
        assert!(laptop.device.is_some(), "the new browser got a device cookie");
        let html = page(&mut ada, "/").await;
        let message = only(&message_ids(&html));
        assert!(html.contains(SUBJECT) && html.contains("Postern security"), "{html}");
        assert!(html.contains(r#"<span class="count">1</span>"#), "one unread: {html}");
        assert!(html.contains(r#"<span class="unread-count">"#), "shown: {html}");

        let html = page(&mut ada, &format!("/inbox/{message}")).await;
        for text in [SUBJECT, "Postern security", "Chrome on Linux", "127.0.0.1", "Yes, it was me", "This wasn't me", "Delete"] {
            assert!(html.contains(text), "the message lacks {text:?}");
        }
        // Read from the very session it is about, it offers no remedy (the intruder reads it too).
        let html = page(&mut laptop, &format!("/inbox/{message}")).await;
        assert!(html.contains("This is the login from this device."), "{html}");
        assert!(!html.contains("Yes, it was me") && !html.contains("This wasn't me"), "no buttons: {html}");

        // A second login from the same browser (it kept its device cookie) is not new.
        assert_eq!(laptop.call("logout", &[]).await.status, StatusCode::OK);
        assert!(laptop.device.is_some(), "logging out keeps the device cookie");
        let res = laptop.log_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert!(res.device_set_cookie().is_none(), "a known device keeps its id");
        assert_eq!(inbox(&mut ada).await, BTreeSet::from([message]), "no message for a known browser");

        // The mail app lists the messages; its own login, from a new device, is one too.
        clock.advance_ms(MINUTE);
        let mut app = server.app();
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let messages = api_messages(&app).await;
        assert_eq!(messages.len(), 2, "{messages:?}");
        let about_laptop: Vec<&Value> = messages.iter().filter(|m| m["device"] == "Chrome on Linux").collect();
        assert_eq!(about_laptop.len(), 1, "{messages:?}");
        let m = about_laptop[0];
        assert_eq!(keys(m), ["at", "device", "id", "ip", "read", "subject", "this_session"]);
        assert_eq!(m["id"], message);
        assert_eq!(m["subject"], SUBJECT);
        assert_eq!(m["ip"], "127.0.0.1");
        assert_eq!(m["at"], T0_ISO);
        assert_eq!((&m["read"], &m["this_session"]), (&json!(false), &json!(false)));
        // Newest first: the app's own login, a minute later, read from that very session.
        assert_eq!(messages[0]["device"], "Mail app on Pixel 8");
        assert_eq!(messages[0]["this_session"], true);
        assert!(!messages.iter().any(|m| m.to_string().contains(app.token.as_deref().unwrap())), "no token in a message");
        assert_eq!(inbox(&mut ada).await.len(), 2);

        // "Yes, it was me" only marks it read.
        let res = ada.call("mark_message_read", &[("id", message.to_string().as_str())]).await;
        assert_done(&res, "mark_message_read");
        let messages = api_messages(&app).await;
        let m = messages.iter().find(|m| m["id"] == message).expect("still there");
        assert_eq!(m["read"], true);
        assert_active(&mut laptop, "confirming ends nothing").await;

        // Notifications off: a further new device leaves no message.
        let res = ada.call("save_login_notifications", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let before = inbox(&mut ada).await;
        let _tablet = logged_in(&server, "ada@example.com", PASSWORD).await;
        assert_eq!(inbox(&mut ada).await, before, "notifications are off");
        // On again: the next new device does.
        let res = ada.call("save_login_notifications", &[("notify", "on")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let _phone = logged_in(&server, "ada@example.com", PASSWORD).await;
        assert_eq!(inbox(&mut ada).await.len(), before.len() + 1);

        // The sign-up browser logging in again is still known.
        let count = inbox(&mut ada).await.len();
        assert_eq!(ada.call("logout", &[]).await.status, StatusCode::OK);
        assert_eq!(ada.log_in("ada@example.com", PASSWORD, false).await.status, StatusCode::OK);
        assert_eq!(inbox(&mut ada).await.len(), count);
        // A failed login leaves no message either.
        assert_eq!(server.browser().log_in("ada@example.com", WRONG, false).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(inbox(&mut ada).await.len(), count);
    }

    async fn messages_are_reachable_only_by_their_owner(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let mut bobs_laptop = logged_in(&server, "bob@example.com", PASSWORD).await;
        let _adas_laptop = logged_in(&server, "ada@example.com", PASSWORD).await;
        let bobs = only(&inbox(&mut bob).await);
        let adas = only(&inbox(&mut ada).await);
        assert_ne!(bobs, adas);
        let bobs_id = bobs.to_string();

        let res = ada.get(&format!("/inbox/{bobs}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        let html = readable(&res.text);
        assert!(html.contains("Page not found"), "{html}");
        assert!(!html.contains("bob@example.com"));
        for name in ["mark_message_read", "delete_message", "report_not_me"] {
            let res = ada.call(name, &[("id", bobs_id.as_str())]).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{name}: {}", res.text);
            assert_eq!(res.json()["error"], "message_not_found", "{name}");
            assert!(res.location().is_none(), "{name}: no redirect");
        }
        // A number that is nobody's message is the same 404.
        for name in ["mark_message_read", "delete_message", "report_not_me"] {
            let res = ada.call(name, &[("id", "987654321")]).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{name}: {}", res.text);
        }
        assert_eq!(ada.get("/inbox/987654321").await.status, StatusCode::NOT_FOUND);
        // Ids that are not numbers are refused, never a 500.
        for bad in ["abc", "", "1.5", "99999999999999999999", "1 OR 1=1", "-1", "0x1"] {
            for name in ["mark_message_read", "delete_message", "report_not_me"] {
                let res = ada.call(name, &[("id", bad)]).await;
                assert!(matches!(res.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND), "{name} id={bad:?}: {:?} {}", res.status, res.text);
            }
        }
        for bad in ["abc", "1.5", "99999999999999999999", "-1", "0", "1%20OR%201=1", "%00"] {
            let res = ada.get(&format!("/inbox/{bad}")).await;
            assert!(matches!(res.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND), "/inbox/{bad}: {:?}", res.status);
        }

        // Bob's message is untouched: there, unread, and his to read, confirm and delete.
        assert_eq!(inbox(&mut bob).await, BTreeSet::from([bobs]));
        let mut bobs_app = server.app();
        assert_eq!(bobs_app.log_in("bob@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let messages = api_messages(&bobs_app).await;
        let m = messages.iter().find(|m| m["id"] == bobs).unwrap_or_else(|| panic!("{messages:?}"));
        assert_eq!(m["read"], false);
        assert_active(&mut bobs_laptop, "Ada's report_not_me ended nothing of Bob's").await;
        let mut adas_app = server.app();
        assert_eq!(adas_app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        assert!(!api_messages(&adas_app).await.iter().any(|m| m["id"] == bobs), "Ada's API never lists Bob's message");
        assert_eq!(bob.get(&format!("/inbox/{bobs}")).await.status, StatusCode::OK);
        assert_done(&bob.call("mark_message_read", &[("id", bobs_id.as_str())]).await, "mark_message_read");
        let res = bob.call("delete_message", &[("id", bobs_id.as_str())]).await;
        assert_done(&res, "delete_message");
        assert!(!inbox(&mut bob).await.contains(&bobs), "deleted");
        assert_eq!(bob.get(&format!("/inbox/{bobs}")).await.status, StatusCode::NOT_FOUND);
        assert!(inbox(&mut ada).await.contains(&adas), "Ada's own message is still there");

        // "Secure my account" naming another account's session never ends it.
        let bobs_laptop_id = bobs_laptop.session_id().await;
        let form = [("session", bobs_laptop_id.as_str()), ("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        let res = ada.call("secure_account", &form).await;
        assert_ne!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.text);
        assert_active(&mut bobs_laptop, "Bob's laptop").await;
        assert_active(&mut bob, "Bob's browser").await;
        assert_eq!(bobs_app.me().await.status, StatusCode::OK);
    }

    // ---- "This wasn't me" -------------------------------------------------------------------------

    async fn this_wasnt_me_secures_the_account_in_one_step(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut intruder = logged_in(&server, "ada@example.com", PASSWORD).await;
        let intruder_id = intruder.session_id().await;
        let message = only(&inbox(&mut ada).await);
        let mut app = server.app();
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "Pixel 8").await.status, StatusCode::OK);
        let mut other = logged_in(&server, "ada@example.com", PASSWORD).await;
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        let ada_id = ada.session_id().await;

        let res = ada.call("report_not_me", &[("id", message.to_string().as_str())]).await;
        assert_done(&res, "report_not_me");
        let secure_path = format!("/account/secure?session={intruder_id}");
        assert_eq!(res.location(), Some(secure_path.as_str()), "{:?}", res.headers);
        assert_active(&mut intruder, "reporting alone ends nothing").await;
        let html = page(&mut ada, &secure_path).await;
        for text in ["Secure your account", "Current password", "New password", "Repeat new password", "Secure my account"] {
            assert!(html.contains(text), "the page lacks {text:?}");
        }

        let form = |current: &'static str, repeat: &'static str| {
            [("session", intruder_id.clone()), ("current_password", current.to_string()),
             ("new_password", NEW_PASSWORD.to_string()), ("repeat_new_password", repeat.to_string())]
        };

        // A wrong current password changes nothing.
        let wrong = form(WRONG, NEW_PASSWORD);
        let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // A link alone never claims the account was secured.
        let spoofed = page(&mut ada, "/settings/sessions?secured=1").await;
        assert!(!spoofed.contains("Your account is secure"), "{spoofed}");
        let res = ada.call("secure_account", &wrong).await;
        assert_wrong_current_password(&res);
        assert_active(&mut intruder, "the reported browser, after a wrong password").await;
        assert_active(&mut other, "another browser, after a wrong password").await;
        assert_eq!(app.me().await.status, StatusCode::OK, "the app, after a wrong password");
        // Neither does a failure after the password check (the new passwords differ).
        let mismatch = form(PASSWORD, "Different-Password-55");
        let mismatch: Vec<(&str, &str)> = mismatch.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = ada.call("secure_account", &mismatch).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
        // GUESS: the field is `repeat_new_password`, as in change_password.
        assert_eq!(res.json()["field"], "repeat_new_password");
        assert_active(&mut intruder, "the reported browser, after a mismatch").await;
        assert_eq!(app.me().await.status, StatusCode::OK, "the app, after a mismatch");
        let check = server.app().log_in("ada@example.com", NEW_PASSWORD, "Check").await;
        assert_eq!(check.status, StatusCode::UNAUTHORIZED, "the password did not change");

        let right = form(PASSWORD, NEW_PASSWORD);
        let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = ada.call("secure_account", &right).await;
        assert_done(&res, "secure_account");
        assert_ended(&mut intruder, "not_me", "the reported browser").await;
        assert_ended(&mut other, "not_me", "every other browser").await;
        let res = app.me().await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["reason"], "not_me", "the app");
        // The caller's session goes on (with whatever new cookie it was given).
        assert_active(&mut ada, "the caller").await;
        assert_eq!(ada.get("/").await.status, StatusCode::OK);
        assert_eq!(ada.session_id().await, ada_id, "the same session");
        let list = ada.sessions().await;
        assert_eq!(list.len(), 1, "{list:?}");
        let list = session_list(&mut ada).await;
        assert_eq!(ended_entry(&list, &intruder_id)["reason"], "not_me");
        assert!(readable(&page(&mut ada, "/settings/activity").await).contains("Account secured"));
        assert!(page(&mut ada, "/settings/sessions").await.contains("This wasn't me"), "the How column");
        assert!(page(&mut ada, "/settings/sessions?secured=1").await.contains("Your account is secure"));
        assert_active(&mut bob, "another account").await;

        // The reported device is forgotten: its next login is new again and leaves a message.
        let before = inbox(&mut ada).await.len();
        assert!(intruder.device.is_some());
        let res = intruder.log_in("ada@example.com", NEW_PASSWORD, false).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(inbox(&mut ada).await.len(), before + 1, "the forgotten device is new");

        // The old password stops working; the new one works.
        let old = server.app().log_in("ada@example.com", PASSWORD, "Check").await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED);
        assert_eq!(old.json()["error"], "invalid_credentials");
        assert_eq!(server.browser().log_in("ada@example.com", NEW_PASSWORD, false).await.status, StatusCode::OK);
    }

    // ---- security activity --------------------------------------------------------------------------

    async fn the_activity_page_shows_the_accounts_own_logins_and_failures_only(db) {
        let server = TestServer::start_with(&db, ManualClock::new(T0), &["--trusted-proxies", "127.0.0.1"]).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let html = page(&mut ada, "/settings/activity").await;
        assert!(html.contains("Account created"), "{html}");
        assert!(!html.contains("Login failed"));

        let mut laptop = server.browser();
        let res = log_in_with(&mut laptop, "ada@example.com", PASSWORD, &[("user-agent", FIREFOX), ("x-forwarded-for", "203.0.113.7")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let html = page(&mut ada, "/settings/activity").await;
        for text in ["Logged in", "Firefox on Windows", "203.0.113.7", "End this session"] {
            assert!(html.contains(text), "the activity page lacks {text:?}");
        }
        assert!(!html.contains("Login failed"));

        let mut stranger = server.browser();
        let res = log_in_with(&mut stranger, "ada@example.com", WRONG, &[("user-agent", FIREFOX), ("x-forwarded-for", "198.51.100.9")]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
        let html = page(&mut ada, "/settings/activity").await;
        assert!(html.contains("Login failed") && html.contains("198.51.100.9"), "{html}");

        // Another account sees none of it, and Ada none of Bob's.
        let mut bob = server.browser();
        let form = [("name", "Bob"), ("email", "bob@example.com"), ("password", PASSWORD), ("repeat_password", PASSWORD)];
        let res = bob.call_with("signup", &form, &[("sec-fetch-site", "same-origin"), ("x-forwarded-for", "192.0.2.55")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let bobs = page(&mut bob, "/settings/activity").await;
        assert!(bobs.contains("Account created") && bobs.contains("192.0.2.55"), "Bob's own row: {bobs}");
        for text in ["Login failed", "203.0.113.7", "198.51.100.9", "Firefox", "ada@example.com"] {
            assert!(!bobs.contains(text), "Bob's activity shows Ada's {text:?}");
        }
        for query in ["?show=all", "?show=failed", "?show=logins", "?page=2"] {
            let bobs = page(&mut bob, &format!("/settings/activity{query}")).await;
            assert!(!bobs.contains("198.51.100.9") && !bobs.contains("203.0.113.7"), "{query}");
        }
        let csv = activity_csv(&mut bob, "?show=all").await;
        assert!(csv.iter().all(|r| !r[3].contains("203.0.113.7") && !r[3].contains("198.51.100.9")), "{csv:?}");
        assert!(!page(&mut ada, "/settings/activity").await.contains("192.0.2.55"), "Ada's activity shows Bob's sign-up");
        assert_active(&mut laptop, "the laptop").await;
    }

    async fn the_activity_csv_has_every_row_and_neutralises_formulas(db) {
        let server = TestServer::start(&db).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut evil = server.browser();
        let res = log_in_with(&mut evil, "ada@example.com", PASSWORD, &[("user-agent", EVIL_UA)]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let res = log_in_with(&mut server.browser(), "ada@example.com", WRONG, &[("user-agent", EVIL_UA)]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        let mut app = server.app();
        assert_eq!(app.log_in("ada@example.com", PASSWORD, "=HYPERLINK(\"x\")").await.status, StatusCode::OK);

        let rows = activity_csv(&mut ada, "").await;
        let words = whats(&rows);
        for word in ["Account created", "Logged in", "Login failed"] {
            assert!(words.contains(&word), "the CSV lacks {word:?}: {rows:?}");
        }
        let iso = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap();
        for row in &rows {
            assert!(iso.is_match(&row[0]), "When is ISO 8601 UTC: {row:?}");
            assert_eq!(row[0], T0_ISO, "the clock did not move: {row:?}");
            // No cell would be read as a formula, whatever a user agent or device name said.
            for cell in row {
                assert!(!cell.starts_with(|c: char| ['=', '+', '-', '@', '\t', '\r'].contains(&c)), "a formula cell: {cell:?} in {row:?}");
            }
            // The agent itself, where it shows at all (the Device column names the device in
            // words), only ever behind the quote that neutralises it.
            for cell in row.iter().filter(|c| c.contains("cmd|")) {
                assert!(cell.starts_with('\''), "{cell:?}");
            }
        }
        assert!(rows.iter().any(|r| r[3] == "127.0.0.1"), "the IP address column: {rows:?}");
        // The same with the page's filter: the failed attempts only.
        let failed = activity_csv(&mut ada, "?show=failed").await;
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|r| r[1].starts_with("Login failed") || r[1] == "Password check failed"), "{failed:?}");
        assert_eq!(activity_csv(&mut ada, "?show=all").await, rows, "show=all is the default");
    }

    async fn every_action_leaves_its_row_in_the_activity_log(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &["--idle-timeout-minutes", "30"]).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut b = logged_in(&server, "ada@example.com", PASSWORD).await;
        assert_eq!(b.call("logout", &[]).await.status, StatusCode::OK);
        let mut c = logged_in(&server, "ada@example.com", PASSWORD).await;
        let c_id = c.session_id().await;
        assert_eq!(ada.call("end_session", &[("id", c_id.as_str())]).await.status, StatusCode::OK);
        assert_eq!(server.browser().log_in("ada@example.com", WRONG, false).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(ada.call("reset_auto_login", &[("password", WRONG)]).await.status, StatusCode::BAD_REQUEST);
        assert_eq!(ada.call("reset_auto_login", &[("password", PASSWORD)]).await.status, StatusCode::OK);
        let form = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        assert_eq!(ada.call("change_password", &form).await.status, StatusCode::OK);
        let _d = logged_in(&server, "ada@example.com", NEW_PASSWORD).await;
        assert_eq!(ada.call("end_other_sessions", &[]).await.status, StatusCode::OK);
        // A session that runs out is recorded when it is next seen.
        let mut e = logged_in(&server, "ada@example.com", NEW_PASSWORD).await;
        clock.advance_ms(20 * MINUTE);
        assert_eq!(ada.get("/").await.status, StatusCode::OK);
        clock.advance_ms(11 * MINUTE);
        assert_ended(&mut e, "expired", "the idle browser").await;
        server.state.ctx.auth.purge().await.expect("purge");
        let _f = logged_in(&server, "ada@example.com", NEW_PASSWORD).await;
        // Read before terminate-all, which ends this browser too.
        let rows = activity_csv(&mut ada, "?show=all").await;
        assert_eq!(ada.call("terminate_all", &[]).await.status, StatusCode::OK);
        let mut again = logged_in(&server, "ada@example.com", NEW_PASSWORD).await;
        let after = activity_csv(&mut again, "?show=all").await;

        let words = whats(&rows);
        for word in ["Account created", "Logged in", "Logged out", "Login failed", "Password check failed", "Auto-login reset",
                     "Password changed", "Other sessions ended", "Session expired"] {
            assert!(words.contains(&word), "no {word:?} row: {words:?}");
        }
        assert!(words.iter().any(|w| w.starts_with("Session ended")), "no \"Session ended\" row: {words:?}");
        assert!(whats(&after).contains(&"All sessions terminated"), "{after:?}");
        // Newest first.
        let whens: Vec<&str> = after.iter().map(|r| r[0].as_str()).collect();
        assert!(whens.windows(2).all(|w| w[0] >= w[1]), "{whens:?}");
        assert_eq!(after.last().unwrap()[0], T0_ISO);
        let password = activity_csv(&mut again, "?show=password").await;
        let allowed = ["Password changed", "Password check failed", "Auto-login reset", "Account secured"];
        assert!(password.iter().all(|r| allowed.contains(&r[1].as_str())), "{password:?}");
        for word in ["Password changed", "Auto-login reset", "Password check failed"] {
            assert!(whats(&password).contains(&word), "show=password lacks {word:?}");
        }
    }

    async fn the_activity_log_is_paged_by_fifty_and_the_csv_has_all_of_it(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &[]).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut laptop = server.browser();
        for _ in 0..30 {
            clock.advance_ms(SECOND);
            assert_eq!(laptop.log_in("ada@example.com", PASSWORD, false).await.status, StatusCode::OK);
            clock.advance_ms(SECOND);
            assert_eq!(laptop.call("logout", &[]).await.status, StatusCode::OK);
        }
        let rows = activity_csv(&mut ada, "?show=all").await;
        assert!(rows.len() > 60, "every retained event, not one page: {}", rows.len());
        assert_eq!(whats(&rows).iter().filter(|w| **w == "Logged out").count(), 30);
        let whens: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert!(whens.windows(2).all(|w| w[0] >= w[1]), "newest first: {whens:?}");
        assert_eq!(rows[0][1], "Logged out", "the newest event");

        // GUESS: the paging links are `<a href="…page=N…">Older</a>` / `…>Newer</a>`.
        let first = page(&mut ada, "/settings/activity").await;
        assert!(first.contains(">Older<") && first.contains("page=2"), "page 1 links to page 2");
        let second = page(&mut ada, "/settings/activity?page=2").await;
        assert!(second.contains(">Newer<"), "page 2 links back");
        assert!(second.contains("Account created"), "the oldest event is on page 2");
        assert!(!first.contains("Account created"), "and not on page 1");
    }

    // ---- recently ended ----------------------------------------------------------------------------

    async fn recently_ended_sessions_say_how_they_ended_and_stay_in_their_account(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &[]).await;
        let mut ada = server.sign_up("Ada", "ada@example.com").await;
        let mut b = logged_in(&server, "ada@example.com", PASSWORD).await;
        let mut d = logged_in(&server, "ada@example.com", PASSWORD).await;
        let (b_id, d_id) = (b.session_id().await, d.session_id().await);
        let mut bob = server.sign_up("Bob", "bob@example.com").await;
        assert_eq!(session_list(&mut bob).await["ended"], json!([]));
        assert!(page(&mut bob, "/settings/sessions").await.contains("No sessions ended in the last 30 days."));
        let mut bobs_laptop = logged_in(&server, "bob@example.com", PASSWORD).await;
        let bobs_laptop_id = bobs_laptop.session_id().await;

        clock.advance_ms(5 * MINUTE);
        assert_eq!(b.call("logout", &[]).await.status, StatusCode::OK);
        assert_eq!(bobs_laptop.call("logout", &[]).await.status, StatusCode::OK);
        clock.advance_ms(MINUTE);
        assert_eq!(ada.call("end_session", &[("id", d_id.as_str())]).await.status, StatusCode::OK);

        let list = session_list(&mut ada).await;
        assert!(!list["sessions"].as_array().unwrap().iter().any(|s| s["id"] == b_id.as_str()), "not active any more");
        let logged_out = ended_entry(&list, &b_id);
        assert_eq!(
            keys(logged_out),
            ["device", "ended_at", "ended_by_device", "id", "ip", "kind", "location", "reason", "user_agent"]
        );
        assert_eq!(logged_out["reason"], "logged_out");
        assert_eq!(logged_out["ended_at"], T0 + 5 * MINUTE);
        assert_eq!(logged_out["device"], "Chrome on Linux");
        assert_eq!(logged_out["user_agent"], CHROME);
        assert_eq!(logged_out["ip"], "127.0.0.1");
        assert_eq!(logged_out["kind"], "browser");
        let ended_here = ended_entry(&list, &d_id);
        assert_eq!(ended_here["reason"], "ended_by_user");
        assert_eq!(ended_here["ended_by_device"], "Chrome on Linux");
        assert_eq!(ended_here["ended_at"], T0 + 6 * MINUTE);
        assert_eq!(list["ended"][0]["id"], d_id.as_str(), "newest first");
        assert!(!ended_ids(&list).contains(&bobs_laptop_id), "Bob's ended session is not Ada's");
        for secret in [b.cookie.clone(), d.cookie.clone(), ada.cookie.clone()].into_iter().flatten() {
            assert!(!list.to_string().contains(&secret), "a token leaked");
        }

        let bobs = session_list(&mut bob).await;
        assert_eq!(ended_ids(&bobs), vec![bobs_laptop_id.clone()]);
        assert_eq!(ended_entry(&bobs, &bobs_laptop_id)["reason"], "logged_out");

        let html = page(&mut ada, "/settings/sessions").await;
        for text in ["Recently ended", "Device", "IP address", "Ended", "How", "Logged out", "Ended from Chrome on Linux"] {
            assert!(html.contains(text), "Manage Sessions lacks {text:?}");
        }
        assert!(!page(&mut bob, "/settings/sessions").await.contains("Ended from"), "Bob's page shows Ada's ending");
        assert_ended(&mut d, "ended_by_user", "the ended browser").await;
    }
}
