//! Sign-up and login. Both forms work without JavaScript too (plain form posts).

use crate::api::{LogIn, SignUp};
use crate::components::{action_error, FormError, NewPasswordFields};
use crate::model::limits;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<LogIn>::new();
    let error = action_error(login);
    view! {
        <Title text="Log in"/>
        <main class="center-page">
            <div class="card auth-card">
                <p class="brand-large">"Postern"</p>
                <h1>"Log in"</h1>
                <ActionForm action=login attr:class="stack" attr:novalidate=true>
                    <FormError error/>
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
                    <p class="hint">"Only on devices you alone use. You stay logged in for up to 30 days."</p>
                    <button type="submit" class="button primary" disabled=move || login.pending().get()>
                        "Log in"
                    </button>
                </ActionForm>
                <p class="alt-action">"New here? " <a href="/signup">"Create account"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let signup = ServerAction::<SignUp>::new();
    let error = action_error(signup);
    view! {
        <Title text="Create account"/>
        <main class="center-page">
            <div class="card auth-card">
                <p class="brand-large">"Postern"</p>
                <h1>"Create account"</h1>
                <ActionForm action=signup attr:class="stack" attr:novalidate=true>
                    <FormError error/>
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
                    <button type="submit" class="button primary" disabled=move || signup.pending().get()>
                        "Create account"
                    </button>
                </ActionForm>
                <p class="alt-action">"Already have an account? " <a href="/login">"Log in"</a></p>
            </div>
        </main>
    }
}
