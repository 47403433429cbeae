//! Helpers of the store tests. Test databases and `backend_tests!` are shared with the HTTP
//! tests: see `app::ssr::testing`.

#![allow(dead_code)]

pub use app::backend_tests;
use app::model::SessionKind;
use app::ssr::service::{LoginRequest, NewLogin};
pub use app::ssr::testing::*;
use app::ssr::{AuthService, ClientInfo, CurrentSession, Resolved};

// ---- small helpers shared by the tests --------------------------------------------------------

pub fn client(ip: &str) -> ClientInfo {
    ClientInfo {
        ip: ip.to_string(),
        user_agent:
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
                .to_string(),
        device_id: None,
    }
}

/// A client at `ip` that sends the device id an earlier login gave it.
pub fn on_device(ip: &str, device_id: &str) -> ClientInfo {
    ClientInfo { device_id: Some(device_id.to_string()), ..client(ip) }
}

pub fn browser_login<'a>(email: &'a str, password: &'a str, remember: bool) -> LoginRequest<'a> {
    LoginRequest { email, password, remember, kind: SessionKind::Browser, device_name: None }
}

pub fn app_login<'a>(email: &'a str, password: &'a str, device: &'a str) -> LoginRequest<'a> {
    LoginRequest { email, password, remember: false, kind: SessionKind::App, device_name: Some(device) }
}

/// Signs up `email` with [`PASSWORD`]; returns the first session's login.
pub async fn sign_up(svc: &AuthService, name: &str, email: &str) -> NewLogin {
    svc.sign_up(name, email, PASSWORD, PASSWORD, &client("203.0.113.1")).await.expect("sign up")
}

pub async fn log_in(svc: &AuthService, email: &str, remember: bool) -> NewLogin {
    svc.log_in(&browser_login(email, PASSWORD, remember), &client("203.0.113.2")).await.expect("log in")
}

pub async fn log_in_app(svc: &AuthService, email: &str, device: &str) -> NewLogin {
    svc.log_in(&app_login(email, PASSWORD, device), &client("198.51.100.7")).await.expect("app log in")
}

/// What `token` stands for, without counting as activity.
pub async fn peek(svc: &AuthService, token: &str) -> Resolved {
    svc.authenticate(token, false).await.expect("authenticate")
}

/// The active session of `token`; panics otherwise.
pub async fn current(svc: &AuthService, token: &str) -> CurrentSession {
    match peek(svc, token).await {
        Resolved::Active(s) => s,
        other => panic!("expected an active session, got {other:?}"),
    }
}
