//! One error shape (issue 12): every answer that is not a page is `{"error": code, "message":
//! text}` with the right status, whoever made it (a handler, the router, the framework); pages get
//! an HTML page in the product's look.

#[macro_use]
mod common;

use common::*;
use reqwest::{Method, StatusCode};

fn assert_error_shape(res: &Answer, status: StatusCode, code: &str) {
    assert_eq!(res.status, status, "{}", res.text);
    assert!(
        res.header("content-type").is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        res.header("content-type")
    );
    let body = res.json();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

backend_tests! {
    async fn unknown_api_paths_and_wrong_methods_answer_json(db) {
        let server = TestServer::start(&db).await;
        let http = server.raw();
        for path in ["/api/v1/nothing-here", "/api/nothing", "/api/fn/no_such_function", "/pkg/missing.wasm"] {
            let res = Answer::read(http.get(server.url(path)).send().await.unwrap()).await;
            assert_error_shape(&res, StatusCode::NOT_FOUND, "not_found");
        }
        let res = Answer::read(http.request(Method::PUT, server.url("/api/v1/me")).send().await.unwrap()).await;
        assert_error_shape(&res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(res.header("allow").is_some(), "405 says what is allowed");
        let res = Answer::read(http.post(server.url("/api/v1/login")).body("{}").send().await.unwrap()).await;
        assert_error_shape(&res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request");
        // The lean routes (health checks and the poll, served in front of the pages' layers) too.
        for path in ["/healthz", "/readyz", app::model::STATUS_PATH] {
            let res = Answer::read(http.post(server.url(path)).send().await.unwrap()).await;
            assert_error_shape(&res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
            for header in ["x-request-id", "x-content-type-options", "content-security-policy", "referrer-policy"] {
                assert!(res.header(header).is_some(), "{path}: {header}");
            }
        }
    }

    async fn the_lean_routes_carry_every_header_and_are_never_cached(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.sign_up("Ada", "ada@example.com").await;
        for path in ["/healthz", "/readyz", app::model::STATUS_PATH] {
            let res = browser.get(path).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
            assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
            for header in ["x-request-id", "x-content-type-options", "x-frame-options", "content-security-policy"] {
                assert!(res.header(header).is_some(), "{path}: {header}");
            }
        }
    }

    async fn an_unknown_page_is_an_html_page_in_the_products_look(db) {
        let server = TestServer::start(&db).await;
        let mut browser = server.sign_up("Ada", "ada@example.com").await;
        let res = browser.get("/no/such/page").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert!(res.header("content-type").is_some_and(|v| v.starts_with("text/html")));
        assert!(res.text.contains("<h1>Page not found</h1>"), "{}", res.text);
        assert!(res.text.contains("rel=\"stylesheet\""), "the product's style sheet: {}", res.text);
    }
}

mod facts_from_the_configuration {
    use super::*;

    backend_tests! {
        async fn pages_state_the_lifetimes_the_server_was_started_with(db) {
            let clock = app::ssr::ManualClock::new(T0);
            let args = ["--idle-timeout-minutes", "15", "--max-age-hours", "8", "--remembered-max-age-days", "7"];
            let server = TestServer::start_with(&db, clock, &args).await;
            let login = server.browser().get("/login").await;
            assert!(login.text.contains("You stay logged in for up to 7 days."), "{}", login.text);
            let mut browser = server.sign_up("Ada", "ada@example.com").await;
            let page = browser.get("/settings/sessions").await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(
                page.text.contains("after 15 minutes without activity, or 8 hours after login")
                    && page.text.contains("they last up to 7 days"),
                "{}",
                page.text
            );
        }
    }
}
