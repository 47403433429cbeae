//! My Account, its Security options (password, sessions, the latest activity, login
//! notifications, Reset auto-login), and "Secure your account", where "This wasn't me" leads.

use super::activity::EventSummary;
use crate::api::{read_security_overview, reported_session, ResetAutoLogin, SaveLoginNotifications, SecureAccount};
use crate::components::{posted_error, CurrentPasswordField, FormError, NewPasswordFields, PostForm};
use crate::model::{limits, AppError, SessionId};
use crate::time_fmt::{format_utc, iso_utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn MyAccountPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let me = crate::api::me_now().ok();
    #[cfg(not(feature = "ssr"))]
    let me: Option<crate::api::Me> = None;
    let (name, email) = me.map(|m| (m.account.name, m.account.email)).unwrap_or_default();
    view! {
        <Title text="My Account"/>
        <div class="settings-page single">
            <h1>"My Account"</h1>
            <dl class="facts card">
                <dt>"Name"</dt><dd>{name}</dd>
                <dt>"E-mail"</dt><dd>{email}</dd>
            </dl>
            <nav aria-label="My Account">
                <ul class="link-list">
                    <li>
                        <a href="/account/security">"Security options"</a>
                        " – password, sessions, security activity, login notifications and Reset auto-login."
                    </li>
                    <li><a href="/settings/sessions">"Manage Sessions"</a> " – every login to your account."</li>
                    <li><a href="/settings/password">"Change password"</a></li>
                </ul>
            </nav>
        </div>
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let overview = super::load(read_security_overview());
    view! {
        <Title text="Security options"/>
        <div class="settings-page single">
            <p class="breadcrumb"><a href="/account">"My Account"</a> " › Security options"</p>
            <h1>"Security options"</h1>
            {match overview {
                        Ok(o) => Either::Left(view! {
                            <section class="card section" aria-labelledby="password-heading">
                                <h2 id="password-heading">"Password"</h2>
                                <p>
                                    "Last changed "
                                    <time datetime=iso_utc(o.password_changed_at)>{format_utc(o.password_changed_at)}</time>
                                    "."
                                </p>
                                <p><a href="/settings/password">"Change password"</a></p>
                            </section>
                            <section class="card section" aria-labelledby="sessions-heading">
                                <h2 id="sessions-heading">"Sessions"</h2>
                                <p>
                                    {if o.active_sessions == 1 {
                                        "1 active session".to_string()
                                    } else {
                                        format!("{} active sessions", o.active_sessions)
                                    }}
                                </p>
                                <p><a href="/settings/sessions">"Manage Sessions"</a></p>
                            </section>
                            <section class="card section" aria-labelledby="activity-heading">
                                <h2 id="activity-heading">"Security activity"</h2>
                                {if o.latest.is_empty() {
                                    Either::Left(view! { <p>"Nothing yet."</p> })
                                } else {
                                    Either::Right(view! {
                                        <ul class="event-summary">
                                            {o.latest.into_iter().map(|e| view! { <li><EventSummary e/></li> }).collect_view()}
                                        </ul>
                                    })
                                }}
                                <p><a href="/settings/activity">"See all security activity"</a></p>
                            </section>
                            <section class="card section" aria-labelledby="notifications-heading">
                                <h2 id="notifications-heading">"Login notifications"</h2>
                                <PostForm action=SaveLoginNotifications::PATH.into() class="stack".into()
                                    submit="Save changes".into() success=Some("Your choice has been saved.".into())
                                    error={posted_error::<SaveLoginNotifications, _>()}>
                                    <div class="checkbox">
                                        <input id="notify" name="notify" type="checkbox" checked=o.notify_new_devices
                                            aria-describedby="notify-hint"/>
                                        <label for="notify">"Tell me about logins from new devices"</label>
                                    </div>
                                    <p class="hint" id="notify-hint">
                                        "A message in your Inbox for every login from a browser or phone this account "
                                        "has not been used on before, with a button to end it at once."
                                    </p>
                                </PostForm>
                            </section>
                        }),
                        Err(err) => Either::Right(view! { <p class="form-error" role="alert">{err.to_string()}</p> }),
            }}
            <section class="card section" aria-labelledby="reset-heading">
                <h2 id="reset-heading">"Reset auto-login"</h2>
                <p>
                    "Ends every remembered login at once: the mobile mail app on every device, and every browser "
                    "where \"Stay logged in\" was chosen. They have to log in again with your password. "
                    "This browser stays logged in."
                </p>
                <p>
                    "Do this when a device is lost or you no longer trust it, together with "
                    <a href="/settings/password">"changing your password"</a> "."
                </p>
                <ResetAutoLoginForm error={posted_error::<ResetAutoLogin, _>()}>
                    <div class="field">
                        <label for="reset-password">"Password"</label>
                        <input id="reset-password" name="password" type="password" autocomplete="current-password"
                            required maxlength=limits::PASSWORD_MAX aria-describedby="reset-password-hint"/>
                        <p class="hint" id="reset-password-hint">"Confirm with the password of your account."</p>
                    </div>
                </ResetAutoLoginForm>
            </section>
        </div>
    }
}

/// "Secure your account" (`?session=ID`: the login reported with "This wasn't me").
#[component]
pub fn SecurePage() -> impl IntoView {
    let query = use_query_map();
    let session = SessionId(query.read_untracked().get("session").unwrap_or_default());
    let reported = super::load(reported_session(session));
    view! {
        <Title text="Secure your account"/>
        <div class="settings-page single">
            <h1>"Secure your account"</h1>
            {match reported {
                        Ok(s) => Either::Left(view! {
                            <p class="lead">
                                "You reported the login from " <strong>{s.device.clone()}</strong> " (IP address "
                                <span class="mono">{s.ip.clone()}</span> ", "
                                <time datetime=iso_utc(s.created_at)>{format_utc(s.created_at)}</time>
                                ") as not yours. \"Secure my account\" does all of this at once:"
                            </p>
                            <ul>
                                <li>"that login ends, and so does every other session except this browser's;"</li>
                                <li>"auto-login is reset: the mail app and \"Stay logged in\" browsers have to log in again;"</li>
                                <li>"that device is no longer known to your account: its next login is reported again;"</li>
                                <li>"your password changes to the new one, so the old one stops working."</li>
                            </ul>
                            <PostForm action=SecureAccount::PATH.into() class="stack narrow".into()
                                submit="Secure my account".into() success=None
                                error={posted_error::<SecureAccount, _>()}>
                                <input type="hidden" name="session" value=s.id.to_string()/>
                                <CurrentPasswordField/>
                                <NewPasswordFields name="new_password" label="New password" repeat_label="Repeat new password"/>
                            </PostForm>
                        }),
                        Err(err) => Either::Right(view! {
                            <p class="form-error" role="alert">{secure_error(&err)}</p>
                            <p><a href="/settings/sessions">"Manage Sessions"</a></p>
                        }),
            }}
        </div>
    }
}

fn secure_error(err: &AppError) -> String {
    match err {
        AppError::NotFound => {
            "There is no such login to your account. Open \"This wasn't me\" from the message in your Inbox again."
                .into()
        }
        other => other.to_string(),
    }
}

/// "Reset auto-login now" reveals the password form (`children`: its field); Cancel and a
/// success hide it again. Hidden rather than removed, because the server rendered the field.
#[island]
fn ResetAutoLoginForm(error: Option<AppError>, children: Children) -> impl IntoView {
    // A plain post's error (see `posted_error`) opens the form, so that it can be read.
    let asking = RwSignal::new(error.is_some());
    let error = RwSignal::new(error);
    let done = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let form = NodeRef::<leptos::html::Form>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        crate::client::submit(ev, pending, move |result| {
            if result.is_ok() {
                asking.set(false);
            }
            done.set(result.is_ok());
            error.set(result.err());
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let cancel = move |_| {
        asking.set(false);
        if let Some(form) = form.get_untracked() {
            form.reset();
        }
    };
    view! {
        {move || done.get().then(|| view! { <p class="form-success" role="status">"Auto-login has been reset."</p> })}
        {move || {
            (!asking.get())
                .then(|| {
                    view! {
                        <button type="button" class="button primary" on:click=move |_| asking.set(true)>
                            "Reset auto-login now"
                        </button>
                    }
                })
        }}
        <form node_ref=form action=ResetAutoLogin::PATH method="post" class="stack narrow" novalidate=true
            hidden=move || !asking.get() on:submit=on_submit>
            <FormError error/>
            {children()}
            <div class="row">
                <button type="submit" class="button primary" disabled=move || pending.get()>"Save changes"</button>
                <button type="button" class="button secondary" on:click=cancel>"Cancel"</button>
            </div>
        </form>
    }
}
