//! The webmail shell around every signed-in page, and the watcher that notices when the session
//! was ended elsewhere.

use crate::api::LogOut;
use crate::model::EndReason;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Outlet;

/// The account's `sessions_version` as the last poll saw it; a session list read at another
/// version reloads. Provided by [`SessionGuard`] to the islands inside it.
#[derive(Clone, Copy)]
pub struct PolledVersion(pub RwSignal<Option<i64>>);

/// The shell is rendered on the server only (islands mode): it reads the signed-in person from
/// the request at once, without a resource to wait for.
#[component]
pub fn Shell() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let me = crate::api::me_now();
    #[cfg(not(feature = "ssr"))]
    let me: Result<crate::api::Me, crate::model::AppError> = Err(crate::model::AppError::Internal);

    match me {
        Ok(me) => {
            let unread = me.unread_messages;
            view! {
                <SessionGuard interval_ms=me.poll_interval_ms>
                    <a class="skip-link" href="#main">"Skip to content"</a>
                    <header class="topbar">
                        <a class="brand" href="/">"Postern"</a>
                        <div class="account">
                            <span class="account-name">{me.account.name.clone()}</span>
                            <span class="account-email">{me.account.email.clone()}</span>
                        </div>
                        <nav class="topbar-actions" aria-label="Account">
                            <a class="button secondary" href="/account">"My Account"</a>
                            // A plain form post: the server answers with a redirect to /login.
                            <form method="post" action=LogOut::url()>
                                <button type="submit" class="button secondary">"Log out"</button>
                            </form>
                        </nav>
                    </header>
                    <div class="workspace">
                        <nav class="sidebar" aria-label="Mail folders">
                            <ul class="folders">
                                {FOLDERS
                                    .iter()
                                    .map(|(slug, label)| {
                                        let href = if *slug == "inbox" {
                                            "/".to_string()
                                        } else {
                                            format!("/?folder={slug}")
                                        };
                                        let count = (*slug == "inbox" && unread > 0).then(|| {
                                            view! {
                                                " "
                                                <span class="count">{unread}</span>
                                                <span class="visually-hidden">" unread"</span>
                                            }
                                        });
                                        view! { <li><a href=href>{*label}{count}</a></li> }
                                    })
                                    .collect_view()}
                            </ul>
                            <a class="settings-link" href="/settings">
                                <span aria-hidden="true">"⚙ "</span>
                                "Settings"
                            </a>
                        </nav>
                        <main id="main" class="content" tabindex="-1">
                            <Outlet/>
                        </main>
                    </div>
                </SessionGuard>
            }
            .into_any()
        }
        Err(err) => view! { <SignedOut message=err.to_string()/> }.into_any(),
    }
}

/// The signed-in page (`children`, server-rendered) with the session watcher around it: once the
/// session was ended elsewhere, the page is hidden and the logged-out notice shown instead. The
/// islands inside `children` (the sessions list) share its [`PolledVersion`].
#[island]
fn SessionGuard(interval_ms: u64, children: Children) -> impl IntoView {
    let ended = RwSignal::new(None::<EndReason>);
    let polled = PolledVersion(RwSignal::new(None));
    provide_context(polled);
    #[cfg(feature = "hydrate")]
    watcher::start(interval_ms, ended, polled.0);
    #[cfg(not(feature = "hydrate"))]
    let _ = interval_ms;

    view! {
        <LoggedOutNotice ended/>
        <div class="app" hidden=move || ended.get().is_some()>
            {children()}
        </div>
    }
}

pub(super) const FOLDERS: [(&str, &str); 5] =
    [("inbox", "Inbox"), ("drafts", "Drafts"), ("sent", "Sent"), ("spam", "Spam"), ("trash", "Trash")];

/// Shown if the request carries no active session. A safeguard only: the session middleware
/// redirects a page load without one to /login before anything renders.
#[component]
fn SignedOut(message: String) -> impl IntoView {
    view! {
        <main class="center-page">
            <p role="alert">{message}</p>
            <p><a href="/login" rel="external">"Log in"</a></p>
        </main>
    }
}

/// Full-page notice shown once the session was ended from elsewhere; the mailbox behind it is
/// hidden.
#[component]
fn LoggedOutNotice(ended: RwSignal<Option<EndReason>>) -> impl IntoView {
    move || {
        ended.get().map(|reason| {
            view! {
                <div class="logged-out-backdrop">
                    <div class="card logged-out" role="alert">
                        <h1>"You have been automatically logged out"</h1>
                        <p>{explain(reason)}</p>
                        <a class="button primary" href="/login" rel="external">"Log in again"</a>
                    </div>
                </div>
            }
        })
    }
}

fn explain(reason: EndReason) -> &'static str {
    match reason {
        EndReason::EndedByUser => "This session was ended from another device signed in to your account.",
        EndReason::TerminatedAll => "All sessions of your account were ended.",
        EndReason::PasswordChanged => "The password of your account was changed.",
        EndReason::AutoLoginReset => "Remembered logins of your account were reset.",
        EndReason::Expired => "Your session expired. For your security, sessions end after a while.",
        EndReason::LoggedOut => "You logged out.",
        EndReason::SessionLimit => {
            "Your account reached its limit of active sessions, and this one was the least recently used."
        }
        EndReason::EndedOthers => "This session was ended from another device signed in to your account.",
        EndReason::NotMe => "This login was reported as not yours from another device signed in to your account.",
        EndReason::Other => "This session has ended.",
    }
}

/// Polls `GET /api/session/status` every `interval_ms`, when the tab becomes visible again, and
/// listens to the other tabs of this browser (background tabs have their timers throttled).
/// A failed poll (network down, server restarting) is not a logout: it says nothing and tries
/// again.
#[cfg(feature = "hydrate")]
mod watcher {
    use crate::model::{EndReason, SessionStatus};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::time::Duration;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    const CHANNEL: &str = "postern-session";

    thread_local! {
        static TAB_CHANNEL: RefCell<Option<web_sys::BroadcastChannel>> = const { RefCell::new(None) };
    }

    pub fn start(interval_ms: u64, ended: RwSignal<Option<EndReason>>, polled: RwSignal<Option<i64>>) {
        let on_status = move |status: SessionStatus| match status {
            SessionStatus::Active { sessions_version } => {
                if polled.try_get_untracked().flatten() != Some(sessions_version) {
                    polled.try_set(Some(sessions_version));
                }
            }
            SessionStatus::Ended { reason: EndReason::LoggedOut } | SessionStatus::None => {
                // Logged out in this browser (another tab): no notice, just the login page.
                let _ = window().location().set_href("/login");
            }
            SessionStatus::Ended { reason } => {
                if ended.try_get_untracked().flatten().is_none() {
                    ended.try_set(Some(reason));
                    broadcast(reason);
                }
            }
        };
        let poll = move || {
            leptos::task::spawn_local(async move {
                if let Some(status) = fetch_status().await {
                    on_status(status);
                }
            })
        };

        poll();
        let interval = set_interval_with_handle(poll, Duration::from_millis(interval_ms.max(250))).ok();
        let visibility = window_event_listener(leptos::ev::visibilitychange, move |_| {
            if document().visibility_state() == web_sys::VisibilityState::Visible {
                poll();
            }
        });
        listen_to_other_tabs(ended);
        on_cleanup(move || {
            if let Some(handle) = interval {
                handle.clear();
            }
            visibility.remove();
        });
    }

    fn listen_to_other_tabs(ended: RwSignal<Option<EndReason>>) {
        TAB_CHANNEL.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = web_sys::BroadcastChannel::new(CHANNEL).ok();
            }
            if let Some(channel) = slot.as_ref() {
                let handler = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                    let reason = ev.data().as_string().map(|s| EndReason::parse(&s));
                    if let Some(reason) = reason {
                        if ended.try_get_untracked().flatten().is_none() {
                            ended.try_set(Some(reason));
                        }
                    }
                });
                channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
                // The handler lives as long as the page; a remount replaces it.
                handler.forget();
            }
        });
    }

    fn broadcast(reason: EndReason) {
        TAB_CHANNEL.with(|slot| {
            if let Some(channel) = slot.borrow().as_ref() {
                let _ = channel.post_message(&JsValue::from_str(reason.as_str()));
            }
        });
    }

    async fn fetch_status() -> Option<SessionStatus> {
        let init = web_sys::RequestInit::new();
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        init.set_cache(web_sys::RequestCache::NoStore);
        let response = JsFuture::from(window().fetch_with_str_and_init(crate::model::STATUS_PATH, &init)).await.ok()?;
        let response: web_sys::Response = response.dyn_into().ok()?;
        if !response.ok() {
            return None;
        }
        let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string()?;
        serde_json::from_str(&text).ok()
    }
}
