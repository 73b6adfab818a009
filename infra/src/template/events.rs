//! What template.yaml says about events other than API Gateway: EventBridge schedule rules
//! (functions' `Schedule` / `ScheduleV2` events), SQS queues (with their redrive policy), and SQS
//! event-source mappings (functions' `SQS` events). The schedule runner (`schedules.rs`), the
//! queue bootstrap and the SQS poller (`sqs_mapping.rs`) use nothing else.
//!
//! Values are resolved by `intrinsics::Scope` (parameters, conditions); queues are named by
//! `!GetAtt Queue.Arn`.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::intrinsics::{self, Error, Scope};
use super::schedule_expression::ScheduleExpression;

#[derive(Debug, Clone, Default)]
pub struct EventDefinitions {
    pub schedules: Vec<ScheduleRule>,
    /// Logical id → queue.
    pub queues: BTreeMap<String, QueueDefinition>,
    pub queue_mappings: Vec<QueueMapping>,
    /// Environment variable → the queue whose URL (`!Ref`) a function gets in it.
    pub queue_env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRule {
    /// The event's logical id under the function's `Events` (what `/_local/schedules/{name}/run`
    /// takes).
    pub name: String,
    /// The logical id of the `AWS::Events::Rule` SAM generates: `{function}{event}`.
    pub rule_id: String,
    /// The cargo binary of the function the rule invokes.
    pub function: String,
    pub expression: ScheduleExpression,
    /// `State: DISABLED` / `Enabled: false`: not fired on the clock (still by hand).
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDefinition {
    pub logical_id: String,
    pub visibility_timeout: Option<i64>,
    pub message_retention_period: Option<i64>,
    pub delay_seconds: Option<i64>,
    pub redrive: Option<Redrive>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue.
    pub dead_letter_queue: String,
    pub max_receive_count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueMapping {
    /// The event's logical id under the function's `Events`.
    pub name: String,
    /// The cargo binary of the function the mapping invokes.
    pub function: String,
    /// Logical id of the queue.
    pub queue: String,
    pub batch_size: usize,
    pub report_batch_item_failures: bool,
}

impl EventDefinitions {
    /// `functions`: logical id → cargo binary, for every function of the template.
    pub fn parse(doc: &Value, scope: &Scope, functions: &BTreeMap<String, String>) -> Result<Self, Error> {
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;

        let mut out = EventDefinitions::default();
        for (id, r) in resources {
            let id = id.as_str().unwrap_or_default();
            if r.get("Type").and_then(Value::as_str) != Some("AWS::SQS::Queue") {
                continue;
            }
            let props = r.get("Properties");
            let prop = |k: &str| props.and_then(|p| p.get(k));
            if prop("FifoQueue").is_some() {
                return Err(format!("{id}: FIFO queues are not emulated"));
            }
            let redrive = match prop("RedrivePolicy") {
                None => None,
                Some(policy) => Some(Redrive {
                    dead_letter_queue: policy
                        .get("deadLetterTargetArn")
                        .and_then(intrinsics::arn_of)
                        .map(str::to_string)
                        .ok_or_else(|| format!("{id}: deadLetterTargetArn must be !GetAtt <Queue>.Arn"))?,
                    max_receive_count: scope
                        .number(policy.get("maxReceiveCount"), &format!("{id}.maxReceiveCount"))?
                        .ok_or_else(|| format!("{id}: RedrivePolicy without maxReceiveCount"))?,
                }),
            };
            out.queues.insert(
                id.to_string(),
                QueueDefinition {
                    logical_id: id.to_string(),
                    visibility_timeout: scope.number(prop("VisibilityTimeout"), &format!("{id}.VisibilityTimeout"))?,
                    message_retention_period: scope
                        .number(prop("MessageRetentionPeriod"), &format!("{id}.MessageRetentionPeriod"))?,
                    delay_seconds: scope.number(prop("DelaySeconds"), &format!("{id}.DelaySeconds"))?,
                    redrive,
                },
            );
        }
        for queue in out.queues.values() {
            if let Some(r) = &queue.redrive
                && !out.queues.contains_key(&r.dead_letter_queue)
            {
                return Err(format!("{}: dead-letter queue {} is not a queue", queue.logical_id, r.dead_letter_queue));
            }
        }

        for (id, r) in resources {
            let id = id.as_str().unwrap_or_default();
            if r.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let Some(binary) = functions.get(id) else { continue };
            let props = r.get("Properties");
            let variables = props.and_then(|p| p.get("Environment")).and_then(|e| e.get("Variables"));
            for (name, value) in variables.and_then(Value::as_mapping).into_iter().flatten() {
                if let Some(queue) = intrinsics::reference(value).filter(|t| out.queues.contains_key(*t)) {
                    out.queue_env.insert(name.as_str().unwrap_or_default().to_string(), queue.to_string());
                }
            }
            let events = props.and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for (event_id, event) in events.into_iter().flatten() {
                let event_id = event_id.as_str().unwrap_or_default();
                let what = format!("{id}.Events.{event_id}");
                let eprops = event.get("Properties");
                let eprop = |k: &str| eprops.and_then(|p| p.get(k));
                match event.get("Type").and_then(Value::as_str) {
                    Some("Schedule") | Some("ScheduleV2") => {
                        let expression = eprop("Schedule")
                            .or_else(|| eprop("ScheduleExpression"))
                            .ok_or_else(|| format!("{what}: no Schedule / ScheduleExpression"))?;
                        let expression = scope.scalar(expression, &what)?;
                        let enabled = match (eprop("State"), eprop("Enabled")) {
                            (Some(state), _) => scope.scalar(state, &what)? == "ENABLED",
                            (None, Some(enabled)) => scope.scalar(enabled, &what)? == "true",
                            (None, None) => true,
                        };
                        out.schedules.push(ScheduleRule {
                            name: event_id.to_string(),
                            rule_id: format!("{id}{event_id}"),
                            function: binary.clone(),
                            expression: ScheduleExpression::parse(&expression).map_err(|e| format!("{what}: {e}"))?,
                            enabled,
                        });
                    }
                    Some("SQS") => {
                        let queue = eprop("Queue")
                            .and_then(intrinsics::arn_of)
                            .filter(|q| out.queues.contains_key(*q))
                            .map(str::to_string)
                            .ok_or_else(|| format!("{what}: Queue must be !GetAtt <a queue of this template>.Arn"))?;
                        let batch_size = scope.number(eprop("BatchSize"), &what)?.unwrap_or(10);
                        if !(1..=10_000).contains(&batch_size) {
                            return Err(format!("{what}: BatchSize must be 1-10000"));
                        }
                        let mut report_batch_item_failures = false;
                        for t in eprop("FunctionResponseTypes").and_then(Value::as_sequence).into_iter().flatten() {
                            match t.as_str() {
                                Some("ReportBatchItemFailures") => report_batch_item_failures = true,
                                other => return Err(format!("{what}: unknown FunctionResponseTypes {other:?}")),
                            }
                        }
                        out.queue_mappings.push(QueueMapping {
                            name: event_id.to_string(),
                            function: binary.clone(),
                            queue,
                            batch_size: batch_size as usize,
                            report_batch_item_failures,
                        });
                    }
                    _ => {}
                }
            }
        }
        let mut names: Vec<&str> = out.schedules.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("two schedule events are named {}: names must be unique locally", w[0]));
        }
        Ok(out)
    }

    pub fn schedule(&self, name: &str) -> Option<&ScheduleRule> {
        self.schedules.iter().find(|s| s.name == name || s.rule_id == name)
    }
}
