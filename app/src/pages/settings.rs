//! Settings (left-hand menu), Change password, and My Account → Security options.

use crate::api::{ChangePassword, ResetAutoLogin};
use crate::components::{action_error, action_succeeded, FormError, NewPasswordFields};
use crate::model::limits;
use leptos::form::ActionForm;
use leptos::prelude::*;
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
    let change = ServerAction::<ChangePassword>::new();
    let error = action_error(change);
    let done = action_succeeded(change);
    let form = NodeRef::<leptos::html::Form>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if done.get() {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    view! {
        <Title text="Change password"/>
        <h1>"Change password"</h1>
        <p class="lead">
            "After the change, every other device logged in to your account is logged out, including the mail app. "
            "This device stays logged in."
        </p>
        <ActionForm action=change node_ref=form attr:class="stack narrow" attr:novalidate=true>
            <FormError error/>
            {move || done.get().then(|| view! { <p class="form-success" role="status">"Your password has been changed."</p> })}
            <div class="field">
                <label for="current_password">"Current password"</label>
                <input id="current_password" name="current_password" type="password"
                    autocomplete="current-password" required maxlength=limits::PASSWORD_MAX/>
            </div>
            <NewPasswordFields name="new_password" label="New password" repeat_label="Repeat new password"/>
            <button type="submit" class="button primary" disabled=move || change.pending().get()>"Save changes"</button>
        </ActionForm>
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let reset = ServerAction::<ResetAutoLogin>::new();
    let error = action_error(reset);
    let done = action_succeeded(reset);
    let asking = RwSignal::new(false);
    Effect::new(move |_| {
        if done.get() {
            asking.set(false);
        }
    });
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
                {move || done.get().then(|| view! { <p class="form-success" role="status">"Auto-login has been reset."</p> })}
                <Show
                    when=move || asking.get()
                    fallback=move || view! {
                        <button type="button" class="button primary" on:click=move |_| asking.set(true)>
                            "Reset auto-login now"
                        </button>
                    }
                >
                    <ActionForm action=reset attr:class="stack narrow" attr:novalidate=true>
                        <FormError error/>
                        <div class="field">
                            <label for="reset-password">"Password"</label>
                            <input id="reset-password" name="password" type="password" autocomplete="current-password"
                                required maxlength=limits::PASSWORD_MAX aria-describedby="reset-password-hint"/>
                            <p class="hint" id="reset-password-hint">"Confirm with the password of your account."</p>
                        </div>
                        <div class="row">
                            <button type="submit" class="button primary" disabled=move || reset.pending().get()>
                                "Save changes"
                            </button>
                            <button type="button" class="button secondary" on:click=move |_| asking.set(false)>
                                "Cancel"
                            </button>
                        </div>
                    </ActionForm>
                </Show>
            </section>
        </div>
    }
}
