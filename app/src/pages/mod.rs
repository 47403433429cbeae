//! One module per page.

pub mod account;
pub mod activity;
pub mod auth;
pub mod inbox;
pub mod sessions;
pub mod settings;
pub mod shell;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <main class="center-page">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to your mailbox"</a></p>
        </main>
    }
}

/// The running server's session lifetimes. Pages render on the server only (islands), so the
/// browser build never needs them; it gets the defaults to compile.
pub(crate) fn lifetimes() -> crate::model::Lifetimes {
    #[cfg(feature = "ssr")]
    return crate::ssr::request::lifetimes();
    #[cfg(not(feature = "ssr"))]
    crate::model::Lifetimes::default()
}
