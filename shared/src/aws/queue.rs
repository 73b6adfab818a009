//! The SQS queue of scheduled messages (the dispatcher's side).

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::error::{ChatError, Result};
use crate::ports::{Queue, QueueEntry};

/// SendMessageBatch takes at most 10 entries.
pub const MAX_BATCH: usize = 10;

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: String) -> Self {
        Self { client, url }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_batch(&self, entries: &[QueueEntry]) -> Result<Vec<String>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if entries.len() > MAX_BATCH {
            return Err(ChatError::internal(format!("SendMessageBatch takes at most {MAX_BATCH} entries")));
        }
        let mut batch = Vec::with_capacity(entries.len());
        for entry in entries {
            batch.push(
                SendMessageBatchRequestEntry::builder()
                    .id(&entry.id)
                    .message_body(&entry.body)
                    .delay_seconds(entry.delay_secs.clamp(0, 900))
                    .build()
                    .map_err(ChatError::internal)?,
            );
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(batch))
            .send()
            .await
            .map_err(|e| ChatError::internal(DisplayErrorContext(e)))?;
        let failed: Vec<String> = out.failed().iter().map(|f| f.id().to_string()).collect();
        for f in out.failed() {
            tracing::warn!(id = f.id(), code = f.code(), message = ?f.message(), "SQS refused a scheduled message");
        }
        Ok(failed)
    }
}
