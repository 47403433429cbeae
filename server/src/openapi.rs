//! The OpenAPI 3.1 document of the JSON API, generated from the handlers so it cannot drift.

use crate::api;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Postern mail-app API", description = "Bearer-token API for the mobile mail app. Every request is checked against the database: an ended session fails on its very next request."),
    paths(api::login, api::logout, api::me, api::sessions, api::end_session, api::terminate_all),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
