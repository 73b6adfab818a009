//! What template.yaml says about EventBridge buses beyond schedules: the custom buses, their
//! rules (`AWS::Events::Rule` on a bus, and functions' `EventBridgeRule` events) with their
//! patterns, and each rule's targets: a function of the template, or an API destination with
//! its connection's API-key header, each with its `RetryPolicy` and dead-letter queue. `bus.rs`
//! runs exactly these. Resources whose `Condition` is false do not exist, as in CloudFormation.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use serde_yaml_ng::Value;

use super::intrinsics::{self, Error, Scope};

#[derive(Debug, Clone, PartialEq)]
pub struct BusRule {
    /// The rule's logical id (`{Function}{Event}` for a function's `EventBridgeRule` event).
    pub name: String,
    /// Logical id of the bus.
    pub bus: String,
    pub pattern: Json,
    pub enabled: bool,
    pub targets: Vec<BusTarget>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BusTarget {
    pub id: String,
    pub kind: TargetKind,
    /// EventBridge's default is 185 retries over up to 24 hours.
    pub max_retry_attempts: u32,
    pub max_event_age_secs: u64,
    /// Logical id of the queue that gets events whose retries ran out.
    pub dead_letter_queue: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    /// The cargo binary of a function of the template.
    Lambda(String),
    ApiDestination {
        url: String,
        method: String,
        header: Option<(String, String)>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct BusDefinitions {
    /// Logical ids of the custom buses.
    pub buses: Vec<String>,
    /// Logical id of each archive → its bus (declared; archives are not emulated locally).
    pub archives: BTreeMap<String, String>,
    pub rules: Vec<BusRule>,
    /// Environment variable → the bus whose name (`!Ref`) a function gets in it.
    pub bus_env: BTreeMap<String, String>,
}

/// Whether a resource exists under the template's conditions.
fn exists(scope: &Scope, resource: &Value, what: &str) -> Result<bool, Error> {
    let Some(condition) = resource.get("Condition").and_then(Value::as_str) else { return Ok(true) };
    let test: Value = serde_yaml_ng::from_str(&format!("Fn::If: [{condition}, \"true\", \"false\"]"))
        .map_err(|e| format!("{what}: {e}"))?;
    Ok(scope.scalar(&test, what)? == "true")
}

fn json_of(v: &Value, what: &str) -> Result<Json, Error> {
    let json = serde_json::to_value(v).map_err(|e| format!("{what}: not plain JSON: {e}"))?;
    crate::pattern::validate(&json).map_err(|e| format!("{what}: {e}"))?;
    Ok(json)
}

impl BusDefinitions {
    pub fn parse(
        doc: &Value,
        scope: &Scope,
        functions: &BTreeMap<String, String>,
        queues: &BTreeMap<String, super::events::QueueDefinition>,
    ) -> Result<Self, Error> {
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;
        let of_type = |ty: &'static str| {
            resources
                .iter()
                .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
                .map(|(k, r)| (k.as_str().unwrap_or_default().to_string(), r))
        };
        let mut out = BusDefinitions::default();
        for (id, r) in of_type("AWS::Events::EventBus") {
            if exists(scope, r, &id)? {
                out.buses.push(id);
            }
        }
        for (id, r) in of_type("AWS::Events::Archive") {
            if !exists(scope, r, &id)? {
                continue;
            }
            let source = r.get("Properties").and_then(|p| p.get("SourceArn")).and_then(intrinsics::arn_of);
            if let Some(bus) = source.filter(|b| out.buses.iter().any(|x| x == b)) {
                out.archives.insert(id, bus.to_string());
            }
        }
        let bus_of = |v: Option<&Value>, what: &str| -> Result<String, Error> {
            v.and_then(intrinsics::reference)
                .filter(|b| out.buses.iter().any(|x| x == b))
                .map(str::to_string)
                .ok_or_else(|| format!("{what}: EventBusName must be !Ref <a bus of this template>"))
        };
        let dlq_of = |v: Option<&Value>, what: &str| -> Result<Option<String>, Error> {
            match v.and_then(|d| d.get("Arn")) {
                None => Ok(None),
                Some(arn) => intrinsics::arn_of(arn)
                    .filter(|q| queues.contains_key(*q))
                    .map(|q| Some(q.to_string()))
                    .ok_or_else(|| format!("{what}: DeadLetterConfig.Arn must be !GetAtt <a queue>.Arn")),
            }
        };
        let retry_of = |v: Option<&Value>, what: &str| -> Result<(u32, u64), Error> {
            let attempts = scope.number(v.and_then(|r| r.get("MaximumRetryAttempts")), what)?.unwrap_or(185);
            let age = scope.number(v.and_then(|r| r.get("MaximumEventAgeInSeconds")), what)?.unwrap_or(86_400);
            if !(0..=185).contains(&attempts) || !(60..=86_400).contains(&age) {
                return Err(format!("{what}: RetryPolicy out of EventBridge's ranges"));
            }
            Ok((attempts as u32, age as u64))
        };

        for (id, r) in of_type("AWS::Events::Rule") {
            let props = r.get("Properties");
            let prop = |k: &str| props.and_then(|p| p.get(k));
            // Schedule rules on the default bus are `events.rs`'s.
            if prop("EventBusName").is_none() || !exists(scope, r, &id)? {
                continue;
            }
            let bus = bus_of(prop("EventBusName"), &id)?;
            let pattern = json_of(prop("EventPattern").ok_or_else(|| format!("{id}: no EventPattern"))?, &id)?;
            let enabled = match prop("State") {
                Some(state) => scope.scalar(state, &id)? == "ENABLED",
                None => true,
            };
            let mut targets = Vec::new();
            for target in prop("Targets").and_then(Value::as_sequence).into_iter().flatten() {
                let tid = target.get("Id").and_then(Value::as_str).unwrap_or_default().to_string();
                let what = format!("{id}.Targets.{tid}");
                let arn = target
                    .get("Arn")
                    .and_then(intrinsics::arn_of)
                    .ok_or_else(|| format!("{what}: Arn must be !GetAtt X.Arn"))?;
                let kind = if let Some(binary) = functions.get(arn) {
                    TargetKind::Lambda(binary.clone())
                } else {
                    api_destination(resources, scope, arn, &what)?
                };
                let (max_retry_attempts, max_event_age_secs) = retry_of(target.get("RetryPolicy"), &what)?;
                let dead_letter_queue = dlq_of(target.get("DeadLetterConfig"), &what)?;
                targets.push(BusTarget { id: tid, kind, max_retry_attempts, max_event_age_secs, dead_letter_queue });
            }
            out.rules.push(BusRule { name: id, bus, pattern, enabled, targets });
        }

        for (id, r) in of_type("AWS::Serverless::Function") {
            let Some(binary) = functions.get(&id) else { continue };
            let props = r.get("Properties");
            let variables = props.and_then(|p| p.get("Environment")).and_then(|e| e.get("Variables"));
            for (name, value) in variables.and_then(Value::as_mapping).into_iter().flatten() {
                if let Some(bus) = intrinsics::reference(value).filter(|b| out.buses.iter().any(|x| x == b)) {
                    out.bus_env.insert(name.as_str().unwrap_or_default().to_string(), bus.to_string());
                }
            }
            let events = props.and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for (event_id, event) in events.into_iter().flatten() {
                if event.get("Type").and_then(Value::as_str) != Some("EventBridgeRule") {
                    continue;
                }
                let event_id = event_id.as_str().unwrap_or_default();
                let what = format!("{id}.Events.{event_id}");
                let eprop = |k: &str| event.get("Properties").and_then(|p| p.get(k));
                let bus = bus_of(eprop("EventBusName"), &what)?;
                let pattern = json_of(eprop("Pattern").ok_or_else(|| format!("{what}: no Pattern"))?, &what)?;
                let enabled = match eprop("State") {
                    Some(state) => scope.scalar(state, &what)? == "ENABLED",
                    None => true,
                };
                let (max_retry_attempts, max_event_age_secs) = retry_of(eprop("RetryPolicy"), &what)?;
                let dead_letter_queue = dlq_of(eprop("DeadLetterConfig"), &what)?;
                let target = BusTarget {
                    id: format!("{id}{event_id}LambdaTarget"),
                    kind: TargetKind::Lambda(binary.clone()),
                    max_retry_attempts,
                    max_event_age_secs,
                    dead_letter_queue,
                };
                out.rules.push(BusRule {
                    name: format!("{id}{event_id}"),
                    bus,
                    pattern,
                    enabled,
                    targets: vec![target],
                });
            }
        }
        Ok(out)
    }
}

/// The API destination `id` and its connection's API-key header.
fn api_destination(
    resources: &serde_yaml_ng::Mapping,
    scope: &Scope,
    id: &str,
    what: &str,
) -> Result<TargetKind, Error> {
    let resource = resources.get(id).ok_or_else(|| format!("{what}: {id} is not a resource"))?;
    if resource.get("Type").and_then(Value::as_str) != Some("AWS::Events::ApiDestination") {
        return Err(format!("{what}: {id} is neither a function nor an API destination"));
    }
    let props = resource.get("Properties");
    let prop = |k: &str| props.and_then(|p| p.get(k));
    let url =
        scope.scalar(prop("InvocationEndpoint").ok_or_else(|| format!("{what}: no InvocationEndpoint"))?, what)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{what}: InvocationEndpoint {url:?} is not an http(s) URL"));
    }
    let method = prop("HttpMethod").map(|m| scope.scalar(m, what)).transpose()?.unwrap_or_else(|| "POST".into());
    let connection = prop("ConnectionArn")
        .and_then(intrinsics::arn_of)
        .and_then(|c| resources.get(c))
        .ok_or_else(|| format!("{what}: ConnectionArn must be !GetAtt <a connection>.Arn"))?;
    let cprops = connection.get("Properties");
    let header = match cprops.and_then(|p| p.get("AuthorizationType")).and_then(Value::as_str) {
        Some("API_KEY") => {
            let key = cprops.and_then(|p| p.get("AuthParameters")).and_then(|a| a.get("ApiKeyAuthParameters"));
            let field = |k: &str| -> Result<String, Error> {
                scope.scalar(key.and_then(|a| a.get(k)).ok_or_else(|| format!("{what}: connection without {k}"))?, what)
            };
            Some((field("ApiKeyName")?, field("ApiKeyValue")?))
        }
        other => return Err(format!("{what}: connection AuthorizationType {other:?} is not emulated (API_KEY is)")),
    };
    Ok(TargetKind::ApiDestination { url, method, header })
}
