//! The pages Manage Sessions' row buttons lead to without JavaScript (the GOV.UK pattern): the
//! trash button's confirmation, in the dialog's words with "OK" and "Cancel"; and "Rename" with
//! its "Device name" field. With JavaScript the list asks in place instead, and these pages are
//! never reached. ("End all other sessions" and "Terminate all sessions" post directly then.)

use super::session_rows::DeviceNameField;
use super::sessions::Pending;
use crate::api::{list_sessions, EndSession, RenameSession, SESSIONS_PATH};
use crate::components::{posted_error, FormError, PostForm};
use crate::model::{AppError, SessionId, SessionView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The active session of the account that the page's `?id=` names.
fn named_session() -> Result<SessionView, AppError> {
    let id = use_query_map().with_untracked(|q| q.get("id")).unwrap_or_default();
    let list = super::load(list_sessions())?;
    list.sessions.into_iter().find(|s| s.id.as_str() == id).ok_or(AppError::NotFound)
}

/// "Cancel": back to the list, as a button (a form of its own) beside "OK".
#[component]
fn CancelButton() -> impl IntoView {
    view! {
        <form method="get" action=SESSIONS_PATH>
            <button type="submit" class="button secondary">"Cancel"</button>
        </form>
    }
}

#[component]
fn NoSuchSession(error: AppError) -> impl IntoView {
    let text = match error {
        AppError::NotFound => "This session has already ended, or is not one of yours.".to_string(),
        other => other.to_string(),
    };
    view! {
        <p class="form-error" role="alert">{text}</p>
        <p><a href=SESSIONS_PATH>"Back to Manage Sessions"</a></p>
    }
}

/// `/settings/sessions/end?id=`: "End this session?", "OK", "Cancel".
#[component]
pub fn ConfirmEndPage() -> impl IntoView {
    let body = named_session().and_then(|s| {
        if s.current {
            // The current session is ended by "Terminate all sessions" or by logging out.
            return Err(AppError::Conflict {
                message: "You cannot end your current session here. Log out, or use \"Terminate all sessions\".".into(),
            });
        }
        Ok((s.id.clone(), Pending::End { id: s.id, device: s.device }))
    });
    let title = body.as_ref().map(|(_, pending)| pending.title()).unwrap_or("End this session?");
    view! {
        <Title text=title/>
        <div class="settings-page single">
            <h1>{title}</h1>
            {match body {
                Ok((id, pending)) => Either::Left(view! { <Confirmation id pending/> }),
                Err(error) => Either::Right(view! { <NoSuchSession error/> }),
            }}
        </div>
    }
}

#[component]
fn Confirmation(id: SessionId, pending: Pending) -> impl IntoView {
    let error = posted_error::<EndSession, ()>();
    view! {
        <FormError error=Signal::stored(error)/>
        <p>{pending.message()}</p>
        <div class="row">
            <form method="post" action=EndSession::PATH>
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" class="button danger">"OK"</button>
            </form>
            <CancelButton/>
        </div>
    }
}

/// `/settings/sessions/rename?id=`: "Device name" and "Save".
#[component]
pub fn RenamePage() -> impl IntoView {
    view! {
        <Title text="Rename session"/>
        <div class="settings-page single">
            <h1>"Rename session"</h1>
            {match named_session() {
                Ok(s) => Either::Left(view! { <RenameForm s/> }),
                Err(error) => Either::Right(view! { <NoSuchSession error/> }),
            }}
        </div>
    }
}

#[component]
fn RenameForm(s: SessionView) -> impl IntoView {
    let detected = s.parsed_device.clone().unwrap_or_else(|| s.device.clone());
    let id: SessionId = s.id.clone();
    let error = posted_error::<RenameSession, _>();
    view! {
        <p class="lead">
            "A name you recognise, such as \"Work laptop\". It shows instead of the detected device (" {detected}
            ") in Manage Sessions, Security activity and login messages."
        </p>
        <PostForm action=RenameSession::PATH.into() class="stack narrow".into() submit="Save".into()
            success=Some("The session has been renamed.".into()) error>
            <input type="hidden" name="id" value=id.to_string()/>
            <DeviceNameField field_id="device_name".into() value=s.device.clone()/>
        </PostForm>
        <p><a href=SESSIONS_PATH>"Back to Manage Sessions"</a></p>
    }
}
