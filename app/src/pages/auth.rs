//! Sign-up and login. Both forms work without JavaScript too (plain form posts); with it, they
//! are submitted in place ([`PostForm`]).

use crate::api::{LogIn, SignUp};
use crate::components::{posted_error, NewPasswordFields, PostForm};
use crate::model::limits;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <Title text="Log in"/>
        <main class="center-page">
            <div class="card auth-card">
                <p class="brand-large">"Postern"</p>
                <h1>"Log in"</h1>
                <PostForm action=LogIn::PATH.into() class="stack".into() submit="Log in".into() success=None
                    error={posted_error::<LogIn, _>()}>
                    <div class="field">
                        <label for="email">"E-mail address"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required
                            maxlength=limits::EMAIL_MAX/>
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password"
                            required maxlength=limits::PASSWORD_MAX/>
                    </div>
                    <div class="checkbox">
                        <input id="remember" name="remember" type="checkbox" value="on"/>
                        <label for="remember">"Stay logged in"</label>
                    </div>
                    <p class="hint">{format!(
                        "Only on devices you alone use. You stay logged in for up to {}.",
                        crate::time_fmt::duration_words(super::lifetimes().remembered_max_age_ms)
                    )}</p>
                </PostForm>
                <p class="alt-action">"New here? " <a href="/signup">"Create account"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    view! {
        <Title text="Create account"/>
        <main class="center-page">
            <div class="card auth-card">
                <p class="brand-large">"Postern"</p>
                <h1>"Create account"</h1>
                <PostForm action=SignUp::PATH.into() class="stack".into() submit="Create account".into() success=None
                    error={posted_error::<SignUp, _>()}>
                    <div class="field">
                        <label for="name">"Name"</label>
                        <input id="name" name="name" type="text" autocomplete="name" required maxlength=limits::NAME_MAX/>
                    </div>
                    <div class="field">
                        <label for="email">"E-mail address"</label>
                        <input id="email" name="email" type="email" autocomplete="email" required
                            maxlength=limits::EMAIL_MAX/>
                    </div>
                    <NewPasswordFields name="password" label="Password" repeat_label="Repeat password"/>
                </PostForm>
                <p class="alt-action">"Already have an account? " <a href="/login">"Log in"</a></p>
            </div>
        </main>
    }
}
