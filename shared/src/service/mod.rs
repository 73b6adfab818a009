//! Use cases. Each takes the [`App`](crate::App) (its ports) and plain inputs, and returns a result
//! plus the pushes to make; none knows about Lambda or API Gateway event types.

pub mod auth;
pub mod connections;
pub mod conversations;
pub mod delivery;
pub mod fanout;
pub mod limits;
pub mod messaging;
pub mod presence;
pub mod receipts;
pub mod scheduling;
pub mod stats;
pub mod sync;
pub mod typing;
pub mod users;
