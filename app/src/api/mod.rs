//! Server functions: public HTTP endpoints under `/api/fn/`. Each one authenticates and touches
//! only the caller's own data; every mutation is a POST (the default encoding).

use crate::model::{AccountView, AppError, SessionId, SessionList};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod centre;
pub use centre::*;

/// What the shell needs to know about the signed-in person.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Me {
    pub account: AccountView,
    pub unread_messages: i64,
    pub auto_login: bool,
    pub poll_interval_ms: u64,
    pub stream_poll_interval_ms: u64,
}

#[server(prefix = "/api/fn", endpoint = "signup")]
pub async fn sign_up(name: String, email: String, password: String, repeat_password: String) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        let client = client_info();
        let login = ctx.auth.sign_up(&name, &email, &password, &repeat_password, &client).await?;
        set_cookie_header(&ctx.cookie.set(&login.token, None));
        keep_device(&ctx, client.device_id.as_deref(), &login.device_id);
        offer_device_binding(&ctx, &login.session_id).await;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "login")]
pub async fn log_in(email: String, password: String, remember: Option<String>) -> Result<(), AppError> {
    use crate::model::SessionKind;
    use crate::ssr::request::*;
    use crate::ssr::service::LoginRequest;
    respond(async move {
        let ctx = app_context()?;
        let request = LoginRequest {
            email: &email,
            password: &password,
            remember: remember.is_some(),
            kind: SessionKind::Browser,
            device_name: None,
        };
        let client = client_info();
        let login = ctx.auth.log_in(&request, &client).await?;
        let max_age = login.auto_login.then_some(login.max_age_secs);
        set_cookie_header(&ctx.cookie.set(&login.token, max_age));
        keep_device(&ctx, client.device_id.as_deref(), &login.device_id);
        offer_device_binding(&ctx, &login.session_id).await;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "logout")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        if let Ok(current) = current_session() {
            ctx.auth.log_out(&current, &client_info()).await?;
        }
        set_cookie_header(&ctx.cookie.clear());
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// The signed-in person of the request being served. Synchronous: the session middleware has
/// already read the session, so pages rendered on the server need no resource for it.
#[cfg(feature = "ssr")]
pub fn me_now() -> Result<Me, AppError> {
    use crate::ssr::request::*;
    let ctx = app_context()?;
    let current = current_session()?;
    Ok(Me {
        account: crate::ssr::AuthService::account_view(&current),
        auto_login: current.auto_login,
        unread_messages: current.unread_messages,
        poll_interval_ms: ctx.poll_interval_ms,
        stream_poll_interval_ms: ctx.stream_poll_interval_ms,
    })
}

#[server(prefix = "/api/fn", endpoint = "sessions")]
pub async fn list_sessions() -> Result<SessionList, AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        let current = current_session()?;
        // Read before the list: if the set changes in between, the page merely reloads once more.
        let sessions_version = current.sessions_version;
        let sessions = ctx.auth.list_sessions(&current).await?;
        let ended = ctx.auth.ended_sessions(&current).await?;
        Ok(SessionList { sessions_version, sessions, ended })
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "end_session")]
pub async fn end_session(id: SessionId) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        ctx.auth.end_session(&current_session()?, &client_info(), &id).await?;
        // From the confirmation page (no JavaScript): back to the list.
        after_plain_form(SESSIONS_PATH);
        Ok(())
    })
    .await
}

/// "Rename": `device_name` empty gives the session back its parsed device.
#[server(prefix = "/api/fn", endpoint = "rename_session")]
pub async fn rename_session(id: SessionId, device_name: String) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        ctx.auth.rename_session(&current_session()?, &client_info(), &id, &device_name).await?;
        after_plain_form(SESSIONS_PATH);
        Ok(())
    })
    .await
}

/// Manage Sessions.
pub const SESSIONS_PATH: &str = "/settings/sessions";

#[server(prefix = "/api/fn", endpoint = "terminate_all")]
pub async fn terminate_all() -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        ctx.auth.terminate_all(&current_session()?, &client_info()).await?;
        set_cookie_header(&ctx.cookie.clear());
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    repeat_new_password: String,
) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        let current = current_session()?;
        let token = ctx
            .auth
            .change_password(&current, &client_info(), &current_password, &new_password, &repeat_new_password)
            .await?;
        let max_age = current.auto_login.then(|| (current.expires_at - ctx.auth.now()).max(0) / 1000);
        set_cookie_header(&ctx.cookie.set(&token, max_age));
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "reset_auto_login")]
pub async fn reset_auto_login(password: String) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        let current = current_session()?;
        let token = ctx.auth.reset_auto_login(&current, &client_info(), &password).await?;
        // The current login is kept but no longer remembered: a cookie that dies with the browser.
        set_cookie_header(&ctx.cookie.set(&token, None));
        Ok(())
    })
    .await
}
