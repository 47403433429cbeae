//! The one error type every answer that is not a page carries.

use super::EndReason;
use serde::{Deserialize, Serialize};

/// Every error a user can meet, with a message they can act on. Server-side causes (SQL, I/O)
/// are logged and reach the user only as `Internal` or `Unavailable`.
/// On the wire every error is one JSON shape, `{"error": code, "message": text}` plus the fields
/// of its variant (`field`, `reason`, `retry_after_secs`): the JSON API, server functions and the
/// browser read the same thing. (Serialised by hand below so that `message` is always there;
/// deserialising ignores it and rebuilds it from the variant.)
#[derive(Deserialize, Clone, Debug, PartialEq, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AppError {
    #[error("Please log in.")]
    Unauthorized,
    #[error("The e-mail address or password is incorrect.")]
    InvalidCredentials,
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("That session does not exist.")]
    NotFound,
    #[error("That message does not exist.")]
    MessageNotFound,
    #[error("{message}")]
    Conflict { message: String },
    #[error("Your session has ended.")]
    SessionEnded { reason: EndReason },
    #[error("Too many attempts. Please try again later.")]
    TooManyAttempts,
    #[error("Too many new accounts from this address. Please try again later.")]
    TooManySignups { retry_after_secs: i64 },
    #[error("This request was refused because it did not come from this site.")]
    Forbidden,
    #[error("Postern is temporarily unavailable — nothing was changed, try again in a moment.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// Requests the server-function machinery could not take (arguments that do not decode, an
    /// unknown encoding). The text is the framework's, never a server-side cause.
    #[error("{message}")]
    #[serde(rename = "bad_request")]
    Request { message: String },
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation { field: field.to_string(), message: message.into() }
    }

    /// The field a validation error belongs to (the API answers it as `field`; forms show the
    /// message above their fields, and tests check which field was refused).
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Validation { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`), where the error itself
    /// knows (a sign-up limit lifts at a known time). Every other 429 and 503 gets the HTTP
    /// layer's value (a throttle's first wait: telling a guesser the exact time would help it).
    pub fn retry_after_secs(&self) -> Option<i64> {
        match self {
            AppError::TooManySignups { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized | AppError::InvalidCredentials | AppError::SessionEnded { .. } => 401,
            AppError::Validation { .. } => 400,
            AppError::NotFound | AppError::MessageNotFound => 404,
            AppError::Conflict { .. } => 409,
            AppError::TooManyAttempts | AppError::TooManySignups { .. } => 429,
            AppError::Forbidden => 403,
            AppError::Unavailable => 503,
            AppError::Internal => 500,
            AppError::Request { .. } => 400,
        }
    }

    /// The machine-readable code of the JSON API (`{"error": code}`).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Validation { .. } => "validation",
            AppError::NotFound => "not_found",
            AppError::MessageNotFound => "message_not_found",
            AppError::Conflict { .. } => "conflict",
            AppError::SessionEnded { .. } => "session_ended",
            AppError::TooManyAttempts => "too_many_attempts",
            AppError::TooManySignups { .. } => "too_many_signups",
            AppError::Forbidden => "forbidden",
            AppError::Unavailable => "unavailable",
            AppError::Internal => "internal",
            AppError::Request { .. } => "bad_request",
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("error", self.code())?;
        map.serialize_entry("message", &self.to_string())?;
        match self {
            AppError::Validation { field, .. } => map.serialize_entry("field", field)?,
            AppError::SessionEnded { reason } => map.serialize_entry("reason", reason)?,
            AppError::TooManySignups { retry_after_secs } => {
                map.serialize_entry("retry_after_secs", retry_after_secs)?
            }
            _ => {}
        }
        map.end()
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Request { message: format!("The request could not be completed: {value}") }
    }
}
