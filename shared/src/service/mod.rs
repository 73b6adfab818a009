//! Use cases. Each takes the [`App`](crate::App) (its ports) and plain inputs; none knows about
//! Lambda or API Gateway event types. One convention for what they return: the result, and when
//! the use case tells connections about it, the pushes beside it as `(result, Pushes)` (or
//! `Pushes` alone when there is nothing else to answer). The edges hand those to `push::deliver`.

pub mod auth;
pub mod connections;
pub mod conversations;
pub mod devices;
pub mod limits;
pub mod messaging;
pub mod presence;
pub mod push;
pub mod receipts;
pub mod scheduling;
pub mod stats;
pub mod sync;
pub mod typing;
pub mod users;
