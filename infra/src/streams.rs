//! Local DynamoDB Stream event-source mappings: for each `DynamoDB` event of template.yaml, a
//! reader per shard of the table's stream on the emulator (its DynamoDB Streams API) that does
//! what Lambda's poller does: drops records no `FilterCriteria` pattern matches, gathers up to
//! `BatchSize` records or `MaximumBatchingWindowInSeconds`, invokes the function with Lambda's
//! event (`{"Records": [...]}`), and on failure retries in order: from the first record a
//! `ReportBatchItemFailures` answer names, or split in halves (`BisectBatchOnFunctionError`)
//! when the function fails, until `MaximumRetryAttempts`; then describes the batch to the
//! on-failure queue and moves on. The shard never moves past a batch before it is done.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use serde_json::{Value, json};

use crate::account::REGION;
use crate::bootstrap::LocalQueue;
use crate::invoke::Invoke;
use crate::schedules::Tasks;
use crate::template::streams::{StreamDefinitions, StreamMapping};

/// Pause after a read that found nothing new.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// A table's stream on the endpoint.
#[derive(Debug, Clone)]
pub struct LocalStream {
    pub arn: String,
    /// Just turned on: the mappings read it from the start. A stream that was already there (a
    /// restarted `make dev`) is read from its end, since no checkpoint survived the restart and
    /// reading it again would repeat every event and push.
    pub fresh: bool,
}

/// Turns the table's stream on as template.yaml declares it (the bootstrap creates the table
/// without one). A table that already has its stream keeps it.
pub async fn enable(
    dynamo: &aws_sdk_dynamodb::Client,
    table_name: &str,
    table_id: &str,
    defs: &StreamDefinitions,
) -> Result<Option<LocalStream>, String> {
    let Some(view) = defs.tables.get(table_id) else { return Ok(None) };
    let described =
        dynamo.describe_table().table_name(table_name).send().await.map_err(|e| format!("DescribeTable: {e}"))?;
    let table = described.table.ok_or("DescribeTable answered no table")?;
    if let (Some(arn), Some(true)) =
        (table.latest_stream_arn.clone(), table.stream_specification.as_ref().map(|s| s.stream_enabled))
    {
        return Ok(Some(LocalStream { arn, fresh: false }));
    }
    let spec = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::from(view.as_str()))
        .build()
        .map_err(|e| e.to_string())?;
    let out = dynamo.update_table().table_name(table_name).stream_specification(spec).send().await.map_err(|e| {
        format!("UpdateTable {table_name} (stream): {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))
    })?;
    let arn = out.table_description.and_then(|t| t.latest_stream_arn).ok_or("UpdateTable answered no stream ARN")?;
    Ok(Some(LocalStream { arn, fresh: true }))
}

/// The emulator's DynamoDB Streams API (JSON 1.0). Spoken directly so records keep the exact
/// JSON Lambda hands a function; the emulators do not check signatures.
#[derive(Clone)]
struct StreamsApi {
    http: reqwest::Client,
    endpoint: String,
}

impl StreamsApi {
    async fn call(&self, operation: &str, body: Value) -> Result<Value, String> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-user-agent", format!("app/{}", crate::account::EMULATION_APP))
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=local/20260101/{REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{operation}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{operation}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{operation}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{operation}: {e}"))
    }
}

/// Starts a reader per shard for every mapping of the table's stream; dropping the result stops them.
pub async fn start(
    invoker: Arc<dyn Invoke>,
    endpoint: &str,
    sqs: aws_sdk_sqs::Client,
    stream: &LocalStream,
    mappings: &[StreamMapping],
    queues: &BTreeMap<String, LocalQueue>,
) -> Result<Tasks, String> {
    let stream_arn = stream.arn.as_str();
    let api = StreamsApi { http: reqwest::Client::new(), endpoint: endpoint.to_string() };
    let described = api.call("DescribeStream", json!({"StreamArn": stream_arn})).await?;
    let shards: Vec<String> = described["StreamDescription"]["Shards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
        .collect();
    let mut tasks = Tasks::default();
    for mapping in mappings {
        let on_failure = match &mapping.on_failure_queue {
            Some(q) => Some(queues.get(q).cloned().ok_or_else(|| format!("{}: queue {q} not created", mapping.name))?),
            None => None,
        };
        let position = if stream.fresh { mapping.starting_position.as_str() } else { "LATEST" };
        for shard in &shards {
            let iterator = api
                .call(
                    "GetShardIterator",
                    json!({"StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": position}),
                )
                .await?["ShardIterator"]
                .as_str()
                .ok_or("GetShardIterator answered no iterator")?
                .to_string();
            let reader = ShardReader {
                invoker: invoker.clone(),
                api: api.clone(),
                sqs: sqs.clone(),
                mapping: mapping.clone(),
                on_failure: on_failure.clone(),
                stream_arn: stream_arn.to_string(),
                shard: shard.clone(),
            };
            tasks.0.push(tokio::spawn(reader.run(iterator)));
        }
    }
    Ok(tasks)
}

struct ShardReader {
    invoker: Arc<dyn Invoke>,
    api: StreamsApi,
    sqs: aws_sdk_sqs::Client,
    mapping: StreamMapping,
    on_failure: Option<LocalQueue>,
    stream_arn: String,
    shard: String,
}

/// What an invocation came to.
enum Outcome {
    Done,
    /// Retry from this index of the batch (`ReportBatchItemFailures`).
    RetryFrom(usize),
    Failed(String),
}

impl ShardReader {
    async fn run(self, mut iterator: String) {
        let mut buffer: Vec<Value> = Vec::new();
        let mut first_buffered: Option<Instant> = None;
        let window = Duration::from_secs(self.mapping.batching_window_secs);
        loop {
            let got = match self.api.call("GetRecords", json!({"ShardIterator": iterator, "Limit": 1000})).await {
                Ok(out) => out,
                Err(message) => {
                    tracing::warn!(mapping = %self.mapping.name, %message, "stream read failed");
                    tokio::time::sleep(IDLE_POLL * 10).await;
                    continue;
                }
            };
            let records = got["Records"].as_array().cloned().unwrap_or_default();
            let read_any = !records.is_empty();
            for record in records {
                let record = self.lambda_record(record);
                // Lambda drops what no filter matches before batching (and it is never retried).
                if self.mapping.filters.is_empty()
                    || self.mapping.filters.iter().any(|f| crate::pattern::matches(f, &record))
                {
                    buffer.push(record);
                    first_buffered.get_or_insert_with(Instant::now);
                }
            }
            match got["NextShardIterator"].as_str() {
                Some(next) => iterator = next.to_string(),
                None => {
                    // A closed shard: deliver what is left, then stop.
                    while !buffer.is_empty() {
                        let rest = buffer.split_off(buffer.len().min(self.mapping.batch_size));
                        self.deliver(std::mem::replace(&mut buffer, rest)).await;
                    }
                    return;
                }
            }
            while buffer.len() >= self.mapping.batch_size
                || (!buffer.is_empty() && first_buffered.is_some_and(|t| t.elapsed() >= window))
            {
                let rest = buffer.split_off(buffer.len().min(self.mapping.batch_size));
                self.deliver(std::mem::replace(&mut buffer, rest)).await;
                first_buffered = (!buffer.is_empty()).then(Instant::now);
            }
            if !read_any {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }

    /// The record as Lambda delivers it: epoch seconds for the creation time, and the stream's ARN.
    fn lambda_record(&self, mut record: Value) -> Value {
        if let Some(text) = record["dynamodb"]["ApproximateCreationDateTime"].as_str() {
            let parsed = chrono::DateTime::parse_from_rfc3339(&text.replace(' ', "T"))
                .map(|t| t.timestamp())
                .unwrap_or_else(|_| chrono::Utc::now().timestamp());
            record["dynamodb"]["ApproximateCreationDateTime"] = json!(parsed);
        }
        record["eventSourceARN"] = json!(self.stream_arn);
        record
    }

    /// One batch until it is done or set aside; retries keep the order of the shard.
    async fn deliver(&self, batch: Vec<Value>) {
        let max = self.mapping.max_retry_attempts;
        let mut pending: VecDeque<(Vec<Value>, i64)> = VecDeque::from([(batch, 0)]);
        while let Some((batch, attempts)) = pending.pop_front() {
            if attempts > 0 {
                tokio::time::sleep(Duration::from_millis((50 << attempts.min(5)) as u64)).await;
            }
            let retry = match self.invoke(&batch).await {
                Outcome::Done => continue,
                Outcome::RetryFrom(i) => {
                    (batch[i..].to_vec(), "the function reported a batch item failure".to_string())
                }
                Outcome::Failed(e) => (batch, e),
            };
            let (batch, error) = retry;
            if max >= 0 && attempts >= max {
                self.set_aside(&batch, attempts + 1, &error).await;
                continue;
            }
            if self.mapping.bisect_on_error && batch.len() > 1 {
                let mut left = batch;
                let right = left.split_off(left.len() / 2);
                pending.push_front((right, attempts + 1));
                pending.push_front((left, attempts + 1));
            } else {
                pending.push_front((batch, attempts + 1));
            }
        }
    }

    async fn invoke(&self, batch: &[Value]) -> Outcome {
        let event = json!({ "Records": batch });
        let answer = match self.invoker.invoke(&self.mapping.function, event).await {
            Ok(answer) => answer,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if !self.mapping.report_batch_item_failures {
            return Outcome::Done;
        }
        let named: Vec<&str> = answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f["itemIdentifier"].as_str().unwrap_or_default())
            .collect();
        if named.is_empty() {
            return Outcome::Done;
        }
        // Lambda retries from the lowest sequence number named; an unknown one fails the batch.
        let positions: Option<Vec<usize>> = named
            .iter()
            .map(|id| batch.iter().position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(*id)))
            .collect();
        match positions.and_then(|p| p.into_iter().min()) {
            Some(i) => Outcome::RetryFrom(i),
            None => Outcome::Failed("batchItemFailures names a record not in the batch".into()),
        }
    }

    /// Lambda's on-failure record for a stream batch: where it is, not the records themselves.
    async fn set_aside(&self, batch: &[Value], invocations: i64, error: &str) {
        tracing::warn!(mapping = %self.mapping.name, records = batch.len(), %error, "stream batch set aside after its retries");
        let Some(queue) = &self.on_failure else { return };
        let sequence = |r: Option<&Value>| {
            r.and_then(|r| r["dynamodb"]["SequenceNumber"].as_str()).unwrap_or_default().to_string()
        };
        let arrival =
            |r: Option<&Value>| r.map(|r| r["dynamodb"]["ApproximateCreationDateTime"].clone()).unwrap_or(Value::Null);
        let body = json!({
            "requestContext": {
                "requestId": ulid::Ulid::generate().to_string(),
                "functionArn": format!("arn:aws:lambda:{REGION}:{}:function:{}", crate::account::ACCOUNT_ID, self.mapping.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": error},
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "DDBStreamBatchInfo": {
                "shardId": self.shard,
                "startSequenceNumber": sequence(batch.first()),
                "endSequenceNumber": sequence(batch.last()),
                "approximateArrivalOfFirstRecord": arrival(batch.first()),
                "approximateArrivalOfLastRecord": arrival(batch.last()),
                "batchSize": batch.len(),
                "streamArn": self.stream_arn,
            },
        });
        if let Err(e) = self.sqs.send_message().queue_url(&queue.url).message_body(body.to_string()).send().await {
            tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "on-failure destination unreachable");
        }
    }
}
