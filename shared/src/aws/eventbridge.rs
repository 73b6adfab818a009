//! `EventPublisher` on EventBridge: `PutEvents` to the bus in requests of at most 10 entries
//! (EventBridge's limit), entries that fail retried with backoff; what still fails is reported
//! by index so the stream mapping redelivers only from there. The push function's hand-off of a
//! big conversation (`PushHandOff`) is one more entry on the same bus.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::domain::Message;
use crate::domain::event::{Envelope, SOURCE};
use crate::error::{ChatError, Result};
use crate::ports::{EventPublisher, PushHandOff};

/// The push function's own events: not `chat`, so integrators' rules (`source: [chat]`) and the
/// webhook never see them.
pub const PUSH_SOURCE: &str = "chat.push";
pub const PUSH_CONTINUATION: &str = "push.continuation";

/// PutEvents takes at most 10 entries per request.
pub const PUT_EVENTS_MAX: usize = 10;
/// Attempts per entry (the first and two retries) before it is reported failed.
const ATTEMPTS: u32 = 3;

pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: String) -> Self {
        Self { client, bus }
    }

    fn entry(&self, envelope: &Envelope) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(envelope.event.detail_type())
            .detail(envelope.detail().to_string())
            .build()
    }

    /// One request; the indexes (into `batch`) of the entries it failed.
    async fn put(&self, events: &[Envelope], batch: &[usize]) -> Result<Vec<usize>> {
        let entries = batch.iter().map(|&i| self.entry(&events[i])).collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| ChatError::internal(DisplayErrorContext(e)))?;
        if out.failed_entry_count == 0 {
            return Ok(Vec::new());
        }
        // Result entries are in request order; a failed one carries an error code.
        Ok(out
            .entries()
            .iter()
            .zip(batch)
            .filter(|(result, _)| result.error_code().is_some() || result.event_id().is_none())
            .map(|(_, &i)| i)
            .collect())
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[Envelope]) -> Result<Vec<usize>> {
        let mut pending: Vec<usize> = (0..events.len()).collect();
        for attempt in 0..ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let mut failed = Vec::new();
            for batch in pending.chunks(PUT_EVENTS_MAX) {
                match self.put(events, batch).await {
                    Ok(mut f) => failed.append(&mut f),
                    // A failed request (throttled, network): all of it is retried.
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "PutEvents failed");
                        failed.extend_from_slice(batch);
                    }
                }
            }
            pending = failed;
        }
        pending.sort_unstable();
        Ok(pending)
    }
}

#[async_trait]
impl PushHandOff for EventBridgePublisher {
    async fn hand_off(&self, message: &Message, cursor: &str) -> Result<()> {
        let detail = serde_json::json!({"message": message, "cursor": cursor});
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(PUSH_SOURCE)
            .detail_type(PUSH_CONTINUATION)
            .detail(detail.to_string())
            .build();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            match self.client.put_events().entries(entry.clone()).send().await {
                Ok(out) if out.failed_entry_count == 0 => return Ok(()),
                Ok(out) => {
                    tracing::warn!(attempt, error = ?out.entries().first().and_then(|e| e.error_code()), "push hand-off refused")
                }
                Err(e) => tracing::warn!(attempt, error = %DisplayErrorContext(e), "push hand-off failed"),
            }
        }
        // The invocation fails, and EventBridge retries it (the members before the cursor may then
        // get a second push: a duplicate notification, never a missing one).
        Err(ChatError::internal("the push continuation could not be put on the bus"))
    }
}
