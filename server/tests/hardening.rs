//! Security hardening over real HTTP, on SQLite and on PostgreSQL: login throttling through the
//! browser's server function and the mail-app API, the per-response Content-Security-Policy
//! nonce of HTML pages, and form errors in URLs that only the server can vouch for.

#[macro_use]
mod common;

use app::ssr::ManualClock;
use base64::Engine;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

const WRONG: &str = "Not-The-Password-99";

/// `POST /api/v1/login` as the mail app sends it, from the address a trusted proxy forwards.
async fn api_login(server: &TestServer, email: &str, password: &str, forwarded_for: &str) -> Answer {
    let body = json!({ "email": email, "password": password, "device_name": "Pixel 8" });
    let req = server.raw().post(server.url("/api/v1/login")).header("x-forwarded-for", forwarded_for).json(&body);
    Answer::read(req.send().await.expect("login")).await
}

/// A browser login through the server function, from a forwarded address.
async fn browser_login_from(browser: &mut Browser, email: &str, password: &str, forwarded_for: &str) -> Answer {
    let form = [("email", email), ("password", password)];
    browser.call_with("login", &form, &[("sec-fetch-site", "same-origin"), ("x-forwarded-for", forwarded_for)]).await
}

/// The nonce in a Content-Security-Policy's `script-src`.
fn csp_nonce(csp: &str) -> Option<String> {
    let start = csp.find("'nonce-")? + "'nonce-".len();
    let len = csp[start..].find('\'')?;
    Some(csp[start..start + len].to_string())
}

/// The `nonce` attribute of every `<script` tag in the page (`None` for a tag without one).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.match_indices("<script")
        .map(|(i, _)| {
            let tag = &html[i..i + html[i..].find('>').expect("a closed tag")];
            let start = tag.find(" nonce=\"")? + " nonce=\"".len();
            Some(tag[start..start + tag[start..].find('"')?].to_string())
        })
        .collect()
}

fn expected_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )
}

/// A page's policy carries a nonce, and every script on the page carries that nonce.
fn assert_page_policy(page: &Answer, what: &str) -> String {
    assert!(page.header("content-type").is_some_and(|v| v.starts_with("text/html")), "{what}");
    let csp = page.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
    let nonce = csp_nonce(csp).unwrap_or_else(|| panic!("{what}: no nonce in {csp}"));
    assert!(nonce.len() >= 22, "{what}: at least 128 bits: {nonce}");
    assert_eq!(csp, expected_policy(&nonce), "{what}");
    let scripts = script_nonces(&page.text);
    assert!(!scripts.is_empty(), "{what}: the hydration script is on the page");
    for found in &scripts {
        assert_eq!(found.as_deref(), Some(nonce.as_str()), "{what}: every script carries the response's nonce");
    }
    nonce
}

backend_tests! {
    // ---- login throttling ------------------------------------------------------------------------

    async fn browser_logins_are_slowed_then_refused_with_429_and_the_owner_gets_in_after_the_wait(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &[]).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut answers = Vec::new();
        for email in ["ada@example.com", "nobody@example.com"] {
            let mut browser = server.browser();
            for i in 0..5 {
                let res = browser.log_in(email, WRONG, false).await;
                assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{email} failure {i}: {}", res.text);
            }
            let refused = browser.log_in(email, WRONG, false).await;
            assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{email}: {}", refused.text);
            assert_eq!(refused.json(), json!({ "error": "too_many_attempts", "message": "Too many attempts. Please try again later." }));
            assert_security_headers_are_there(&refused);
            // The right password is not even checked while the account waits.
            let right = browser.log_in(email, PASSWORD, false).await;
            assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "{email}");
            assert!(right.session_set_cookie().is_none() && browser.cookie.is_none());
            answers.push(right.text);
        }
        assert_eq!(answers[0], answers[1], "a known and an unknown e-mail are refused alike");

        clock.advance_ms(30 * SECOND);
        let mut owner = server.browser();
        let res = owner.log_in("ada@example.com", PASSWORD, false).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(owner.status().await["state"], "active");
    }

    async fn a_plain_form_login_while_throttled_goes_back_to_the_form_without_a_cookie(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut browser = server.browser();
        for _ in 0..5 {
            browser.log_in("ada@example.com", WRONG, false).await;
        }
        let login_page = server.url("/login");
        let html = [("sec-fetch-site", "same-origin"), ("accept", "text/html"), ("referer", login_page.as_str())];
        let res = browser.call_with("login", &[("email", "ada@example.com"), ("password", PASSWORD)], &html).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
        assert!(res.location().is_some_and(|l| l.contains("/login")), "{:?}", res.location());
        assert!(browser.cookie.is_none());
    }

    async fn api_guesses_from_many_addresses_are_throttled_per_account(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &["--trusted-proxies", "127.0.0.1"]).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut refusals = Vec::new();
        for email in ["ada@example.com", "nobody@example.com"] {
            for i in 0..5 {
                let res = api_login(&server, email, WRONG, &format!("198.51.100.{i}")).await;
                assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{email} {i}");
                assert_eq!(res.json()["error"], "invalid_credentials");
            }
            for i in 5..12 {
                let res = api_login(&server, email, WRONG, &format!("198.51.100.{i}")).await;
                assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{email} {i}: {}", res.text);
                assert_eq!(res.json(), json!({ "error": "too_many_attempts", "message": "Too many attempts. Please try again later." }));
                assert_eq!(res.header("cache-control"), Some("no-store"));
            }
            let res = api_login(&server, email, PASSWORD, "203.0.113.99").await;
            assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{email}: the right password waits too");
            refusals.push(res.text);
        }
        assert_eq!(refusals[0], refusals[1]);
        // No permanent lock-out: after the quiet window the owner's app logs in.
        clock.advance_ms(15 * MINUTE);
        let res = api_login(&server, "ada@example.com", PASSWORD, "203.0.113.99").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(server.app_with(res.json()["token"].as_str().unwrap()).me().await.status, StatusCode::OK);
    }

    async fn one_address_spraying_many_accounts_is_slowed_without_holding_back_others(db) {
        let clock = ManualClock::new(T0);
        let server = TestServer::start_with(&db, clock.clone(), &["--trusted-proxies", "127.0.0.1"]).await;
        server.sign_up("Ada", "ada@example.com").await;
        let mut attacker = server.browser();
        for i in 0..20 {
            let res = browser_login_from(&mut attacker, &format!("user{i}@example.com"), WRONG, "203.0.113.66").await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{i}");
        }
        let res = browser_login_from(&mut attacker, "ada@example.com", PASSWORD, "203.0.113.66").await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
        let res = api_login(&server, "ada@example.com", PASSWORD, "203.0.113.66").await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "the API shares the address's counter");
        let mut neighbour = server.browser();
        let res = browser_login_from(&mut neighbour, "ada@example.com", PASSWORD, "203.0.113.67").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        clock.advance_ms(30 * SECOND);
        let res = api_login(&server, "ada@example.com", PASSWORD, "203.0.113.66").await;
        assert_eq!(res.status, StatusCode::OK, "after the wait: {}", res.text);
    }

    async fn fifty_successful_logins_in_a_row_from_one_address_are_never_throttled(db) {
        let server = TestServer::start(&db).await;
        server.sign_up("Ada", "ada@example.com").await;
        for i in 0..25 {
            let mut browser = server.browser();
            let res = browser.log_in("ada@example.com", PASSWORD, i % 2 == 0).await;
            assert_eq!(res.status, StatusCode::OK, "browser login {i}: {}", res.text);
            let mut app = server.app();
            let res = app.log_in("ada@example.com", PASSWORD, "Pixel 8").await;
            assert_eq!(res.status, StatusCode::OK, "app login {i}: {}", res.text);
        }
    }

    async fn a_stolen_session_cannot_guess_the_password_at_full_speed(db) {
        let server = TestServer::start(&db).await;
        let mut thief = server.sign_up("Ada", "ada@example.com").await;
        for i in 0..5 {
            let form = [("current_password", WRONG), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
            let res = thief.call("change_password", &form).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{i}");
        }
        let form = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", NEW_PASSWORD)];
        let res = thief.call("change_password", &form).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text);
        let res = thief.call("reset_auto_login", &[("password", PASSWORD)]).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(thief.status().await["state"], "active", "the session itself is not ended");
    }

    // ---- Content-Security-Policy -------------------------------------------------------------------

    async fn every_page_gets_a_fresh_csp_nonce_that_its_scripts_carry(db) {
        let server = TestServer::start(&db).await;
        let mut anonymous = server.browser();
        let first = anonymous.get("/login").await;
        assert_eq!(first.status, StatusCode::OK);
        let n1 = assert_page_policy(&first, "login page");
        let n2 = assert_page_policy(&anonymous.get("/login").await, "login page again");
        assert_ne!(n1, n2, "a nonce is never reused");
        assert_page_policy(&anonymous.get("/signup").await, "sign-up page");
        // The favicon is a data: URL, which img-src allows.
        assert!(first.text.contains(r#"<link rel="icon" href="data:,""#), "{}", first.text);

        let mut web = server.sign_up("Ada", "ada@example.com").await;
        let mut nonces = std::collections::HashSet::from([n1, n2]);
        for path in ["/", "/settings", "/settings/sessions", "/settings/password", "/account/security", "/no-such-page"] {
            let page = web.get(path).await;
            assert!(page.status == StatusCode::OK || page.status == StatusCode::NOT_FOUND, "{path}: {:?}", page.status);
            assert!(nonces.insert(assert_page_policy(&page, path)), "{path}: a fresh nonce");
        }
    }

    async fn answers_that_are_not_pages_keep_the_strict_fallback_policy(db) {
        let server = TestServer::start(&db).await;
        let (mut web, app) = browser_and_app(&server, "ada@example.com").await;
        let fallback = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
        for (what, res) in [
            ("server function", web.call("sessions", &[]).await),
            ("status poll", web.get("/api/session/status").await),
            ("api", app.me().await),
            ("api 401", server.app().me().await),
            ("redirect", server.browser().get("/").await),
        ] {
            assert_eq!(res.header("content-security-policy"), Some(fallback), "{what}");
        }
    }


    // ---- form errors in the URL --------------------------------------------------------------------

    async fn a_forged_form_error_in_a_link_shows_nothing_on_any_form_page(db) {
        let server = TestServer::start(&db).await;
        let web = server.sign_up("Ada", "ada@example.com").await;
        let token = web.cookie.clone().unwrap();
        for (path, server_fn, session) in [
            ("/login", "login", None),
            ("/signup", "signup", None),
            ("/settings/password", "change_password", Some(token.as_str())),
            ("/account/security", "reset_auto_login", Some(token.as_str())),
        ] {
            let forged = page(&server, &format!("{path}?{}", forged_error_query(server_fn)), session, &[]).await;
            assert!(!forged.text.contains(PHISH) && !forged.text.contains("form-error"), "{path}: {}", forged.text);
        }
        // Nor does the flash cookie of a real failed post vouch for another error.
        let failed = plain_post(&server, None, "login", &[("email", "ada@example.com"), ("password", WRONG)], "/login").await;
        let cookie = flash_cookie(&failed).expect("a flash cookie");
        let forged = page(&server, &format!("/login?{}", forged_error_query("login")), None, &[&cookie]).await;
        assert!(!forged.text.contains(PHISH), "{}", forged.text);
        // A form opened from a forged link and then failing shows its own error, not the link's.
        let from = format!("/login?{}", forged_error_query("login"));
        let failed = plain_post(&server, None, "login", &[("email", "ada@example.com"), ("password", WRONG)], &from).await;
        let location = failed.location().expect("sent back").to_string();
        assert_eq!(location.matches("__err=").count(), 1, "{location}");
        let shown = page(&server, &location, None, &[&flash_cookie(&failed).unwrap()]).await;
        assert!(shown.text.contains("The e-mail address or password is incorrect.") && !shown.text.contains(PHISH), "{}", shown.text);
    }

    async fn a_failed_plain_form_post_shows_its_error_on_the_page_it_is_sent_back_to(db) {
        let server = TestServer::start(&db).await;
        let web = server.sign_up("Ada", "ada@example.com").await;
        let token = web.cookie.clone().unwrap();
        let mismatch = [("name", "Bob"), ("email", "bob@example.com"), ("password", PASSWORD), ("repeat_password", NEW_PASSWORD)];
        let change = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("repeat_new_password", PASSWORD)];
        let cases: [(&str, &str, Form, Option<&str>, &str); 4] = [
            ("/login", "login", &[("email", "ada@example.com"), ("password", WRONG)], None, "The e-mail address or password is incorrect."),
            ("/signup", "signup", &mismatch, None, "The two passwords do not match."),
            ("/settings/password", "change_password", &change, Some(&token), "The two new passwords do not match."),
            ("/account/security", "reset_auto_login", &[("password", WRONG)], Some(&token), "form-error"),
        ];
        for (path, server_fn, form, session, message) in cases {
            let failed = plain_post(&server, session, server_fn, form, path).await;
            assert_eq!(failed.status, StatusCode::FOUND, "{path}: {}", failed.text);
            let location = failed.location().expect("sent back").to_string();
            assert!(location.starts_with(&server.url(path)) && location.contains("__err="), "{location}");
            let set = failed.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(FLASH)).unwrap();
            assert!(set.ends_with("; Max-Age=60; Path=/; HttpOnly; SameSite=Strict"), "{set}");
            let cookie = flash_cookie(&failed).unwrap();

            let shown = page(&server, &location, session, &[&cookie]).await;
            assert!(shown.text.contains(message), "{path}: {}", shown.text);
            assert_eq!(flash_cookie(&shown).map(|c| c.ends_with('=')), Some(true), "{path}: the cookie is cleared once used");
            let without = page(&server, &location, session, &[]).await;
            assert!(!without.text.contains("form-error"), "{path}: the URL alone shows nothing");
        }
    }
}

fn assert_security_headers_are_there(answer: &Answer) {
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

// ---- form errors in the URL ---------------------------------------------------------------------

/// A form's fields.
type Form<'a> = &'a [(&'a str, &'a str)];

const PHISH: &str = "Your account has been suspended. Call +1 555 0100 now.";
const FLASH: &str = "postern_flash";

/// The `?__path=…&__err=…` a plain form post's error redirect carries, with any error text.
fn forged_error_query(server_fn: &str) -> String {
    let err = json!({ "error": "validation", "field": "email", "message": PHISH }).to_string();
    let err = base64::engine::general_purpose::URL_SAFE.encode(err);
    format!("__path=%2Fapi%2Ffn%2F{server_fn}&__err={err}")
}

/// `name=value` of the flash cookie a response sets, if any.
fn flash_cookie(answer: &Answer) -> Option<String> {
    let set =
        answer.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(FLASH))?;
    Some(set.split(';').next()?.to_string())
}

/// A form post as a browser without JavaScript makes it, from the page at `from`.
async fn plain_post(
    server: &TestServer,
    session: Option<&str>,
    name: &str,
    form: &[(&str, &str)],
    from: &str,
) -> Answer {
    let mut req = server
        .raw()
        .post(server.url(&format!("/api/fn/{name}")))
        .form(form)
        .header("accept", "text/html,application/xhtml+xml")
        .header("sec-fetch-site", "same-origin")
        .header("referer", server.url(from));
    if let Some(token) = session {
        req = req.header("cookie", format!("{COOKIE_NAME}={token}"));
    }
    Answer::read(req.send().await.expect("form post")).await
}

/// A page, with the session and other cookies as a browser would send them.
async fn page(server: &TestServer, url: &str, session: Option<&str>, cookies: &[&str]) -> Answer {
    let mut all: Vec<String> = session.map(|t| format!("{COOKIE_NAME}={t}")).into_iter().collect();
    all.extend(cookies.iter().map(|c| c.to_string()));
    let url = if url.starts_with("http") { url.to_string() } else { server.url(url) };
    let mut req = server.raw().get(url);
    if !all.is_empty() {
        req = req.header("cookie", all.join("; "));
    }
    let answer = Answer::read(req.send().await.expect("page")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer
}
