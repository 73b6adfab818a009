//! Where domain events go: the project's EventBridge bus.

use async_trait::async_trait;

use crate::domain::event::Envelope;
use crate::error::Result;

#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes every event (in batches the bus accepts, retrying failed entries); returns the
    /// indexes of `events` that still failed.
    async fn publish(&self, events: &[Envelope]) -> Result<Vec<usize>>;
}
