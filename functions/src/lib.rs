//! Lambda handlers. Each binary in `src/bin/` hands one of these functions to [`run`] (or
//! [`run_http`]), which builds an [`App`](chat::App) once and serves events with it; the local
//! gateway calls the very same functions through [`registry::invoke`] with the JSON that API
//! Gateway would send.

pub mod events;
pub mod http;
mod lambda;
pub mod push;
pub mod registry;
pub mod scheduler;
pub mod sweep;
pub mod ws;

pub use lambda::{Handler, run, run_http};
pub use lambda_runtime::Error;
