//! What the gateway re-creates when the emulator comes back empty (`recovery.rs` notices the table
//! is gone): the table and its queues, the table's stream with new shard readers (the old stream
//! went with the table, and its readers are stopped), the buses with their taps, the emulator's
//! platform applications, the attachments bucket and the JWT keys parameter. Everything gets the
//! name `local::start_with` gave it, so every URL and ARN the functions hold is valid again (moto
//! derives queue URLs, bus names and platform application ARNs from the names).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::bootstrap::LocalQueue;
use crate::invoke::Invoke;
use crate::schedules::Tasks;
use crate::template::Template;

pub struct Restore {
    /// The emulation's own SDK config (tagged, so a counting proxy does not bill the functions).
    pub sdk: aws_config::SdkConfig,
    pub endpoint: String,
    pub table: String,
    pub template: Template,
    pub visibility_timeout_secs: Option<i64>,
    /// What the stream's mappings invoke.
    pub invoker: Arc<dyn Invoke>,
    /// The attachments bucket's name, when the template has one.
    pub bucket: Option<String>,
    /// The JWT keys parameter the bootstrap made: (name, value).
    pub jwt_keys: Option<(String, String)>,
    /// The stream's shard readers; replaced when the stream is re-created.
    pub readers: Mutex<Tasks>,
}

impl Restore {
    /// Re-creates every resource; safe to repeat (each step accepts what already exists).
    pub async fn run(&self) -> Result<(), String> {
        let dynamo = aws_sdk_dynamodb::Client::new(&self.sdk);
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        // The table last but for its stream: the functions (and `/health`) see the table come
        // back only once the queues, buses, applications, bucket and keys are there.
        let queues: BTreeMap<String, LocalQueue> = crate::bootstrap::create_queues(
            &sqs,
            &self.table,
            &self.template.events.queues,
            self.visibility_timeout_secs,
        )
        .await?;
        crate::bus::create(&self.sdk, &self.table, &self.template.bus).await?;
        crate::bus::local_platform_applications(&self.sdk, &self.table).await?;
        if let (Some(name), Some(definition)) = (&self.bucket, &self.template.bucket) {
            crate::bootstrap::create_bucket(&self.sdk, name, definition).await?;
        }
        if let Some((name, value)) = &self.jwt_keys {
            chat::aws::jwt_keys::put(&self.sdk, name, value)
                .await
                .map_err(|e| format!("cannot re-create the JWT keys parameter: {}", e.message))?;
        }
        crate::bootstrap::create_table(&dynamo, &self.table, &self.template.table).await?;
        let stream =
            crate::streams::enable(&dynamo, &self.table, &self.template.table.logical_id, &self.template.streams)
                .await?;
        if let Some(stream) = stream {
            let readers = crate::streams::start(
                self.invoker.clone(),
                &self.endpoint,
                sqs,
                &stream,
                &self.template.streams.mappings,
                &queues,
            )
            .await?;
            // The old readers read a stream that no longer exists: dropping them stops them.
            *self.readers.lock().unwrap() = readers;
        }
        Ok(())
    }
}
