//! Pushes to WebSocket connections (the API Gateway Management API).

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Delivered,
    /// API Gateway answered 410: the connection is gone and its record should go too.
    Gone,
    /// API Gateway answered 413: the payload is over its 128 KB per message.
    TooLarge,
    /// Throttled (429), a 5xx, a timeout or a connection failure: worth another try.
    Retryable(String),
    Failed(String),
}

#[async_trait]
pub trait Pusher: Send + Sync {
    async fn push(&self, connection_id: &str, payload: &str) -> PushOutcome;

    /// Learns the API's endpoint from a WebSocket event when the config does not name one.
    fn bind_endpoint(&self, _domain_name: &str, _stage: &str) {}
}
