//! `message.created` from the bus (an EventBridge rule in template.yaml): SNS mobile push to the
//! devices of the members who are offline and have not muted the conversation.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chat::App;
use chat::domain::Message;
use chat::service::notifications;
use lambda_runtime::Error;
use serde_json::{Value, json};

pub async fn handle(app: &App, event: EventBridgeEvent<Value>) -> Result<Value, Error> {
    if event.detail_type != "message.created" {
        return Ok(json!({"skipped": event.detail_type}));
    }
    let message: Message = serde_json::from_value(event.detail)?;
    let report = notifications::notify(app, &message).await?;
    tracing::info!(message = %message.id, sent = report.sent, refreshed = report.refreshed, failed = report.failed, dropped = report.dropped, "push");
    Ok(json!({"sent": report.sent, "refreshed": report.refreshed, "failed": report.failed, "dropped": report.dropped}))
}
