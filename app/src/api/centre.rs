//! Server functions of the security centre: activity, messages, "This wasn't me", "End all
//! other sessions", login notifications. Each acts on the caller's own account only.

use crate::model::{ActivityPage, AppError, Inbox, MessageView, SecurityOverview, SessionId};
use leptos::prelude::*;

/// A page of the caller's activity log; `show` is the filter's word, `page` counts from 1.
#[server(prefix = "/api/fn", endpoint = "activity")]
pub async fn activity(show: Option<String>, page: Option<u32>) -> Result<ActivityPage, AppError> {
    use crate::model::ActivityFilter;
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        let filter = ActivityFilter::parse(show.as_deref().unwrap_or(""));
        ctx.auth.activity(&current_session()?, filter, page.unwrap_or(1)).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "security_overview")]
pub async fn read_security_overview() -> Result<SecurityOverview, AppError> {
    use crate::ssr::request::*;
    respond(async move { app_context()?.auth.security_overview(&current_session()?).await }).await
}

#[server(prefix = "/api/fn", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let ctx = app_context()?;
        ctx.auth.end_other_sessions(&current_session()?, &client_info()).await?;
        after_plain_form(super::SESSIONS_PATH);
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "messages")]
pub async fn list_messages() -> Result<Inbox, AppError> {
    use crate::ssr::request::*;
    respond(async move { app_context()?.auth.inbox(&current_session()?).await }).await
}

#[server(prefix = "/api/fn", endpoint = "message")]
pub async fn message(id: i64) -> Result<MessageView, AppError> {
    use crate::ssr::request::*;
    respond(async move { app_context()?.auth.message(&current_session()?, id).await }).await
}

/// "Yes, it was me": marks the message read, and back to it.
#[server(prefix = "/api/fn", endpoint = "mark_message_read")]
pub async fn mark_message_read(id: i64) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        app_context()?.auth.mark_message_read(&current_session()?, id).await?;
        leptos_axum::redirect(&format!("/inbox/{id}"));
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "delete_message")]
pub async fn delete_message(id: i64) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        app_context()?.auth.delete_message(&current_session()?, id).await?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

/// "This wasn't me": on to the page that secures the account against the login reported.
#[server(prefix = "/api/fn", endpoint = "report_not_me")]
pub async fn report_not_me(id: i64) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move {
        let session = app_context()?.auth.report_not_me(&current_session()?, id).await?;
        leptos_axum::redirect(&format!("/account/secure?session={session}"));
        Ok(())
    })
    .await
}

/// The login a "Secure your account" page is about (device, address, when).
#[server(prefix = "/api/fn", endpoint = "reported_session")]
pub async fn reported_session(session: SessionId) -> Result<crate::model::SessionView, AppError> {
    use crate::ssr::request::*;
    respond(async move { app_context()?.auth.reported_session(&current_session()?, &session).await }).await
}

/// "Secure my account". Then on to Manage Sessions, which says what was done.
#[server(prefix = "/api/fn", endpoint = "secure_account")]
pub async fn secure_account(
    session: SessionId,
    current_password: String,
    new_password: String,
    repeat_new_password: String,
) -> Result<(), AppError> {
    use crate::ssr::request::*;
    use crate::ssr::service::SecureAccount;
    respond(async move {
        let ctx = app_context()?;
        let current = current_session()?;
        let ask = SecureAccount {
            reported: &session,
            current_password: &current_password,
            new_password: &new_password,
            repeat: &repeat_new_password,
        };
        let token = ctx.auth.secure_account(&current, &client_info(), &ask).await?;
        // No longer remembered: a cookie that dies with the browser.
        set_cookie_header(&ctx.cookie.set(&token, None));
        leptos_axum::redirect(SECURED_PATH);
        Ok(())
    })
    .await
}

/// Whether this session has just secured the account (Manage Sessions then says so).
#[server(prefix = "/api/fn", endpoint = "recently_secured")]
pub async fn recently_secured() -> Result<bool, AppError> {
    use crate::ssr::request::*;
    respond(async move { app_context()?.auth.recently_secured(&current_session()?).await }).await
}

/// Where "Secure my account" leads: Manage Sessions, saying what was done.
pub const SECURED_PATH: &str = "/settings/sessions?secured=1";

/// "Tell me about logins from new devices": `notify` is the checkbox ("on" when ticked).
#[server(prefix = "/api/fn", endpoint = "save_login_notifications")]
pub async fn save_login_notifications(notify: Option<String>) -> Result<(), AppError> {
    use crate::ssr::request::*;
    respond(async move { app_context()?.auth.set_login_notifications(&current_session()?, notify.is_some()).await })
        .await
}
