//! Recovery after the emulator restarts: moto keeps its state in memory (unless given a state
//! file), so a restarted or reset moto has no table and no queues and every route would fail until
//! the gateway restarted. This watch looks at the table once per interval and, when the endpoint
//! answers that it is missing, re-creates every resource of the template.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

/// Re-creates whatever is missing; an error is logged and retried on the next tick.
pub type Recreate = Box<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Checks `table` every `interval` and runs `recreate` when DynamoDB says it does not exist (an
/// unreachable endpoint is waited out: there is nothing to create on it yet).
pub fn watch(
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
    interval: Duration,
    recreate: Recreate,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let missing = match dynamo.describe_table().table_name(&table).send().await {
                Ok(_) => false,
                Err(e) => e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()),
            };
            if missing {
                tracing::warn!(%table, "the table is gone (emulator restarted?): re-creating the template's resources");
                match recreate().await {
                    Ok(()) => tracing::info!(%table, "resources re-created"),
                    Err(message) => tracing::error!(%message, "re-creating the resources failed; retrying"),
                }
            }
        }
    })
}
