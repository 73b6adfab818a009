//! What template.yaml says about the table's stream and the functions reading it: the table's
//! `StreamSpecification`, and each function's `DynamoDB` events (an event-source mapping) with
//! `BatchSize`, `MaximumBatchingWindowInSeconds`, `FilterCriteria`, `FunctionResponseTypes`,
//! `BisectBatchOnFunctionError`, `MaximumRetryAttempts` and the on-failure destination (a queue
//! of the template). `streams.rs` runs exactly these.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use serde_yaml_ng::Value;

use super::intrinsics::{self, Error, Scope};

#[derive(Debug, Clone, PartialEq)]
pub struct StreamMapping {
    /// The event's logical id under the function's `Events`.
    pub name: String,
    /// The cargo binary of the function the mapping invokes.
    pub function: String,
    /// Logical id of the table whose stream it reads.
    pub table: String,
    /// TRIM_HORIZON or LATEST.
    pub starting_position: String,
    pub batch_size: usize,
    pub batching_window_secs: u64,
    /// Lambda event filtering: a record is passed on when it matches any of these patterns.
    pub filters: Vec<Json>,
    pub report_batch_item_failures: bool,
    pub bisect_on_error: bool,
    /// -1: retry until the record expires from the stream (24 h), as Lambda does.
    pub max_retry_attempts: i64,
    /// Logical id of the queue failed batches are described to.
    pub on_failure_queue: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StreamDefinitions {
    /// Table logical id → `StreamViewType`, for each table with a stream.
    pub tables: BTreeMap<String, String>,
    pub mappings: Vec<StreamMapping>,
}

impl StreamDefinitions {
    pub fn parse(
        doc: &Value,
        scope: &Scope,
        functions: &BTreeMap<String, String>,
        queues: &BTreeMap<String, super::events::QueueDefinition>,
    ) -> Result<Self, Error> {
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;
        let mut out = StreamDefinitions::default();
        for (id, r) in resources {
            let id = id.as_str().unwrap_or_default();
            if r.get("Type").and_then(Value::as_str) != Some("AWS::DynamoDB::Table") {
                continue;
            }
            let spec = r.get("Properties").and_then(|p| p.get("StreamSpecification"));
            if let Some(view) = spec.and_then(|s| s.get("StreamViewType")) {
                out.tables.insert(id.to_string(), scope.scalar(view, &format!("{id}.StreamViewType"))?);
            }
        }
        for (id, r) in resources {
            let id = id.as_str().unwrap_or_default();
            let Some(binary) = functions.get(id) else { continue };
            let events = r.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for (event_id, event) in events.into_iter().flatten() {
                if event.get("Type").and_then(Value::as_str) != Some("DynamoDB") {
                    continue;
                }
                let event_id = event_id.as_str().unwrap_or_default();
                let what = format!("{id}.Events.{event_id}");
                out.mappings.push(parse_mapping(
                    event_id,
                    binary,
                    event.get("Properties"),
                    scope,
                    &what,
                    &out,
                    queues,
                )?);
            }
        }
        Ok(out)
    }
}

fn parse_mapping(
    name: &str,
    function: &str,
    props: Option<&Value>,
    scope: &Scope,
    what: &str,
    defs: &StreamDefinitions,
    queues: &BTreeMap<String, super::events::QueueDefinition>,
) -> Result<StreamMapping, Error> {
    let prop = |k: &str| props.and_then(|p| p.get(k));
    let table = prop("Stream")
        .and_then(|s| match intrinsics::call(s) {
            Some((f, Value::String(arg))) if f == "GetAtt" => arg.strip_suffix(".StreamArn").map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| format!("{what}: Stream must be !GetAtt <Table>.StreamArn"))?;
    if !defs.tables.contains_key(&table) {
        return Err(format!("{what}: table {table} has no StreamSpecification"));
    }
    let starting_position = prop("StartingPosition")
        .map(|v| scope.scalar(v, what))
        .transpose()?
        .ok_or_else(|| format!("{what}: StartingPosition is required"))?;
    if !matches!(starting_position.as_str(), "TRIM_HORIZON" | "LATEST") {
        return Err(format!("{what}: StartingPosition must be TRIM_HORIZON or LATEST"));
    }
    let batch_size = scope.number(prop("BatchSize"), what)?.unwrap_or(100);
    if !(1..=10_000).contains(&batch_size) {
        return Err(format!("{what}: BatchSize must be 1-10000"));
    }
    let window = scope.number(prop("MaximumBatchingWindowInSeconds"), what)?.unwrap_or(0);
    if !(0..=300).contains(&window) {
        return Err(format!("{what}: MaximumBatchingWindowInSeconds must be 0-300"));
    }
    let mut filters = Vec::new();
    let criteria = prop("FilterCriteria").and_then(|c| c.get("Filters")).and_then(Value::as_sequence);
    for filter in criteria.into_iter().flatten() {
        let pattern = filter.get("Pattern").ok_or_else(|| format!("{what}: a filter without Pattern"))?;
        let text = scope.scalar(pattern, what)?;
        let pattern: Json = serde_json::from_str(&text).map_err(|e| format!("{what}: Pattern is not JSON: {e}"))?;
        crate::pattern::validate(&pattern).map_err(|e| format!("{what}: {e}"))?;
        filters.push(pattern);
    }
    if filters.len() > 5 {
        return Err(format!("{what}: at most 5 filters"));
    }
    let mut report_batch_item_failures = false;
    for t in prop("FunctionResponseTypes").and_then(Value::as_sequence).into_iter().flatten() {
        match t.as_str() {
            Some("ReportBatchItemFailures") => report_batch_item_failures = true,
            other => return Err(format!("{what}: unknown FunctionResponseTypes {other:?}")),
        }
    }
    let bisect_on_error = match prop("BisectBatchOnFunctionError") {
        Some(v) => scope.scalar(v, what)? == "true",
        None => false,
    };
    let max_retry_attempts = scope.number(prop("MaximumRetryAttempts"), what)?.unwrap_or(-1);
    if !(-1..=10_000).contains(&max_retry_attempts) {
        return Err(format!("{what}: MaximumRetryAttempts must be -1-10000"));
    }
    let on_failure_queue = match prop("DestinationConfig").and_then(|d| d.get("OnFailure")) {
        None => None,
        Some(on_failure) => Some(
            on_failure
                .get("Destination")
                .and_then(intrinsics::arn_of)
                .filter(|q| queues.contains_key(*q))
                .map(str::to_string)
                .ok_or_else(|| format!("{what}: OnFailure.Destination must be !GetAtt <a queue>.Arn"))?,
        ),
    };
    Ok(StreamMapping {
        name: name.to_string(),
        function: function.to_string(),
        table,
        starting_position,
        batch_size: batch_size as usize,
        batching_window_secs: window as u64,
        filters,
        report_batch_item_failures,
        bisect_on_error,
        max_retry_attempts,
        on_failure_queue,
    })
}
