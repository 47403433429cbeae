//! Server-only code: the store, authentication and everything that touches secrets.

pub mod clock;
pub mod cookie;
pub mod csp;
pub mod dbsc;
pub mod device;
pub mod geo;
pub mod metrics;
pub mod password;
pub mod push;
pub mod request;
pub mod service;
pub mod store;
/// Test support (fresh databases of both backends, `backend_tests!`): only with the
/// `test-support` feature, which the test crates switch on and the server binary never does.
#[cfg(feature = "test-support")]
pub mod testing;
pub mod token;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use service::{AuthService, ClientInfo, CurrentSession, Resolved, SessionPolicy, ThrottlePolicy};
pub use store::Store;
