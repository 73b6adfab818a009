//! Local EventBridge: fires template.yaml's schedule rules on the wall clock, and
//! `POST /_local/schedules/{name}/run` (on the HTTP port) fires one now. Each firing invokes the
//! rule's function through the [`Invoke`]r with EventBridge's "Scheduled Event" JSON.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::account::{ACCOUNT_ID, REGION};
use crate::invoke::{Invoke, InvokeError};
use crate::template::events::ScheduleRule;

pub struct LocalSchedules {
    invoker: Arc<dyn Invoke>,
    rules: Vec<ScheduleRule>,
}

/// Aborts its tasks when dropped (the schedule clocks, the SQS pollers).
#[derive(Default)]
pub struct Tasks(pub Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// EventBridge's event for a scheduled rule.
pub fn scheduled_event(rule: &ScheduleRule, time: DateTime<Utc>) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::generate().to_string().to_lowercase(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{}", rule.rule_id)],
        "detail": {},
    })
}

impl LocalSchedules {
    pub fn new(invoker: Arc<dyn Invoke>, rules: Vec<ScheduleRule>) -> Arc<Self> {
        Arc::new(Self { invoker, rules })
    }

    pub fn rules(&self) -> &[ScheduleRule] {
        &self.rules
    }

    /// Invokes the rule's function now; its JSON answer, or the function's error.
    pub async fn fire(&self, rule: &ScheduleRule, time: DateTime<Utc>) -> Result<Value, InvokeError> {
        self.invoker.invoke(&rule.function, scheduled_event(rule, time)).await
    }

    pub fn find(&self, name: &str) -> Option<&ScheduleRule> {
        self.rules.iter().find(|r| r.name == name || r.rule_id == name)
    }

    /// One task per enabled rule, firing at the times EventBridge would (rate rules counted from
    /// now, as from a rule's creation). A firing that fails is logged; the next one still comes.
    pub fn start_clock(self: &Arc<Self>) -> Tasks {
        let started = Utc::now();
        let mut tasks = Tasks::default();
        for rule in self.rules.iter().filter(|r| r.enabled).cloned() {
            let this = self.clone();
            tasks.0.push(tokio::spawn(async move {
                let mut after = started;
                while let Some(at) = rule.expression.next_after(started, after) {
                    let wait = (at - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(wait).await;
                    after = at;
                    let this = this.clone();
                    let rule = rule.clone();
                    // EventBridge invokes asynchronously: a slow run never delays the next firing.
                    tokio::spawn(async move {
                        match this.fire(&rule, at).await {
                            Ok(answer) => tracing::info!(rule = %rule.name, %answer, "schedule fired"),
                            Err(message) => tracing::error!(rule = %rule.name, %message, "scheduled function failed"),
                        }
                    });
                }
            }));
        }
        tasks
    }

    /// `POST /_local/schedules/{name}/run`: fires the rule now and answers with what its function
    /// returned (`{rule, function, result}`); 404 for an unknown name, 502 when the function failed.
    pub fn admin_router(self: &Arc<Self>) -> Router {
        Router::new().route("/_local/schedules/{name}/run", post(run)).with_state(self.clone())
    }
}

async fn run(State(schedules): State<Arc<LocalSchedules>>, Path(name): Path<String>) -> Response {
    let Some(rule) = schedules.find(&name) else {
        let known: Vec<&str> = schedules.rules.iter().map(|r| r.name.as_str()).collect();
        let body = json!({"message": format!("no schedule named {name:?}"), "schedules": known});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    match schedules.fire(rule, Utc::now()).await {
        Ok(result) => {
            let body = json!({"rule": rule.name, "function": rule.function, "result": result});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(error) => {
            let body = json!({"rule": rule.name, "function": rule.function, "error": error.to_string()});
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}
