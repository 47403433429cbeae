//! Small pieces used by several pages.

use crate::model::{limits, AppError};
use leptos::prelude::*;

/// The app's one confirmation dialog: a native modal `<dialog>`, so focus moves into it, stays
/// there, Esc cancels, and focus returns to the button that opened it.
#[component]
pub fn ConfirmDialog(
    #[prop(into)] open: Signal<bool>,
    #[prop(into)] title: Signal<String>,
    #[prop(into)] message: Signal<String>,
    on_ok: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let dialog_ref = NodeRef::<leptos::html::Dialog>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let want_open = open.get();
        if let Some(dialog) = dialog_ref.get() {
            if want_open && !dialog.open() {
                let _ = dialog.show_modal();
            } else if !want_open && dialog.open() {
                dialog.close();
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (open, dialog_ref);
    view! {
        <dialog
            node_ref=dialog_ref
            class="modal"
            role="dialog"
            aria-modal="true"
            aria-labelledby="confirm-title"
            aria-describedby="confirm-message"
            on:cancel=move |ev: leptos::ev::Event| {
                ev.prevent_default();
                on_cancel.run(());
            }
        >
            <h2 id="confirm-title">{title}</h2>
            <p id="confirm-message">{message}</p>
            <div class="modal-actions">
                <button type="button" class="button secondary" on:click=move |_| on_cancel.run(())>
                    "Cancel"
                </button>
                <button type="button" class="button danger" on:click=move |_| on_ok.run(())>
                    "OK"
                </button>
            </div>
        </dialog>
    }
}

/// The error of the last submission of a form, read out by screen readers as it appears.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
}

/// Server side: the error of a plain form post (no JavaScript yet) to `S`, which the server
/// function put into the URL it sent the browser back to. A form island gets it as a prop, so the
/// browser renders the same error the server did when it hydrates the island.
pub fn posted_error<S, O>() -> Option<AppError>
where
    S: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    ServerAction::<S>::new().value().get_untracked().and_then(|r| r.err())
}

/// A form that posts to the server function at `action`. Without JavaScript it is a plain form
/// post (the server redirects, errors come back in the URL: `error`); with it, it is submitted in
/// place: the button is disabled while waiting, an error shows above the fields, and so does
/// `success` after a successful submission, which also empties the fields. The fields are
/// `children`, rendered by the server; `submit` labels the button below them.
#[island]
pub fn PostForm(
    action: String,
    class: String,
    submit: String,
    success: Option<String>,
    error: Option<AppError>,
    children: Children,
) -> impl IntoView {
    let error = RwSignal::new(error);
    let done = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        crate::client::submit(ev, pending, move |result| {
            done.set(result.is_ok());
            error.set(result.err());
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <form action=action method="post" class=class novalidate=true on:submit=on_submit>
            <FormError error/>
            {move || {
                let text = success.clone().filter(|_| done.get())?;
                Some(view! { <p class="form-success" role="status">{text}</p> })
            }}
            {children()}
            <button type="submit" class="button primary" disabled=move || pending.get()>{submit}</button>
        </form>
    }
}

/// A trash can, for icon buttons; hidden from assistive technology (the button is labelled).
#[component]
pub fn TrashIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
            <path
                fill="currentColor"
                d="M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9zm4 2v8h2v-8h-2zm4 0v8h2v-8h-2z"
            ></path>
        </svg>
    }
}

/// "Current password", re-entered before a change of credentials.
#[component]
pub fn CurrentPasswordField() -> impl IntoView {
    view! {
        <div class="field">
            <label for="current_password">"Current password"</label>
            <input id="current_password" name="current_password" type="password"
                autocomplete="current-password" required maxlength=limits::PASSWORD_MAX/>
        </div>
    }
}

/// A new password and its repetition, with the policy hint: the same on sign-up and on change.
#[component]
pub fn NewPasswordFields(
    /// Form field name of the password; the repetition is `repeat_{name}`.
    name: &'static str,
    label: &'static str,
    repeat_label: &'static str,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    let repeat = format!("repeat_{name}");
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <input id=name name=name type="password" autocomplete="new-password" required
                minlength=limits::PASSWORD_MIN maxlength=limits::PASSWORD_MAX aria-describedby=hint_id.clone()/>
            <p class="hint" id=hint_id>
                {format!(
                    "At least {} characters. A phrase of several unrelated words is strong and easy to remember.",
                    limits::PASSWORD_MIN
                )}
            </p>
        </div>
        <div class="field">
            <label for=repeat.clone()>{repeat_label}</label>
            <input id=repeat.clone() name=repeat type="password" autocomplete="new-password" required
                maxlength=limits::PASSWORD_MAX/>
        </div>
    }
}
