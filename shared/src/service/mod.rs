//! Use cases. Each takes the [`App`](crate::App) (its ports) and plain inputs, and returns a result
//! plus the pushes to make; none knows about Lambda or API Gateway event types.

pub mod auth;
pub mod connections;
pub mod delivery;
pub mod messaging;
pub mod scheduling;
