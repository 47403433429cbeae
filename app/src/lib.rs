//! Postern's application: shared types, pages and server functions. Server-only code lives in
//! [`ssr`], compiled only with the `ssr` feature.
//!
//! Islands mode: the router and every page render on the server only; the browser hydrates just
//! the `#[island]` components (the session watcher, the forms, the sessions list), so every link
//! is a full page load and the WASM holds only what those islands need.

pub mod api;
#[cfg(feature = "hydrate")]
pub mod client;
pub mod components;
#[cfg(feature = "hydrate")]
pub mod local_time;
pub mod model;
pub mod pages;
pub mod time_fmt;

#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::csp::set_for_page(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                // No favicon request (and no 404 in the console).
                <link rel="icon" href="data:,"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/postern.css"/>
        <Title formatter=|text| format!("{text} – Postern")/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::auth::LoginPage/>
                <Route path=path!("/signup") view=pages::auth::SignupPage/>
                // Async: the page is rendered once its data is there and sent whole, so it works
                // without JavaScript (out-of-order streaming would need JS to swap content in), and
                // a page this small gains nothing from streaming but the cost of it.
                <ParentRoute path=path!("") view=pages::shell::Shell ssr=SsrMode::Async>
                    <Route path=path!("") view=pages::inbox::Mailbox/>
                    <Route path=path!("inbox/:id") view=pages::inbox::MessagePage/>
                    <ParentRoute path=path!("settings") view=pages::settings::SettingsLayout>
                        <Route path=path!("") view=pages::settings::SettingsHome/>
                        <Route path=path!("sessions") view=pages::sessions::SessionsPage/>
                        <Route path=path!("sessions/end") view=pages::session_confirm::ConfirmEndPage/>
                        <Route path=path!("sessions/rename") view=pages::session_confirm::RenamePage/>
                        <Route path=path!("activity") view=pages::activity::ActivityPage/>
                        <Route path=path!("password") view=pages::settings::PasswordPage/>
                    </ParentRoute>
                    <Route path=path!("account") view=pages::account::MyAccountPage/>
                    <Route path=path!("account/security") view=pages::account::SecurityPage/>
                    <Route path=path!("account/secure") view=pages::account::SecurePage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
