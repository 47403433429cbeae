//! Settings (left-hand menu) and Change password. The form is an island; the rest of these pages
//! is plain server-rendered HTML.

use crate::api::ChangePassword;
use crate::components::{posted_error, CurrentPasswordField, NewPasswordFields, PostForm};
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
                    <li><A href="/settings/activity">"Security activity"</A></li>
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
            <li>
                <a href="/settings/activity">"Security activity"</a>
                " – who logged in, from where, what failed and what ended."
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
            <CurrentPasswordField/>
            <NewPasswordFields name="new_password" label="New password" repeat_label="Repeat new password"/>
        </PostForm>
    }
}
