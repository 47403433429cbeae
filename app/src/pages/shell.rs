//! The webmail shell around every signed-in page, and the watcher that notices when the session
//! was ended elsewhere.

use crate::api::LogOut;
use crate::model::EndReason;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Outlet;

/// The account's `sessions_version` as the last poll or stream event said; a session list read
/// at another version reloads. Provided by [`SessionGuard`] to the islands inside it.
#[derive(Clone, Copy)]
pub struct PolledVersion(pub RwSignal<Option<i64>>);

/// The Inbox's unread count as the event stream last said (`None`: as the page was rendered).
#[derive(Clone, Copy)]
pub struct PushedUnread(pub RwSignal<Option<i64>>);

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
                <SessionGuard interval_ms=me.poll_interval_ms stream_interval_ms=me.stream_poll_interval_ms>
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
                                        let count =
                                            (*slug == "inbox").then(|| view! { " " <InboxCount rendered=unread/> });
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
fn SessionGuard(interval_ms: u64, stream_interval_ms: u64, children: Children) -> impl IntoView {
    let ended = RwSignal::new(None::<EndReason>);
    let polled = PolledVersion(RwSignal::new(None));
    let unread = PushedUnread(RwSignal::new(None));
    provide_context(polled);
    provide_context(unread);
    #[cfg(feature = "hydrate")]
    super::watcher::start(interval_ms, stream_interval_ms, ended, polled, unread);
    #[cfg(not(feature = "hydrate"))]
    let _ = (interval_ms, stream_interval_ms);

    view! {
        <LoggedOutNotice ended/>
        <div class="app" hidden=move || ended.get().is_some()>
            {children()}
        </div>
    }
}

/// The Inbox's unread count in the sidebar: as rendered, then as the event stream says when a
/// message arrives.
#[island]
fn InboxCount(rendered: i64) -> impl IntoView {
    let pushed = use_context::<PushedUnread>();
    let count = move || pushed.and_then(|p| p.0.get()).unwrap_or(rendered);
    // One structure whatever the count (hidden at 0), so that hydration always finds it.
    view! {
        <span class="unread-count" hidden=move || count() == 0>
            <span class="count">{count}</span>
            <span class="visually-hidden">" unread"</span>
        </span>
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
        EndReason::EndedByAdmin => "This session was ended by the administrator of this mail service.",
        EndReason::Other => "This session has ended.",
    }
}
