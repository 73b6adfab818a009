//! The scheduler's three functions: the planner (daily EventBridge cron), the dispatcher
//! (EventBridge `rate(1 minute)`) and the worker (SQS event source, partial batch failures).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chat::App;
use chat::domain::schedule::ScheduledMessage;
use chat::domain::time;
use chat::protocol::scheduled::{DispatchReport, PlanReport};
use chat::service::scheduling::{self, WorkOutcome};
use futures::StreamExt;
use lambda_runtime::Error;

/// Records of one batch handled at once.
const WORKER_CONCURRENCY: usize = 10;

/// `scheduler-planner`: plans the automated messages of the event's UTC day (its scheduled time,
/// so a retried event plans the same day).
pub async fn plan(app: &App, event: EventBridgeEvent) -> Result<PlanReport, Error> {
    let run_at = event.time.unwrap_or_else(time::now);
    Ok(scheduling::plan(app, run_at).await?)
}

/// `scheduler-dispatcher`: moves every due scheduled message to SQS.
pub async fn dispatch(app: &App, _event: EventBridgeEvent) -> Result<DispatchReport, Error> {
    Ok(scheduling::dispatch(app, time::now()).await?)
}

/// `scheduler-worker`: sends each record's message; the records that failed (and only those)
/// are reported, so SQS redelivers them after the visibility timeout and, after the queue's
/// maxReceiveCount, moves them to the DLQ.
pub async fn work(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let failures: Vec<BatchItemFailure> = futures::stream::iter(event.records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            match work_one(app, &record).await {
                Ok(()) => None,
                Err(reason) => {
                    tracing::warn!(sqs_message = %id, %reason, "scheduled message failed; SQS will redeliver it");
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    Some(failure)
                }
            }
        })
        .buffer_unordered(WORKER_CONCURRENCY)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    Ok(response)
}

async fn work_one(app: &App, record: &SqsMessage) -> Result<(), String> {
    let body = record.body.as_deref().ok_or("record without a body")?;
    // A body that does not parse never will: it fails until the DLQ keeps it for inspection.
    let message: ScheduledMessage = serde_json::from_str(body).map_err(|e| format!("bad body: {e}"))?;
    if test_failure(app, &message, record) {
        return Err("failed on purpose (CHAT_TEST_FAIL_SCHEDULED)".into());
    }
    match scheduling::send_scheduled(app, &message).await {
        Ok(WorkOutcome::Sent { message_id, duplicate }) => {
            tracing::info!(scheduled = %message.id, message = %message_id, duplicate, "scheduled message sent");
            Ok(())
        }
        Ok(WorkOutcome::Failed(reason)) => {
            tracing::warn!(scheduled = %message.id, %reason, "scheduled message marked failed");
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// TEST ONLY (`CHAT_TEST_FAIL_SCHEDULED`, unset in every deployment): fail records whose content
/// contains the marker; `marker@N` fails only their first N receives.
fn test_failure(app: &App, message: &ScheduledMessage, record: &SqsMessage) -> bool {
    let Some(spec) = app.config.scheduling.test_fail_marker.as_deref() else { return false };
    let (marker, limit) = match spec.rsplit_once('@') {
        Some((marker, n)) if n.parse::<u32>().is_ok() => (marker, n.parse::<u32>().ok()),
        _ => (spec, None),
    };
    if !message.content.contains(marker) {
        return false;
    }
    let receives: u32 = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
    limit.is_none_or(|n| receives <= n)
}
