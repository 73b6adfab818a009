//! The push function, from the bus (EventBridge rules in template.yaml): `message.created` sends
//! SNS mobile pushes to the devices of the members who are offline and have not muted the
//! conversation; `push.continuation` (put by this function when a conversation is bigger than one
//! invocation's budget) goes on from the member cursor where the last invocation stopped.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chat::App;
use chat::aws::eventbridge::PUSH_CONTINUATION;
use chat::domain::Message;
use chat::service::notifications;
use lambda_runtime::Error;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Continuation {
    message: Message,
    cursor: String,
}

pub async fn handle(app: &App, event: EventBridgeEvent<Value>) -> Result<Value, Error> {
    let (message, from) = match event.detail_type.as_str() {
        "message.created" => (serde_json::from_value::<Message>(event.detail)?, None),
        PUSH_CONTINUATION => {
            let c: Continuation = serde_json::from_value(event.detail)?;
            (c.message, Some(c.cursor))
        }
        other => return Ok(json!({"skipped": other})),
    };
    let continued = from.is_some();
    let report = notifications::notify(app, &message, from).await?;
    tracing::info!(message = %message.id, continued, sent = report.sent, refreshed = report.refreshed, failed = report.failed, handed_off = report.handed_off.is_some(), "push");
    Ok(
        json!({"sent": report.sent, "refreshed": report.refreshed, "failed": report.failed, "handedOff": report.handed_off.is_some()}),
    )
}
