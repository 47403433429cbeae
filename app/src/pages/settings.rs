//! Settings (left-hand menu), Change password, and My Account → Security options. The two forms
//! are islands; the rest of these pages is plain server-rendered HTML.

use crate::api::{ChangePassword, ResetAutoLogin};
use crate::components::{posted_error, FormError, NewPasswordFields, PostForm};
use crate::model::{limits, AppError};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::{Outlet, A};

#[component]
pub fn SettingsLayout() -> impl IntoView {
    view! {
        <div class="settings">
            <nav class="settings-menu" aria-label="Settings">
                <p class="settings-menu-title">"Settings"</p>
                <ul>
                    <li><A href="/settings/sessions">"Manage Sessions"</A></li>
                    <li><A href="/settings/password">"Change password"</A></li>
                </ul>
            </nav>
            <div class="settings-page">
                <Outlet/>
            </div>
        </div>
    }
}

#[component]
pub fn SettingsHome() -> impl IntoView {
    view! {
        <Title text="Settings"/>
        <h1>"Settings"</h1>
        <p class="lead">"Choose a topic from the menu."</p>
        <ul class="link-list">
            <li>
                <a href="/settings/sessions">"Manage Sessions"</a>
                " – see every login to your account and end the ones you don't want."
            </li>
            <li><a href="/settings/password">"Change password"</a> " – choose a new password; other devices are logged out."</li>
        </ul>
    }
}

#[component]
pub fn PasswordPage() -> impl IntoView {
    view! {
        <Title text="Change password"/>
        <h1>"Change password"</h1>
        <p class="lead">
            "After the change, every other device logged in to your account is logged out, including the mail app. "
            "This device stays logged in."
        </p>
        <PostForm action=ChangePassword::PATH.into() class="stack narrow".into() submit="Save changes".into()
            success=Some("Your password has been changed.".into()) error={posted_error::<ChangePassword, _>()}>
            <div class="field">
                <label for="current_password">"Current password"</label>
                <input id="current_password" name="current_password" type="password"
                    autocomplete="current-password" required maxlength=limits::PASSWORD_MAX/>
            </div>
            <NewPasswordFields name="new_password" label="New password" repeat_label="Repeat new password"/>
        </PostForm>
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    view! {
        <Title text="Security options"/>
        <div class="settings-page single">
            <p class="breadcrumb">"My Account › Security options"</p>
            <h1>"Security options"</h1>
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
