//! Runs before every page and server function: who the client is, which session it is in,
//! whether a state-changing request really comes from our own pages, what a request may send,
//! whose form errors a page may show, and the headers every answer carries.

pub mod client_ip;
pub mod essentials;
pub mod flash;
pub mod headers;
pub mod limits;
pub mod request_id;
pub mod session;

pub use client_ip::client_info;
pub use essentials::{Essentials, WithEssentials};
pub use flash::{flash_errors, FlashCookie};
pub use headers::HeaderPolicy;
pub use limits::{body_limit, is_non_page, non_page_error_as_json, server_fn_error_status, BodyLimits};
pub use session::{same_origin, session_layer};
