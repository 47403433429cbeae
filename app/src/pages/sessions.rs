//! Manage Sessions: every active login of the account, with a way to end any other one, or all.
//! The page is server-rendered; the list with its buttons and dialog is one island.

use super::session_rows::{EndedTable, LiveClock, RowCtx, SessionsTable};
#[cfg(feature = "hydrate")]
use super::shell::PolledVersion;
use crate::api::{list_sessions, EndOtherSessions, TerminateAll};
#[cfg(feature = "hydrate")]
use crate::api::{EndSession, ListSessions};
use crate::components::{ConfirmDialog, FormError};
use crate::model::{AppError, SessionId, SessionList};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

/// What the open confirmation dialog would do on OK (the no-JavaScript confirmation page asks
/// in the same words for `End`).
#[derive(Clone, Debug, PartialEq)]
pub enum Pending {
    End { id: SessionId, device: String },
    Others,
    All,
}

impl Pending {
    pub fn title(&self) -> &'static str {
        match self {
            Pending::End { .. } => "End this session?",
            Pending::Others => "End all other sessions?",
            Pending::All => "Terminate all sessions?",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Pending::End { device, .. } => {
                format!("{device} will be logged out. It can log in again with your password.")
            }
            Pending::Others => {
                "Every other session of your account ends, the mail app's included. This browser stays logged in."
                    .to_string()
            }
            Pending::All => {
                "Every session of your account ends, including this one: you will be logged out here as well."
                    .to_string()
            }
        }
    }
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let initial = super::load(list_sessions());
    // Where "Secure my account" leads (`api::SECURED_PATH`).
    let secured = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("secured").is_some())
        && super::load(crate::api::recently_secured()).unwrap_or(false);

    view! {
        <Title text="Manage Sessions"/>
        <h1 id="sessions-heading">"Manage Sessions"</h1>
        {secured.then(|| view! {
            <p class="form-success" role="status">
                "Your account is secure: every other session has ended, auto-login was reset and your password has been changed."
            </p>
        })}
        <p class="lead">
            "These are all the active logins to your account: browsers and the mobile mail app. "
            "If you see one you don't recognise, end it."
        </p>
        <SessionsManager initial>
                        <aside class="info-box" aria-label="About ending sessions">
                            <h2>"Good to know"</h2>
                            <ul>
                                <li>
                                    "You can only end other sessions individually, not your current one. "
                                    "To end your current session as well, use \"Terminate all sessions\"."
                                </li>
                                <li>
                                    "An ended device is logged out at once, including the mail app. To stop an unwanted "
                                    "device from logging in again, "
                                    <a href="/settings/password">"change your password"</a>
                                    "."
                                </li>
                                <li>{lifetime_note()}</li>
                                <li>
                                    "Lost your phone? Lock it or erase it with the phone maker's own service: "
                                    "\"Find My Device\" on Android, \"Find My\" on iPhone."
                                </li>
                            </ul>
                        </aside>
        </SessionsManager>
    }
}

/// The list (read by the server for the first HTML, `initial`), its end and terminate-all buttons
/// with their confirmation dialog, and `children` (server-rendered) between the list and the
/// dialog. The list is read again after an end, and whenever the shell's poll sees the account's
/// `sessions_version` move away from the one it was read at.
#[island]
fn SessionsManager(initial: Result<SessionList, AppError>, children: Children) -> impl IntoView {
    let shown = RwSignal::new(initial);
    let end_error = RwSignal::new(None::<AppError>);
    let terminate_error = RwSignal::new(None::<AppError>);
    let pending = RwSignal::new(None::<Pending>);
    let renaming = RwSignal::new(None::<SessionId>);
    let clock = LiveClock { live: RwSignal::new(false), now: RwSignal::new(0) };
    // After a rename, the new list's "Rename" button of that session gets the focus back.
    #[cfg(feature = "hydrate")]
    let refocus = StoredValue::new(None::<SessionId>);
    #[cfg(feature = "hydrate")]
    let (reload, on_ok) = {
        use crate::client::{call, Answer};
        use leptos::task::spawn_local;

        // Live: local times from now on, "N minutes ago" kept current.
        Effect::new(move |_| {
            clock.now.set(crate::local_time::now());
            clock.live.set(true);
        });
        let tick = set_interval_with_handle(
            move || clock.now.set(crate::local_time::now()),
            std::time::Duration::from_secs(30),
        );
        on_cleanup(move || {
            if let Ok(tick) = tick {
                tick.clear();
            }
        });

        // Only the answer to the latest read is shown, whatever order the answers come in.
        let latest = StoredValue::new(0u32);
        let reload = move || {
            latest.update_value(|n| *n += 1);
            let this = latest.get_value();
            spawn_local(async move {
                let list = match call(ListSessions::PATH, &form(&[])).await {
                    Ok(Answer::Value(json)) => serde_json::from_str(&json).map_err(|_| AppError::Internal),
                    Ok(Answer::Redirected) => return,
                    Err(err) => Err(err),
                };
                if latest.get_value() == this {
                    shown.set(list);
                    if let Some(id) = refocus.try_update_value(Option::take).flatten() {
                        request_animation_frame(move || super::session_rows::focus_rename_button(&id));
                    }
                }
            });
        };
        // A login elsewhere, or a session ending, changes the account's version: reload the list.
        if let Some(PolledVersion(polled)) = use_context::<PolledVersion>() {
            Effect::new(move |_| {
                let Some(seen) = polled.get() else { return };
                let version = shown.with_untracked(|list| list.as_ref().ok().map(|l| l.sessions_version));
                if version.is_some_and(|v| v != seen) {
                    reload();
                }
            });
        }
        let on_ok = move || match pending.get_untracked() {
            Some(Pending::End { id, .. }) => spawn_local(async move {
                let result = call(EndSession::PATH, &form(&[("id", id.as_str())])).await;
                end_error.set(result.err());
                reload();
            }),
            Some(Pending::Others) => spawn_local(async move {
                let result = call(EndOtherSessions::PATH, &form(&[])).await;
                terminate_error.set(result.err());
                reload();
            }),
            Some(Pending::All) => spawn_local(async move {
                // Success sends this browser to the login page.
                if let Err(err) = call(TerminateAll::PATH, &form(&[])).await {
                    terminate_error.set(Some(err));
                }
            }),
            None => {}
        };
        (reload, on_ok)
    };
    #[cfg(not(feature = "hydrate"))]
    let (reload, on_ok) = (|| {}, || {});
    let on_ok = Callback::new(move |_| {
        on_ok();
        pending.set(None);
    });
    let on_cancel = Callback::new(move |_| pending.set(None));
    let title =
        Signal::derive(move || pending.with(|p| p.as_ref().map(Pending::title).unwrap_or_default().to_string()));
    let message = Signal::derive(move || pending.with(|p| p.as_ref().map(Pending::message).unwrap_or_default()));
    let renamed = Callback::new(move |id: SessionId| {
        #[cfg(feature = "hydrate")]
        refocus.set_value(Some(id));
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
        reload();
    });
    let ctx = RowCtx { pending, renaming, clock, renamed };

    let ask = move |ev: leptos::ev::SubmitEvent, what: Pending| {
        ev.prevent_default();
        pending.set(Some(what));
    };
    view! {
        <FormError error=end_error/>
        <FormError error=terminate_error/>
        {move || match shown.get() {
            Ok(list) => {
                let ended = list.ended;
                let list = list.sessions;
                let several = list.len() >= 2;
                Either::Left(view! {
                    <SessionsTable list ctx/>
                    {several.then(|| view! {
                        // Plain forms without JavaScript; with it, the dialog asks first.
                        <div class="row">
                            <form method="post" action=EndOtherSessions::PATH
                                on:submit=move |ev| ask(ev, Pending::Others)>
                                <button type="submit" class="button secondary">"End all other sessions"</button>
                            </form>
                            <form method="post" action=TerminateAll::PATH on:submit=move |ev| ask(ev, Pending::All)>
                                <button type="submit" class="button danger">"Terminate all sessions"</button>
                            </form>
                        </div>
                    })}
                    <EndedTable ended clock/>
                })
            }
            Err(err) => Either::Right(view! { <p class="form-error" role="alert">{err.to_string()}</p> }),
        }}
        {children()}
        <ConfirmDialog open=Signal::derive(move || pending.get().is_some()) title message on_ok on_cancel/>
    }
}

/// Form-encoded fields for a server function.
#[cfg(feature = "hydrate")]
fn form(fields: &[(&str, &str)]) -> web_sys::UrlSearchParams {
    use wasm_bindgen::UnwrapThrowExt;
    let params = web_sys::UrlSearchParams::new().unwrap_throw();
    for (name, value) in fields {
        params.append(name, value);
    }
    params
}

/// "Sessions also end by themselves …", with the running server's lifetimes.
fn lifetime_note() -> String {
    use crate::time_fmt::duration_words;
    let l = super::lifetimes();
    format!(
        "Sessions also end by themselves: after {} without activity, or {} after login. \
         With \"Stay logged in\" and in the mail app they last up to {}.",
        duration_words(l.idle_ms),
        duration_words(l.max_age_ms),
        duration_words(l.remembered_max_age_ms)
    )
}
