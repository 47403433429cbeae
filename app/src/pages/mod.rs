//! One module per page.

pub mod account;
pub mod activity;
pub mod auth;
pub mod inbox;
pub mod session_confirm;
pub mod session_rows;
pub mod sessions;
pub mod settings;
pub mod shell;
/// The session watcher of every signed-in page: the event stream, the poll, the tabs.
#[cfg(feature = "hydrate")]
mod watcher;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="center-page">
            <NotFoundContent/>
        </main>
    }
}

/// "Page not found" with its 404 status, for a page inside the shell (which has the `<main>`).
#[component]
pub fn NotFoundContent() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <h1>"Page not found"</h1>
        <p><a href="/">"Back to your mailbox"</a></p>
    }
}

/// What a page reads on the server, read before the page renders instead of through a
/// `Resource` inside `<Suspense>`. Pages render on the server only (islands mode), so nothing is
/// gained by suspending; and leptos 0.8's Suspense has a race under a multi-threaded runtime that
/// leaves a small fraction of responses stalled mid-body for ever (leptos-rs/leptos#4851, #4578;
/// seen here as a Manage Sessions page that never finished in about one test run in five).
/// `block_in_place` lets the runtime move this worker's other tasks elsewhere while the page
/// waits for its query. The browser build never renders pages: it gets an error to compile.
pub(crate) fn load<T>(
    read: impl std::future::Future<Output = Result<T, crate::model::AppError>>,
) -> Result<T, crate::model::AppError> {
    #[cfg(feature = "ssr")]
    return tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(read));
    #[cfg(not(feature = "ssr"))]
    {
        drop(read);
        Err(crate::model::AppError::Internal)
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
