//! Local SQS event-source mappings: for each `SQS` event of template.yaml, a poller that receives
//! up to `BatchSize` messages from the queue on the emulator, invokes the function with SQS's
//! event JSON (`aws_lambda_events::sqs::SqsEvent`), and deletes what succeeded. With
//! `ReportBatchItemFailures` only the records the function names stay in the queue; without it,
//! or when the function fails, the whole batch stays. What stays comes back after the visibility
//! timeout, and the queue's redrive policy (kept by the emulator) moves it to the DLQ after
//! `maxReceiveCount` receives: exactly the AWS behaviour, with nothing re-implemented here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Map, Value, json};

use crate::account::REGION;
use crate::bootstrap::LocalQueue;
use crate::invoke::Invoke;
use crate::schedules::Tasks;
use crate::template::events::QueueMapping;

/// ReceiveMessage returns at most 10 messages.
const RECEIVE_MAX: usize = 10;

#[derive(Debug, Clone)]
pub struct PollOptions {
    /// Pause after an empty receive. Short polling only: the local moto launcher serialises
    /// requests, so a long poll would hold every other AWS call up.
    pub interval: Duration,
    /// Concurrent pollers per mapping (Lambda runs several).
    pub pollers: usize,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self { interval: Duration::from_millis(200), pollers: 2 }
    }
}

/// Starts the pollers of every mapping; dropping the result stops them.
pub fn start(
    invoker: Arc<dyn Invoke>,
    sqs: Client,
    mappings: &[QueueMapping],
    queues: &BTreeMap<String, LocalQueue>,
    options: PollOptions,
) -> Result<Tasks, String> {
    let mut tasks = Tasks::default();
    for mapping in mappings {
        let queue = queues
            .get(&mapping.queue)
            .cloned()
            .ok_or_else(|| format!("{}: queue {} not created", mapping.name, mapping.queue))?;
        for _ in 0..options.pollers.max(1) {
            let (invoker, sqs, mapping, queue, options) =
                (invoker.clone(), sqs.clone(), mapping.clone(), queue.clone(), options.clone());
            tasks.0.push(tokio::spawn(async move {
                loop {
                    match poll_once(invoker.as_ref(), &sqs, &mapping, &queue).await {
                        Ok(0) => tokio::time::sleep(options.interval).await,
                        Ok(_) => {}
                        Err(message) => {
                            tracing::warn!(mapping = %mapping.name, %message, "SQS poll failed");
                            tokio::time::sleep(options.interval * 5).await;
                        }
                    }
                }
            }));
        }
    }
    Ok(tasks)
}

/// Receives one batch, invokes the function, deletes what succeeded. Returns the batch size.
pub async fn poll_once(
    invoker: &dyn Invoke,
    sqs: &Client,
    mapping: &QueueMapping,
    queue: &LocalQueue,
) -> Result<usize, String> {
    let mut batch: Vec<Message> = Vec::new();
    while batch.len() < mapping.batch_size {
        let want = (mapping.batch_size - batch.len()).min(RECEIVE_MAX);
        let out = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(want as i32)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {}", DisplayErrorContext(e)))?;
        let got = out.messages.unwrap_or_default();
        let full = got.len() == want;
        batch.extend(got);
        if !full {
            break;
        }
    }
    if batch.is_empty() {
        return Ok(0);
    }
    let event = sqs_event(&batch, queue);
    let ids: HashSet<&str> = batch.iter().filter_map(|m| m.message_id()).collect();
    let failed: HashSet<String> = match invoker.invoke(&mapping.function, event).await {
        Err(e) => {
            tracing::warn!(mapping = %mapping.name, error = %e, "function failed: the whole batch stays in the queue");
            ids.iter().map(|s| s.to_string()).collect()
        }
        Ok(_) if !mapping.report_batch_item_failures => HashSet::new(),
        Ok(answer) => {
            let named: Vec<String> = answer["batchItemFailures"]
                .as_array()
                .map(|f| f.iter().map(|i| i["itemIdentifier"].as_str().unwrap_or_default().to_string()).collect())
                .unwrap_or_default();
            // Lambda treats an empty or unknown identifier as a failure of the whole batch.
            if named.iter().any(|n| !ids.contains(n.as_str())) {
                tracing::warn!(mapping = %mapping.name, "batchItemFailures names an unknown record: whole batch fails");
                ids.iter().map(|s| s.to_string()).collect()
            } else {
                named.into_iter().collect()
            }
        }
    };
    let done: Vec<&Message> = batch.iter().filter(|m| !failed.contains(m.message_id().unwrap_or_default())).collect();
    for chunk in done.chunks(RECEIVE_MAX) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        sqs.delete_message_batch()
            .queue_url(&queue.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| format!("DeleteMessageBatch: {}", DisplayErrorContext(e)))?;
    }
    Ok(batch.len())
}

/// The event Lambda's SQS poller sends: `{"Records": [...]}` with SQS's attribute names.
pub fn sqs_event(batch: &[Message], queue: &LocalQueue) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            let attributes: HashMap<String, String> = m
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect())
                .unwrap_or_default();
            let mut message_attributes = Map::new();
            for (name, value) in m.message_attributes().into_iter().flatten() {
                message_attributes.insert(
                    name.clone(),
                    json!({
                        "stringValue": value.string_value(),
                        "stringListValues": value.string_list_values(),
                        "binaryListValues": [],
                        "dataType": value.data_type(),
                    }),
                );
            }
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}
