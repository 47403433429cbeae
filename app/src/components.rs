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

/// The error of a server action, if its last run failed.
pub fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// Whether the last run of a server action succeeded.
pub fn action_succeeded<I, O>(action: ServerAction<I>) -> Signal<bool>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || matches!(action.value().get(), Some(Ok(_))))
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
                "At least 8 characters. A phrase of several unrelated words is strong and easy to remember."
            </p>
        </div>
        <div class="field">
            <label for=repeat.clone()>{repeat_label}</label>
            <input id=repeat.clone() name=repeat type="password" autocomplete="new-password" required
                maxlength=limits::PASSWORD_MAX/>
        </div>
    }
}
