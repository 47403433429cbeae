//! The mailbox: the Inbox with the security centre's messages, the other folders, and one
//! message with its "Yes, it was me" / "This wasn't me" / "Delete" forms. No island: every
//! button is a plain form post, so all of it works without JavaScript.

use super::shell::FOLDERS;
use crate::api::{list_messages, message, DeleteMessage, MarkMessageRead, ReportNotMe};
use crate::model::{location_words, MessageReply, MessageView, NEW_LOGIN_SUBJECT, SECURITY_SENDER};
use crate::time_fmt::{format_utc, iso_utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn Mailbox() -> impl IntoView {
    let query = use_query_map();
    let slug = query.read_untracked().get("folder").unwrap_or_else(|| "inbox".into());
    let folder = FOLDERS.iter().find(|(s, _)| *s == slug).map(|(_, label)| *label).unwrap_or("Inbox");
    let view = if folder == "Inbox" {
        Either::Left(view! { <InboxList/> })
    } else {
        Either::Right(view! {
            <div class="empty-state">
                <p>"No messages in " {folder} "."</p>
            </div>
        })
    };
    view! {
        <Title text=folder/>
        <h1>{folder}</h1>
        {view}
    }
}

#[component]
fn InboxList() -> impl IntoView {
    match super::load(list_messages()) {
        Ok(inbox) if inbox.messages.is_empty() => {
            view! { <div class="empty-state"><p>"No messages in Inbox."</p></div> }.into_any()
        }
        Ok(inbox) => view! {
            <ul class="message-list" aria-label="Messages">
                {inbox.messages.into_iter().map(|m| view! { <MessageRow m/> }).collect_view()}
            </ul>
        }
        .into_any(),
        Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
    }
}

#[component]
fn MessageRow(m: MessageView) -> impl IntoView {
    view! {
        <li class="message-row" class:unread=!m.read>
            <a href=format!("/inbox/{}", m.id)>
                <span class="sender">{SECURITY_SENDER}</span>
                <span class="subject">{NEW_LOGIN_SUBJECT}</span>
                <time datetime=iso_utc(m.at)>{format_utc(m.at)}</time>
                {(!m.read).then(|| view! { <span class="visually-hidden">" (unread)"</span> })}
            </a>
        </li>
    }
}

#[component]
pub fn MessagePage() -> impl IntoView {
    let params = use_params_map();
    let id = params.read_untracked().get("id").and_then(|id| id.parse::<i64>().ok());
    let shown = match id {
        Some(id) => super::load(message(id)).map(Some),
        None => Ok(None),
    };
    match shown {
        Ok(Some(m)) => view! { <MessageBody m/> }.into_any(),
        // Another account's message, or none: the same "not found" page.
        Ok(None) | Err(crate::model::AppError::MessageNotFound) => view! { <super::NotFoundContent/> }.into_any(),
        Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
    }
}

#[component]
fn MessageBody(m: MessageView) -> impl IntoView {
    let id = m.id.to_string();
    let answer = if m.this_session {
        // The intruder reads the same Inbox: from the login itself, nothing to confirm or report.
        Either::Left(view! { <p class="note">"This is the login from this device."</p> })
    } else {
        Either::Right(view! {
            {match m.reply {
                Some(MessageReply::Confirmed) => Some(view! { <p class="form-success" role="status">"Thanks for confirming."</p> }.into_any()),
                Some(MessageReply::Reported) => Some(view! {
                    <p class="note">"You reported this login as not yours. "
                        <a href=format!("/account/secure?session={}", m.session_id)>"Secure your account"</a></p>
                }.into_any()),
                None => None,
            }}
            <p>"Was this you?"</p>
            <div class="row">
                <form method="post" action=MarkMessageRead::PATH>
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button secondary">"Yes, it was me"</button>
                </form>
                <form method="post" action=ReportNotMe::PATH>
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button danger">"This wasn't me"</button>
                </form>
            </div>
            <p class="hint">
                "\"This wasn't me\" lets you end that login and every other one, and choose a new password, in one step."
            </p>
        })
    };
    view! {
        <Title text=NEW_LOGIN_SUBJECT/>
        <article class="card message" aria-labelledby="message-subject">
            <h1 id="message-subject">{NEW_LOGIN_SUBJECT}</h1>
            <p class="message-meta">
                "From: " {SECURITY_SENDER} " · " <time datetime=iso_utc(m.at)>{format_utc(m.at)}</time>
            </p>
            <p>"Your account was just logged in to from a device it had not been used on before:"</p>
            <dl class="facts">
                <dt>"Device"</dt><dd>{m.device.clone()}</dd>
                <dt>"IP address"</dt><dd class="mono">{m.ip.clone()}</dd>
                {m.location.as_deref().map(|l| view! { <dt>"Where"</dt><dd>{location_words(l)}</dd> })}
                <dt>"When"</dt><dd><time datetime=iso_utc(m.at)>{format_utc(m.at)}</time></dd>
            </dl>
            {answer}
            {(!m.this_session).then(|| view! {
                <form method="post" action=DeleteMessage::PATH>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class="button secondary">"Delete"</button>
                </form>
            })}
        </article>
        <p><a href="/">"Back to Inbox"</a></p>
    }
}
