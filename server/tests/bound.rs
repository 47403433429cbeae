//! Device-bound sessions (DBSC) over the real router on both databases, as Chromium speaks it:
//! the offer on a login over HTTPS, registration, the short cookie that pages, the poll and the
//! list need, refresh with a challenge, a thief's refused proof in the security log, the end of a
//! session telling the browser to stop, the cross-site check, and 503 when the database is gone.

mod common;

use app::ssr::ManualClock;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const SESSION: &str = "__Host-postern_session";
const BOUND: &str = "__Host-postern_bound";

/// A browser with DBSC: its cookies by name, and its key.
struct Chromium {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
    key: DbscKey,
}

impl Chromium {
    fn new(server: &TestServer) -> Self {
        Chromium { base: server.base.clone(), http: server.raw().clone(), cookies: Vec::new(), key: DbscKey::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn drop_cookie(&mut self, name: &str) {
        self.cookies.retain(|(n, _)| n != name);
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = req.header("cookie", self.cookie_header()).header("sec-fetch-site", "same-origin");
        let answer = Answer::read(req.send().await.expect("request")).await;
        for set in answer.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.drop_cookie(name);
            if !value.is_empty() && !set.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
        answer
    }

    async fn post(&mut self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.http.post(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn call(&mut self, name: &str, form: &[(&str, &str)]) -> Answer {
        let req = self.http.post(format!("{}/api/fn/{name}", self.base)).form(form);
        self.send(req).await
    }

    /// Signs up; returns the challenge of the registration offer.
    async fn sign_up(&mut self, email: &str) -> Option<String> {
        let form = [("name", "Ada"), ("email", email), ("password", PASSWORD), ("repeat_password", PASSWORD)];
        let answer = self.call("signup", &form).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let offer = answer.header("secure-session-registration")?.to_string();
        assert!(offer.starts_with("(ES256);path=\"/dbsc/register\";challenge=\""), "{offer}");
        Some(offer.split("challenge=\"").nth(1)?.trim_end_matches('"').to_string())
    }

    async fn register(&mut self, challenge: &str) -> Answer {
        let proof = self.key.registration(challenge);
        self.post("/dbsc/register", &[("secure-session-response", &proof)]).await
    }

    /// A refresh as Chromium does it: ask, get a challenge, sign it.
    async fn refresh(&mut self, session_id: &str, key: &DbscKey) -> Answer {
        let ask = self.post("/dbsc/refresh", &[("sec-secure-session-id", session_id)]).await;
        if ask.status != StatusCode::FORBIDDEN {
            return ask;
        }
        let challenge = ask.header("secure-session-challenge").expect("a challenge").to_string();
        assert!(challenge.ends_with(&format!(";id=\"{session_id}\"")), "{challenge}");
        let challenge = challenge.split('"').nth(1).unwrap().to_string();
        let proof = key.refresh(&challenge);
        self.post("/dbsc/refresh", &[("sec-secure-session-id", session_id), ("secure-session-response", &proof)]).await
    }

    async fn status(&mut self) -> Value {
        self.get("/api/session/status").await.json()
    }
}

async fn https_server(db: &TestDb) -> TestServer {
    TestServer::start_with(
        db,
        ManualClock::new(T0),
        &["--public-url", "https://localhost", "--bound-cookie-secs", "60"],
    )
    .await
}

backend_tests! {
    async fn a_login_over_https_registers_and_then_needs_its_short_cookie_everywhere(db) {
        let server = https_server(&db).await;
        let mut chromium = Chromium::new(&server);
        let challenge = chromium.sign_up("ada@example.com").await.expect("an offer over https");
        let registered = chromium.register(&challenge).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        assert_eq!(registered.header("cache-control"), Some("no-store"));
        let instructions = registered.json();
        let session_id = instructions["session_identifier"].as_str().unwrap().to_string();
        assert_eq!(instructions["refresh_url"], "/dbsc/refresh");
        assert_eq!(instructions["scope"]["origin"], "https://localhost");
        assert_eq!(instructions["scope"]["include_site"], false);
        assert_eq!(instructions["credentials"][0]["name"], BOUND);
        let attributes = instructions["credentials"][0]["attributes"].as_str().unwrap();
        assert_eq!(attributes, "Path=/; HttpOnly; SameSite=Lax; Secure");
        let set = registered.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(BOUND)).unwrap();
        assert!(set.contains(attributes) && set.ends_with("Max-Age=60"), "{set}");

        // With both cookies: logged in, and the list says "Device-bound"; the API says bound.
        let page = chromium.get("/settings/sessions").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.contains("Device-bound"));
        assert_eq!(chromium.status().await["state"], "active");
        let list = chromium.call("sessions", &[]).await.json();
        assert_eq!(list["sessions"][0]["bound"], true);

        // The session cookie alone (a copy): not logged in, for pages and the poll alike.
        let bound = chromium.cookie(BOUND).unwrap().to_string();
        chromium.drop_cookie(BOUND);
        let page = chromium.get("/settings/sessions").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/login"));
        assert_eq!(chromium.status().await["state"], "none");
        // Nor is its token a bearer token.
        let token = chromium.cookie(SESSION).unwrap().to_string();
        let me = server.app_with(&token).me().await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED);

        // The short cookie runs out with its lifetime: then only a refresh brings it back.
        chromium.cookies.push((BOUND.into(), bound));
        server.clock.advance_ms(60_000);
        assert_eq!(chromium.status().await["state"], "none");
        let device_key = std::mem::take(&mut chromium.key);
        let refreshed = chromium.refresh(&session_id, &device_key).await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
        assert_eq!(chromium.status().await["state"], "active");

        // Registration happens once per session.
        let again = chromium.register("any").await;
        assert_eq!(again.status, StatusCode::FORBIDDEN);
    }

    async fn a_thiefs_refresh_is_refused_and_logged_and_an_ended_session_is_told_to_stop(db) {
        let server = https_server(&db).await;
        let mut owner = Chromium::new(&server);
        let challenge = owner.sign_up("ada@example.com").await.unwrap();
        let session_id = owner.register(&challenge).await.json()["session_identifier"].as_str().unwrap().to_string();

        // The thief has both cookies but not the key.
        let mut thief = Chromium::new(&server);
        thief.cookies = owner.cookies.clone();
        server.clock.advance_ms(60_000);
        let thief_key = DbscKey::new();
        let refused = thief.refresh(&session_id, &thief_key).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.header("secure-session-challenge").is_none(), "no second try for a wrong key");
        assert_eq!(thief.status().await["state"], "none");

        // The owner's device refreshes and sees the failed check in the activity log.
        let owner_key = std::mem::take(&mut owner.key);
        assert_eq!(owner.refresh(&session_id, &owner_key).await.status, StatusCode::OK);
        let activity = owner.get("/settings/activity").await;
        assert!(activity.text.contains("Device check failed"), "in the security log");

        // Ended from another device: the next refresh answers "continue": false.
        let mut other = Chromium::new(&server);
        let login = other.call("login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        let ended = other.call("end_session", &[("id", &session_id)]).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
        let end = owner.refresh(&session_id, &owner_key).await;
        assert_eq!(end.status, StatusCode::OK);
        assert_eq!(end.json(), serde_json::json!({ "session_identifier": session_id, "continue": false }));
        assert_eq!(owner.status().await, serde_json::json!({ "state": "ended", "reason": "ended_by_user" }));
    }

    async fn the_endpoints_refuse_other_sites_and_malformed_requests_and_plain_http_offers_nothing(db) {
        let server = https_server(&db).await;
        let mut chromium = Chromium::new(&server);
        let challenge = chromium.sign_up("ada@example.com").await.unwrap();
        let proof = chromium.key.registration(&challenge);
        let cross = server
            .raw()
            .post(server.url("/dbsc/register"))
            .header("sec-fetch-site", "cross-site")
            .header("secure-session-response", proof)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        assert_eq!(chromium.post("/dbsc/register", &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(chromium.post("/dbsc/register", &[("secure-session-response", "nonsense")]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(chromium.post("/dbsc/refresh", &[]).await.status, StatusCode::FORBIDDEN);
        // A refresh for a session that is not bound (or never existed): stop.
        let unknown = chromium.post("/dbsc/refresh", &[("sec-secure-session-id", "AAAAAAAAAAAAAAAAAAAAAA")]).await;
        assert_eq!(unknown.json()["continue"], false);
        // The challenge was not used by the refused attempts: it still registers.
        assert_eq!(chromium.register(&challenge).await.status, StatusCode::OK);

        // Plain http: no offer, and sessions work as before.
        let plain = TestServer::start(&db).await;
        let mut browser = plain.browser();
        let answer = browser.sign_up("Bob", "bob@example.com", PASSWORD).await;
        assert!(answer.header("secure-session-registration").is_none());
        assert_eq!(browser.get("/settings/sessions").await.status, StatusCode::OK);
    }

    async fn a_refresh_that_cannot_reach_the_database_answers_503_and_logs_nobody_out(db) {
        let server = https_server(&db).await;
        let mut chromium = Chromium::new(&server);
        let challenge = chromium.sign_up("ada@example.com").await.unwrap();
        let session_id = chromium.register(&challenge).await.json()["session_identifier"].as_str().unwrap().to_string();
        server.state.ctx.auth.store.close().await;
        let down = chromium.post("/dbsc/refresh", &[("sec-secure-session-id", &session_id)]).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{}", down.text);
        assert!(chromium.cookie(BOUND).is_some(), "the cookie is kept");
    }
}
