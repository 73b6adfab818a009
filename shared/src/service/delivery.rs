//! Sends the pushes a use case asks for: concurrently, and forgetting connections that are gone.

use std::sync::Arc;

use futures::StreamExt;

use crate::App;
use crate::ports::PushOutcome;

/// Bounds in-flight Management API calls per invocation (API Gateway has account-level limits too).
const MAX_CONCURRENT_PUSHES: usize = 64;

#[derive(Debug, Clone)]
pub struct Push {
    pub user_id: String,
    pub connection_id: String,
    pub payload: Arc<str>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub gone: usize,
    pub failed: usize,
}

pub async fn deliver(app: &App, pushes: Vec<Push>) -> DeliveryReport {
    let outcomes: Vec<(Push, PushOutcome)> = futures::stream::iter(pushes)
        .map(|push| async move {
            let outcome = app.pusher.push(&push.connection_id, &push.payload).await;
            (push, outcome)
        })
        .buffer_unordered(MAX_CONCURRENT_PUSHES)
        .collect()
        .await;
    let mut report = DeliveryReport::default();
    let mut gone = Vec::new();
    for (push, outcome) in outcomes {
        match outcome {
            PushOutcome::Delivered => report.delivered += 1,
            PushOutcome::Gone => {
                report.gone += 1;
                gone.push(push);
            }
            PushOutcome::Failed(reason) => {
                report.failed += 1;
                tracing::warn!(connection = %push.connection_id, %reason, "push failed");
            }
        }
    }
    // A connection that API Gateway reports gone closed without a $disconnect we saw: forget it.
    let removals = gone.iter().map(|p| app.store.delete_connection(&p.user_id, &p.connection_id));
    for (push, result) in gone.iter().zip(futures::future::join_all(removals).await) {
        match result {
            Ok(()) => tracing::info!(connection = %push.connection_id, "removed gone connection"),
            Err(e) => tracing::warn!(connection = %push.connection_id, error = %e, "could not remove gone connection"),
        }
    }
    // Presence (users branch): a user whose last connection was gone is announced offline.
    if !gone.is_empty() {
        crate::service::presence::gone(app, &gone.iter().map(|p| p.user_id.clone()).collect::<Vec<_>>()).await;
    }
    report
}
