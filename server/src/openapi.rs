//! The OpenAPI 3.1 document of the JSON API, generated from the handlers so it cannot drift. Each
//! handler lists the statuses it can answer (`api.rs`); the error answers and the constraints
//! that attributes cannot express are built here. `server/tests/contract.rs` sends requests made
//! from this document to the live server and fails on any answer the document does not describe.

use crate::api;
use app::model::{EndReason, SessionKind};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::schema::{AllOfBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse};

/// Request bodies larger than this are refused with 413 (`lib.rs`, `BODY_LIMIT`; the contract
/// test checks the live server at this size and one byte more).
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

const DESCRIPTION: &str = "Bearer-token API for the mobile mail app. Every request is checked against the database: \
an ended session fails on its very next request.

**Errors** are JSON `{\"error\": code, \"message\": text}` (the `Error` schema), plus `field` for `validation` and \
`reason` for `session_ended`. Each response lists the codes it can carry. `message` is for people; programs read `error`.

**Headers**: every header a response lists is sent with every such response. API answers carry \
`Cache-Control: no-store`, except the body limit's 408 and 413 and a body that could not be read (400); \
429 and 503 carry `Retry-After` (seconds).

**Requests**: bodies are at most 16 KiB (`x-body-limit-bytes`; larger: 413) and must arrive within the server's \
read timeout (408). String lengths count Unicode code points. A request that this document calls valid is never \
refused as invalid (400, 422); every status an operation answers is listed with it.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Postern mail-app API", description = DESCRIPTION),
    paths(api::login, api::logout, api::me, api::sessions, api::end_session, api::rename_session, api::terminate_all, api::messages, crate::events::app_events),
    components(responses(
        BadRequest, LoginBadRequest, RenameBadRequest, EndSessionsBadRequest, LoginRefused, BearerRefused, NotFound, Conflict, RequestTimeout,
        PayloadTooLarge, UnsupportedMediaType, Unprocessable, TooManyAttempts, Internal, Unavailable
    )),
    modifiers(&Shapes)
)]
pub struct ApiDoc;

/// What attributes cannot say: the bearer scheme, the error shape, the end reasons (from the
/// domain enum, so a new reason appears here by itself), `Cache-Control` on the answers the
/// handlers write, and the body limit.
struct Shapes;

impl Modify for Shapes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.schemas.insert("Error".into(), error_schema().into());
        components.schemas.insert("EndReason".into(), end_reason_schema().into());
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                        response.headers.insert("Cache-Control".into(), no_store());
                    }
                }
            }
        }
        openapi
            .extensions
            .get_or_insert_with(Default::default)
            .merge(ExtensionsBuilder::new().add("x-body-limit-bytes", BODY_LIMIT_BYTES).build());
    }
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// The one error shape of every answer that is not a page (`AppError`'s serialisation).
fn error_schema() -> Object {
    ObjectBuilder::new()
        .description(Some("Every error answer. The response lists the codes it can carry; `field`, `reason` and `retry_after_secs` appear only with the codes that name them."))
        .property("error", string().description(Some("Machine-readable code.")))
        .property("message", string().description(Some("For people: what happened and what to do.")))
        .property("field", string().description(Some("`validation`: the request property at fault.")))
        .property("reason", Ref::from_schema_name("EndReason"))
        .property("retry_after_secs", ObjectBuilder::new().schema_type(Type::Integer).description(Some("Seconds until trying again makes sense (not used by this API's codes).")))
        .required("error")
        .required("message")
        .build()
}

fn end_reason_schema() -> Object {
    string()
        .description(Some("Why a session ended. The list can grow: a client must treat a value it does not know as \"ended\" (with a generic notice), never as an error."))
        .enum_values(Some(EndReason::ALL.map(EndReason::as_str)))
        .build()
}

/// `ApiSession.kind`, from the domain enum.
pub fn session_kind() -> Object {
    // A new kind stops this compiling until it is listed.
    const KINDS: [SessionKind; 2] = [SessionKind::Browser, SessionKind::App];
    let _exhaustive = |k: SessionKind| match k {
        SessionKind::Browser | SessionKind::App => (),
    };
    string()
        .description(Some("`app` for the mail app's logins, `browser` for the web pages'."))
        .enum_values(Some(KINDS.map(SessionKind::as_str)))
        .build()
}

/// What `validate_device_name` refuses, as characters of a JSON Schema class (ECMA-262 with the
/// `u` flag, as JSON Schema 2020-12 asks): control characters, the invisible formatting
/// characters of `is_invisible_formatting`, and the characters that NFC normalisation turns into
/// several (U+0958 → U+0915 U+093C), so that a name of 64 characters is still 64 once normalised.
/// The contract test checks every Unicode character against the server's rule.
const DEVICE_NAME_EXCLUDED: &str = concat!(
    r"\u{0}-\u{1F}\u{7F}-\u{9F}\u{61C}\u{180E}\u{200B}-\u{200F}\u{202A}-\u{202E}\u{2060}-\u{2064}\u{2066}-\u{2069}\u{FEFF}",
    r"\u{344}\u{958}-\u{95F}\u{9DC}-\u{9DD}\u{9DF}\u{A33}\u{A36}\u{A59}-\u{A5B}\u{A5E}\u{B5C}-\u{B5D}\u{F43}\u{F4D}",
    r"\u{F52}\u{F57}\u{F5C}\u{F69}\u{F73}\u{F75}-\u{F76}\u{F78}\u{F81}\u{F93}\u{F9D}\u{FA2}\u{FA7}\u{FAC}\u{FB9}",
    r"\u{2ADC}\u{FB1D}\u{FB1F}\u{FB2A}-\u{FB36}\u{FB38}-\u{FB3C}\u{FB3E}\u{FB40}-\u{FB41}\u{FB43}-\u{FB44}",
    r"\u{FB46}-\u{FB4E}\u{1D15E}-\u{1D164}\u{1D1BB}-\u{1D1C0}",
);

/// `LoginBody.device_name`: 1 to 64 characters once trimmed, at least one of them not white space.
pub fn device_name() -> Object {
    let x = DEVICE_NAME_EXCLUDED;
    string()
        .description(Some("What the app calls its device (\"Pixel 8\"); listed as \"Mail app on Pixel 8\". Trimmed and NFC-normalised by the server; no control characters, no invisible formatting characters (bidirectional controls, zero-width characters), not only white space."))
        .min_length(Some(1))
        .max_length(Some(app::model::limits::DEVICE_NAME_MAX))
        .pattern(Some(format!("^[^{x}]*[^\\s{x}][^{x}]*$")))
        .build()
}

/// A session's new name (`PATCH /api/v1/sessions/{id}`): the same rule as the login's
/// `device_name`, except that empty (or only white space) is allowed and means "the parsed device
/// again".
pub fn new_device_name() -> Object {
    let x = DEVICE_NAME_EXCLUDED;
    string()
        .description(Some("The name to show instead of the parsed device (\"Work laptop\"). Trimmed and NFC-normalised by the server; no control characters, no invisible formatting characters (bidirectional controls, zero-width characters). Empty, or only white space: the session goes back to the device parsed from its user agent."))
        .max_length(Some(app::model::limits::DEVICE_NAME_MAX))
        .pattern(Some(format!("^(\\s*|[^{x}]*[^\\s{x}][^{x}]*)$")))
        .build()
}

fn no_store() -> Header {
    HeaderBuilder::new()
        .schema(string().enum_values(Some(["no-store"])))
        .description(Some("Tokens, accounts and session lists are personal: no cache may keep them."))
        .build()
}

fn retry_after() -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait before trying again."))
        .build()
}

/// One code an error answer can carry, with the properties that code always has.
struct Code {
    code: &'static str,
    extra: &'static [(&'static str, Extra)],
}

#[derive(Clone, Copy)]
enum Extra {
    /// `reason`: an `EndReason`.
    Reason,
    /// `field`: one of these property names.
    Field(&'static [&'static str]),
}

const fn code(code: &'static str) -> Code {
    Code { code, extra: &[] }
}

fn code_schema(c: &Code) -> Schema {
    let mut own = ObjectBuilder::new().property("error", string().enum_values(Some([c.code])));
    for (name, extra) in c.extra {
        own = match extra {
            Extra::Reason => own.property(*name, Ref::from_schema_name("EndReason")),
            Extra::Field(fields) => own.property(*name, string().enum_values(Some(fields.iter().copied()))),
        }
        .required(*name);
    }
    Schema::AllOf(AllOfBuilder::new().item(Ref::from_schema_name("Error")).item(own).build())
}

/// A response header by name, made when the document is.
type NamedHeader = (&'static str, fn() -> Header);

/// An error answer: JSON of one of `codes`, with the headers every such answer carries.
fn error_response(description: &str, codes: &[Code], headers: &[NamedHeader]) -> RefOr<Response> {
    let schema: RefOr<Schema> = match codes {
        [one] => code_schema(one).into(),
        many => {
            let mut one_of = OneOfBuilder::new();
            for c in many {
                one_of = one_of.item(code_schema(c));
            }
            Schema::OneOf(one_of.build()).into()
        }
    };
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build());
    for (name, header) in headers {
        response = response.header(*name, header());
    }
    response.build().into()
}

const NO_STORE: NamedHeader = ("Cache-Control", no_store);
const RETRY_AFTER: NamedHeader = ("Retry-After", retry_after);

macro_rules! error_responses {
    ($( $(#[$doc:meta])* $name:ident: $description:literal, [$($code:expr),+], [$($header:expr),*]; )*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_response($description, &[$($code),+], &[$($header),*]))
                }
            }
        )*
    };
}

error_responses! {
    BadRequest: "The request could not be read: its body broke off, or a path parameter is not UTF-8.",
        [code("bad_request")], [];
    LoginBadRequest: "A field the server refused (`validation`, with `field`), malformed JSON or a body that could not be read (`bad_request`).",
        [Code { code: "validation", extra: &[("field", Extra::Field(&["device_name"]))] }, code("bad_request")], [];
    RenameBadRequest: "A name the server refused (`validation`, with `field`), malformed JSON or a body that could not be read (`bad_request`).",
        [Code { code: "validation", extra: &[("field", Extra::Field(&["device_name"]))] }, code("bad_request")], [];
    EndSessionsBadRequest: "`except` other than `current` (`validation`, with `field`), or a request that could not be read (`bad_request`).",
        [Code { code: "validation", extra: &[("field", Extra::Field(&["except"]))] }, code("bad_request")], [];
    LoginRefused: "Wrong e-mail address or password (which one is never said).",
        [code("invalid_credentials")], [NO_STORE];
    BearerRefused: "No token, an unknown one (`unauthorized`), or one whose session has ended (`session_ended`, with `reason`).",
        [code("unauthorized"), Code { code: "session_ended", extra: &[("reason", Extra::Reason)] }], [NO_STORE];
    NotFound: "No such session in the caller's account (never existed, or another account's).",
        [code("not_found")], [NO_STORE];
    Conflict: "The caller's own session: log out instead.",
        [code("conflict")], [NO_STORE];
    RequestTimeout: "The body did not arrive within the server's read timeout.",
        [code("request_timeout")], [];
    PayloadTooLarge: "The body is larger than 16 KiB.",
        [code("payload_too_large")], [];
    UnsupportedMediaType: "The body is not declared `Content-Type: application/json`.",
        [code("bad_request")], [NO_STORE];
    Unprocessable: "JSON of the wrong shape: a required property missing, or of the wrong type.",
        [code("bad_request")], [NO_STORE];
    TooManyAttempts: "Too many failed logins for this account, device or address: wait `Retry-After` seconds.",
        [code("too_many_attempts")], [NO_STORE, RETRY_AFTER];
    Internal: "A fault on the server's side; the cause is logged, never shown.",
        [code("internal")], [NO_STORE];
    Unavailable: "The database is unreachable or the login queue is full; nothing was changed.",
        [code("unavailable")], [NO_STORE, RETRY_AFTER];
}
