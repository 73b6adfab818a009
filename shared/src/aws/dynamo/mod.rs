//! The DynamoDB store: one table (key formats in `aws/keys.rs`), one file per aggregate, each
//! implementing its ports; what they share (item conversion, expiry, BatchGetItem, failed
//! conditions and named transaction items) is in `common.rs`. Every access pattern and its cost
//! is in docs/data-model.md.

use aws_sdk_dynamodb::Client;

mod audience;
mod common;
mod connections;
mod conversations;
mod devices;
mod members;
mod messages;
mod notifications;
mod presence;
mod profiles;
mod rate_limit;
mod refresh_tokens;
mod schedule;
mod stats;
mod users;

/// Implements every storage port of `ports` on the single table.
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}
