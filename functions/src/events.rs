//! The table's stream (DynamoDB event-source mapping, filtered in template.yaml): changes become
//! the contract's domain events on the bus. The answer names the first record to retry
//! (`ReportBatchItemFailures`), so a record that cannot be published holds up only itself and
//! what follows it, never what came before.
//!
//! This is the one function on the stream (a shard serves two readers at most): off-path work
//! over the same changes (counters, aggregates) belongs here as another step over `records`,
//! its first failure merged with the one below by taking the earlier sequence number.

use chat::App;
use chat::aws::dynamo::stream::{self, StreamRecord};
use chat::service::events::{self, Change};
use lambda_runtime::Error;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    records: Vec<Value>,
}

pub async fn handle(app: &App, event: StreamEvent) -> Result<Value, Error> {
    let mut changes = Vec::with_capacity(event.records.len());
    for raw in event.records {
        let record: StreamRecord =
            serde_json::from_value(raw.clone()).map_err(|e| format!("not a DynamoDB stream record ({e}): {raw}"))?;
        let event = stream::domain_event(&record);
        changes.push(Change { sequence_number: record.dynamodb.sequence_number, event });
    }
    let failed = events::publish(app, changes).await?;
    let failures: Vec<Value> = failed.into_iter().map(|seq| json!({"itemIdentifier": seq})).collect();
    Ok(json!({ "batchItemFailures": failures }))
}
