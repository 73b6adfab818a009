//! The local EventBridge bus: the template's custom buses are created on the emulator (which
//! takes `PutEvents`), each with one catch-all rule into a tap queue; this reads the tap and does
//! what EventBridge does with each event: matches every rule of the template on that bus
//! (`pattern.rs`) and delivers to its targets, a function (invoked as EventBridge would) or an
//! API destination (the event JSON POSTed with the connection's API-key header). A failed
//! delivery is retried with exponential backoff up to the target's `RetryPolicy`, then written
//! to its dead-letter queue. Function errors count as failed deliveries (Lambda's asynchronous
//! retries, folded into the rule's policy).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageAttributeValue;
use serde_json::{Value, json};

use crate::account::{ACCOUNT_ID, REGION};
use crate::bootstrap::LocalQueue;
use crate::invoke::Invoke;
use crate::schedules::Tasks;
use crate::template::bus::{BusDefinitions, BusRule, BusTarget, TargetKind};

/// The first retry waits this long locally (EventBridge waits about a second); each next one twice
/// as long, at most `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const IDLE_POLL: Duration = Duration::from_millis(250);

/// A bus of the template as created on the endpoint.
#[derive(Debug, Clone)]
pub struct LocalBus {
    pub logical_id: String,
    pub name: String,
    tap_url: String,
}

/// The template's buses on the endpoint, named `{prefix}-{LogicalId}`, each with its tap.
pub async fn create(sdk: &aws_config::SdkConfig, prefix: &str, defs: &BusDefinitions) -> Result<Vec<LocalBus>, String> {
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    for id in &defs.buses {
        let name = format!("{prefix}-{id}");
        if let Err(e) = events.create_event_bus().name(&name).send().await
            && !e.as_service_error().is_some_and(|se| se.is_resource_already_exists_exception())
        {
            return Err(format!("CreateEventBus {name}: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)));
        }
        let tap = format!("{name}-tap");
        let tap_url = sqs
            .create_queue()
            .queue_name(&tap)
            .send()
            .await
            .map_err(|e| format!("CreateQueue {tap}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
            .queue_url
            .unwrap_or_default();
        let tap_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{tap}");
        events
            .put_rule()
            .name(&tap)
            .event_bus_name(&name)
            .event_pattern(json!({"account": [ACCOUNT_ID]}).to_string())
            .send()
            .await
            .map_err(|e| format!("PutRule {tap}: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        let target =
            aws_sdk_eventbridge::types::Target::builder().id("tap").arn(tap_arn).build().map_err(|e| e.to_string())?;
        events
            .put_targets()
            .rule(&tap)
            .event_bus_name(&name)
            .targets(target)
            .send()
            .await
            .map_err(|e| format!("PutTargets {tap}: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        out.push(LocalBus { logical_id: id.clone(), name, tap_url });
    }
    Ok(out)
}

/// Creates an emulator platform application for each platform whose template parameter is
/// empty, so pushes go somewhere readable locally (`GET /moto-api/data.json`); `(APNS, GCM)` ARNs.
pub async fn local_platform_applications(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
) -> Result<(String, String), String> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let mut arns = Vec::new();
    for platform in ["APNS", "GCM"] {
        let out = sns
            .create_platform_application()
            .name(format!("{prefix}-{}", platform.to_lowercase()))
            .platform(platform)
            .attributes("PlatformCredential", "local")
            .send()
            .await
            .map_err(|e| {
                format!("CreatePlatformApplication {platform}: {}", aws_sdk_sns::error::DisplayErrorContext(e))
            })?;
        arns.push(out.platform_application_arn.unwrap_or_default());
    }
    Ok((arns[0].clone(), arns[1].clone()))
}

#[derive(Clone)]
struct Delivery {
    invoker: Arc<dyn Invoke>,
    http: reqwest::Client,
    sqs: aws_sdk_sqs::Client,
    dead_letters: BTreeMap<String, LocalQueue>,
}

/// Reads each bus's tap and runs the template's rules on it; dropping the result stops it.
pub fn start(
    invoker: Arc<dyn Invoke>,
    sqs: aws_sdk_sqs::Client,
    buses: &[LocalBus],
    defs: &BusDefinitions,
    queues: &BTreeMap<String, LocalQueue>,
) -> Tasks {
    let delivery = Delivery { invoker, http: reqwest::Client::new(), sqs, dead_letters: queues.clone() };
    let mut tasks = Tasks::default();
    for bus in buses {
        let rules: Vec<BusRule> = defs.rules.iter().filter(|r| r.bus == bus.logical_id && r.enabled).cloned().collect();
        let (bus, delivery) = (bus.clone(), delivery.clone());
        tasks.0.push(tokio::spawn(async move {
            loop {
                match read_tap(&delivery, &bus, &rules).await {
                    Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                    Ok(_) => {}
                    Err(message) => {
                        tracing::warn!(bus = %bus.name, %message, "bus tap read failed");
                        tokio::time::sleep(IDLE_POLL * 10).await;
                    }
                }
            }
        }));
    }
    tasks
}

async fn read_tap(delivery: &Delivery, bus: &LocalBus, rules: &[BusRule]) -> Result<usize, String> {
    let out = delivery
        .sqs
        .receive_message()
        .queue_url(&bus.tap_url)
        .max_number_of_messages(10)
        .wait_time_seconds(0)
        .send()
        .await
        .map_err(|e| format!("ReceiveMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    let messages = out.messages.unwrap_or_default();
    for message in &messages {
        if let Ok(mut event) = serde_json::from_str::<Value>(message.body().unwrap_or_default()) {
            // The emulator's envelope lacks `account`; EventBridge's has it.
            if event.get("account").is_none() {
                event["account"] = json!(ACCOUNT_ID);
            }
            for rule in rules.iter().filter(|r| crate::pattern::matches(&r.pattern, &event)) {
                for target in &rule.targets {
                    tokio::spawn(delivery.clone().deliver(rule.name.clone(), target.clone(), event.clone()));
                }
            }
        }
        delivery
            .sqs
            .delete_message()
            .queue_url(&bus.tap_url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await
            .map_err(|e| format!("DeleteMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    }
    Ok(messages.len())
}

impl Delivery {
    /// One event to one target, with the target's retries, then its dead-letter queue.
    async fn deliver(self, rule: String, target: BusTarget, event: Value) {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            let error = match self.attempt(&target, &event).await {
                Ok(()) => return,
                Err(Failure::Final(e)) => e,
                Err(Failure::Retryable(e)) => {
                    let too_old = started.elapsed() + backoff > Duration::from_secs(target.max_event_age_secs);
                    if attempt < target.max_retry_attempts && !too_old {
                        tracing::info!(%rule, target = %target.id, attempt, error = %e, "delivery failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        attempt += 1;
                        continue;
                    }
                    e
                }
            };
            tracing::warn!(%rule, target = %target.id, attempts = attempt + 1, %error, "delivery gave up");
            self.dead_letter(&rule, &target, &event, &error).await;
            return;
        }
    }

    async fn attempt(&self, target: &BusTarget, event: &Value) -> Result<(), Failure> {
        match &target.kind {
            TargetKind::Lambda(function) => self
                .invoker
                .invoke(function, event.clone())
                .await
                .map(|_| ())
                .map_err(|e| Failure::Retryable(e.to_string())),
            TargetKind::ApiDestination { url, method, header } => {
                let method =
                    reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| Failure::Final(e.to_string()))?;
                let mut request = self
                    .http
                    .request(method, url)
                    .header("content-type", "application/json; charset=utf-8")
                    .timeout(Duration::from_secs(5))
                    .body(event.to_string());
                if let Some((name, value)) = header {
                    request = request.header(name.as_str(), value.as_str());
                }
                let response = request.send().await.map_err(|e| Failure::Retryable(e.to_string()))?;
                let status = response.status().as_u16();
                match status {
                    200..=299 => Ok(()),
                    // The statuses EventBridge retries for API destinations; other 4xx are final.
                    401 | 407 | 409 | 429 | 500..=599 => Err(Failure::Retryable(format!("HTTP {status}"))),
                    _ => Err(Failure::Final(format!("HTTP {status}"))),
                }
            }
        }
    }

    async fn dead_letter(&self, rule: &str, target: &BusTarget, event: &Value, error: &str) {
        let Some(queue) = target.dead_letter_queue.as_ref().and_then(|q| self.dead_letters.get(q)) else { return };
        let attribute = |v: &str| MessageAttributeValue::builder().data_type("String").string_value(v).build().ok();
        let mut send = self.sqs.send_message().queue_url(&queue.url).message_body(event.to_string());
        for (name, value) in [("RULE_ARN", rule), ("TARGET_ARN", target.id.as_str()), ("ERROR_MESSAGE", error)] {
            if let Some(v) = attribute(value) {
                send = send.message_attributes(name, v);
            }
        }
        if let Err(e) = send.send().await {
            tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "dead-letter queue unreachable");
        }
    }
}

enum Failure {
    Retryable(String),
    Final(String),
}
