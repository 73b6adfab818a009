//! Lambda handlers. Each binary in `src/bin/` builds an [`App`](chat::App) once and hands events
//! to one of these functions; the local gateway calls the very same functions through
//! [`registry::invoke`] with the JSON that API Gateway would send.

pub mod http;
pub mod registry;
pub mod scheduler;
pub mod ws;

pub use lambda_runtime::Error;
