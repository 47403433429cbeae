//! Manage Sessions: every active login of the account, with a way to end any other one, or all.

use super::shell::PolledVersion;
use crate::api::{list_sessions, EndSession, TerminateAll};
use crate::components::{action_error, ConfirmDialog, FormError, TrashIcon};
use crate::model::{SessionKind, SessionView};
use crate::time_fmt::{format_utc, iso_utc};
use leptos::prelude::*;
use leptos_meta::Title;

/// What the open confirmation dialog would do on OK.
#[derive(Clone, Debug, PartialEq)]
enum Pending {
    End { id: String, device: String },
    All,
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let polled = expect_context::<PolledVersion>().0;
    let end = ServerAction::<EndSession>::new();
    let terminate = ServerAction::<TerminateAll>::new();
    let reload = RwSignal::new(0u32);
    let sessions = Resource::new_blocking(move || (reload.get(), end.version().get()), |_| list_sessions());
    // A login elsewhere, or a session ending, changes the account's version: reload the list.
    Effect::new(move |_| {
        let Some(seen) = polled.get() else { return };
        let shown = sessions.get_untracked().and_then(|r| r.ok()).map(|l| l.sessions_version);
        if shown.is_some_and(|v| v != seen) {
            reload.update(|n| *n += 1);
        }
    });
    let pending = RwSignal::new(None::<Pending>);
    let end_error = action_error(end);
    let terminate_error = action_error(terminate);

    let on_ok = Callback::new(move |_| {
        match pending.get_untracked() {
            Some(Pending::End { id, .. }) => {
                end.dispatch(EndSession { id });
            }
            Some(Pending::All) => {
                terminate.dispatch(TerminateAll {});
            }
            None => {}
        }
        pending.set(None);
    });
    let on_cancel = Callback::new(move |_| pending.set(None));
    let title = Signal::derive(move || match pending.get() {
        Some(Pending::All) => "Terminate all sessions?".to_string(),
        _ => "End this session?".to_string(),
    });
    let message = Signal::derive(move || match pending.get() {
        Some(Pending::End { device, .. }) => {
            format!("{device} will be logged out. It can log in again with your password.")
        }
        Some(Pending::All) => "Every session of your account ends, including this one: you will be logged out here as well.".to_string(),
        None => String::new(),
    });

    view! {
        <Title text="Manage Sessions"/>
        <h1 id="sessions-heading">"Manage Sessions"</h1>
        <p class="lead">
            "These are all the active logins to your account: browsers and the mobile mail app. "
            "If you see one you don't recognise, end it."
        </p>
        <FormError error=end_error/>
        <FormError error=terminate_error/>
        <Transition fallback=|| view! { <p class="loading">"Loading sessions…"</p> }>
            {move || Suspend::new(async move {
                match sessions.await {
                    Ok(list) => {
                        let list = list.sessions;
                        let several = list.len() >= 2;
                        view! {
                            <SessionsTable list pending/>
                            <Show when=move || several>
                                <button type="button" class="button danger"
                                    on:click=move |_| pending.set(Some(Pending::All))>
                                    "Terminate all sessions"
                                </button>
                            </Show>
                        }
                            .into_any()
                    }
                    Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
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
                <li>
                    "Sessions also end by themselves: after 30 minutes without activity, or 12 hours after login. "
                    "With \"Stay logged in\" and in the mail app they last up to 30 days."
                </li>
                <li>
                    "Lost your phone? Lock it or erase it with the phone maker's own service: "
                    "\"Find My Device\" on Android, \"Find My\" on iPhone."
                </li>
            </ul>
        </aside>
        <ConfirmDialog open=Signal::derive(move || pending.get().is_some()) title message on_ok on_cancel/>
    }
}

#[component]
fn SessionsTable(list: Vec<SessionView>, pending: RwSignal<Option<Pending>>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="sessions" aria-labelledby="sessions-heading">
                <thead>
                    <tr>
                        <th scope="col">"Device"</th>
                        <th scope="col">"IP address"</th>
                        <th scope="col">"Logged in"</th>
                        <th scope="col">"Last active"</th>
                        <th scope="col"><span class="visually-hidden">"Action"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|s| {
                            let remembered = match (s.auto_login, s.kind) {
                                (true, SessionKind::Browser) => Some("Stay logged in"),
                                (true, SessionKind::App) => Some("Auto-login"),
                                _ => None,
                            };
                            let action = if s.current {
                                view! { <span class="current-marker">"Current session"</span> }.into_any()
                            } else {
                                let id = s.id.clone();
                                let device = s.device.clone();
                                view! {
                                    <button type="button" class="icon-button" aria-label="End session"
                                        title=format!("End session: {device}")
                                        on:click=move |_| pending.set(Some(Pending::End { id: id.clone(), device: device.clone() }))>
                                        <TrashIcon/>
                                    </button>
                                }
                                    .into_any()
                            };
                            view! {
                                <tr class:current=s.current>
                                    <td>
                                        <span class="device" title=s.user_agent.clone()>{s.device.clone()}</span>
                                        {remembered.map(|r| view! { <span class="badge">{r}</span> })}
                                    </td>
                                    <td class="mono">{s.ip.clone()}</td>
                                    <td><time datetime=iso_utc(s.created_at)>{format_utc(s.created_at)}</time></td>
                                    <td><time datetime=iso_utc(s.last_active_at)>{format_utc(s.last_active_at)}</time></td>
                                    <td class="action">{action}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
