//! A proxy between the functions and the AWS endpoint that counts every request by operation
//! and caller (each function's apart, and the local stand-ins' own, account.rs),
//! can delay each one (to count sequential round trips), and can inject faults into a share of
//! DynamoDB requests (and, separately, of Management API and SQS requests): refused before they
//! reach the upstream (500), throttled (400/429), or carried out with their answer lost (500
//! after the write happened — the case idempotency exists for).
//! Used by `make bench` and the fault tests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::pricing::{Pricing, Upstream};

pub struct AwsProxy {
    upstream: String,
    client: reqwest::Client,
    /// Added to every request, in milliseconds.
    pub delay_ms: AtomicU64,
    /// Share of DynamoDB requests that fail, in parts per thousand.
    pub faults_per_mille: AtomicU64,
    /// Share of Management API (`/@connections/`) and SQS requests that fail, per thousand:
    /// refused (500), throttled (429 / SQS throttling) or carried out with the answer lost.
    pub other_faults_per_mille: AtomicU64,
    /// Requests by caller (the SDK app name, account.rs: `chat-fn-<binary>`, `EMULATION_APP`, or
    /// `""`), then by operation.
    counts: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Prices DynamoDB requests while enabled (`make bench`).
    pub pricing: Pricing,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    /// Callers (`chat-fn-<binary>`) every DynamoDB request of which is refused (500): a function
    /// that fails outright, as a `$disconnect` did when 1,000 sockets dropped at once.
    failing_callers: Mutex<std::collections::BTreeSet<String>>,
    /// Records every function request's span while set (`make bench`: sequential waves).
    pub timeline_enabled: AtomicBool,
    timeline: Mutex<Vec<Span>>,
}

/// One request as the proxy saw it: from its arrival to its answer (the added delay included).
#[derive(Debug, Clone)]
pub struct Span {
    pub caller: String,
    pub operation: String,
    pub start: Instant,
    pub end: Instant,
}

/// How many requests of `spans` ran one after another: the most that do not overlap in time
/// (earliest end first). Requests of one wave overlap (each lasts at least the added delay and
/// they leave together); a wave starts only once the one before has answered.
pub fn sequential_waves(spans: &[Span]) -> usize {
    let mut by_end: Vec<&Span> = spans.iter().collect();
    by_end.sort_by_key(|s| s.end);
    let mut waves = 0;
    let mut free_from: Option<Instant> = None;
    for span in by_end {
        if free_from.is_none_or(|t| span.start >= t) {
            waves += 1;
            free_from = Some(span.end);
        }
    }
    waves
}

impl AwsProxy {
    /// Serves the proxy on a random loopback port; returns it and its URL.
    pub async fn start(upstream: &str) -> (Arc<AwsProxy>, String) {
        let proxy = Arc::new(AwsProxy {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            delay_ms: AtomicU64::new(0),
            faults_per_mille: AtomicU64::new(0),
            other_faults_per_mille: AtomicU64::new(0),
            counts: Mutex::new(BTreeMap::new()),
            pricing: Pricing::default(),
            faults: Mutex::new(BTreeMap::new()),
            failing_callers: Mutex::new(Default::default()),
            timeline_enabled: AtomicBool::new(false),
            timeline: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let router = Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (proxy, url)
    }

    /// The functions' and clients' requests since the last call, by operation (`Query`,
    /// `TransactWriteItems`, …); the local stand-ins' own are left for `take_emulation_counts`.
    pub fn take_counts(&self) -> BTreeMap<String, u64> {
        let mut counts = self.counts.lock().expect("counts");
        let emulation = counts.remove(crate::account::EMULATION_APP);
        let mut sum = BTreeMap::new();
        for (operation, n) in std::mem::take(&mut *counts).into_values().flatten() {
            *sum.entry(operation).or_default() += n;
        }
        counts.extend(emulation.map(|e| (crate::account::EMULATION_APP.to_string(), e)));
        sum
    }

    /// One function's requests since the last call (`binary` as in template.yaml's `Binary`).
    pub fn take_counts_of(&self, binary: &str) -> BTreeMap<String, u64> {
        self.counts.lock().expect("counts").remove(&format!("chat-fn-{binary}")).unwrap_or_default()
    }

    /// One function's requests so far, leaving them counted (a bench waits on one to appear).
    pub fn counts_of(&self, binary: &str) -> BTreeMap<String, u64> {
        self.counts.lock().expect("counts").get(&format!("chat-fn-{binary}")).cloned().unwrap_or_default()
    }

    /// The local stand-ins' own requests since the last call (pollers, deliveries, checks).
    pub fn take_emulation_counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().expect("counts").remove(crate::account::EMULATION_APP).unwrap_or_default()
    }

    /// Refuses every DynamoDB request of the function `binary` (template.yaml's `Binary`) from
    /// now on, or again forwards them (`fail = false`).
    pub fn fail_function(&self, binary: &str, fail: bool) {
        let mut callers = self.failing_callers.lock().expect("failing callers");
        let caller = format!("chat-fn-{binary}");
        if fail {
            callers.insert(caller);
        } else {
            callers.remove(&caller);
        }
    }

    /// The functions' request spans recorded since the last call (the local stand-ins' left out).
    pub fn take_timeline(&self) -> Vec<Span> {
        std::mem::take(&mut *self.timeline.lock().expect("timeline"))
    }

    /// Faults injected so far, by kind.
    pub fn faults(&self) -> BTreeMap<&'static str, u64> {
        self.faults.lock().expect("faults").clone()
    }
}

/// `Action` of a query-protocol request (`Action=Publish&Version=…`), if the body is one.
fn query_action(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|a| a.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_string)
}

fn random_per_mille() -> u64 {
    let mut bytes = [0u8; 2];
    let _ = getrandom::fill(&mut bytes);
    u64::from(u16::from_le_bytes(bytes)) % 1000
}

fn dynamo_error(status: StatusCode, kind: &str) -> Response {
    let body =
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by the test proxy"}}"#);
    (status, [("content-type", "application/x-amz-json-1.0")], body).into_response()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Dynamo,
    Sqs,
    Management,
    Other,
}

impl Service {
    fn error(self, status: StatusCode, kind: &str) -> Response {
        match self {
            Service::Dynamo => dynamo_error(status, kind),
            Service::Sqs => {
                let body = format!(r#"{{"__type":"com.amazonaws.sqs#{kind}","message":"injected by the test proxy"}}"#);
                (
                    status,
                    [("content-type", "application/x-amz-json-1.0"), ("x-amzn-query-error", "InternalError;Receiver")],
                    body,
                )
                    .into_response()
            }
            Service::Management | Service::Other => {
                let body = r#"{"message":"injected by the test proxy"}"#;
                (status, [("content-type", "application/json"), ("x-amzn-errortype", kind)], body).into_response()
            }
        }
    }

    fn throttled(self) -> Response {
        match self {
            Service::Dynamo => dynamo_error(StatusCode::BAD_REQUEST, "ThrottlingException"),
            Service::Sqs => self.error(StatusCode::BAD_REQUEST, "ThrottlingException"),
            Service::Management | Service::Other => self.error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
        }
    }
}

async fn forward(State(proxy): State<Arc<AwsProxy>>, request: Request) -> Response {
    let record = proxy.timeline_enabled.load(Ordering::Relaxed);
    let caller = crate::account::caller(request.headers());
    // The operation as `take_counts` names it (`Query`, `POST /@connections/…`); query-protocol
    // requests (SNS) by their path only.
    let operation = match request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
        None => format!("{} {}", request.method(), request.uri().path()),
    };
    let start = Instant::now();
    let response = forward_request(proxy.clone(), request).await;
    if record && caller != crate::account::EMULATION_APP {
        let span = Span { caller, operation, start, end: Instant::now() };
        proxy.timeline.lock().expect("timeline").push(span);
    }
    response
}

async fn forward_request(proxy: Arc<AwsProxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let operation = if !target.is_empty() {
        target.rsplit('.').next().unwrap_or(&target).to_string()
    } else if let Some(action) = query_action(&body) {
        // The query protocol (SNS, STS): `Action=Publish&…` in a form body.
        action
    } else {
        format!("{} {}", parts.method, parts.uri.path())
    };
    let caller = crate::account::caller(&parts.headers);
    *proxy.counts.lock().expect("counts").entry(caller.clone()).or_default().entry(operation.clone()).or_default() += 1;
    let delay = proxy.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    // One in three faults of each kind.
    let service = if target.starts_with("DynamoDB_") {
        Service::Dynamo
    } else if target.starts_with("AmazonSQS.") {
        Service::Sqs
    } else if parts.uri.path().contains("/@connections/") {
        Service::Management
    } else {
        Service::Other
    };
    let share = match service {
        Service::Dynamo => proxy.faults_per_mille.load(Ordering::Relaxed),
        Service::Sqs | Service::Management => proxy.other_faults_per_mille.load(Ordering::Relaxed),
        Service::Other => 0,
    };
    let failing =
        service == Service::Dynamo && proxy.failing_callers.lock().expect("failing callers").contains(&caller);
    let fault = if failing {
        Some("refused")
    } else {
        (random_per_mille() < share).then(|| ["refused", "throttled", "answer lost"][(random_per_mille() % 3) as usize])
    };
    if let Some(kind) = fault {
        *proxy.faults.lock().expect("faults").entry(kind).or_default() += 1;
        match kind {
            "refused" => return service.error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            "throttled" => return service.throttled(),
            _ => {}
        }
    }
    let priced = (target.starts_with("DynamoDB_") && proxy.pricing.enabled())
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default());
    let up = Upstream { url: &proxy.upstream, client: &proxy.client, headers: &parts.headers };
    let before = match &priced {
        Some(request) => Some(proxy.pricing.before(&up, &caller, &operation, request).await),
        None => None,
    };
    let url = format!("{}{}", proxy.upstream, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut upstream = proxy.client.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        // The Management API checks SigV4, which signs the host: keep it for that one.
        if (name != "host" || service == Service::Management) && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    match upstream.send().await {
        Ok(_) if fault.is_some() => service.error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let bytes = answer.bytes().await.unwrap_or_default();
            if let (Some(request), Some(before)) = (&priced, before) {
                let answer = serde_json::from_slice(&bytes).unwrap_or_default();
                proxy.pricing.price(&up, &operation, request, &answer, before).await;
            }
            if status.is_server_error() {
                let head = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                tracing::warn!(%status, %operation, body = %head, "emulator error");
            }
            let mut response = (status, bytes).into_response();
            // A HEAD answer has no body: its Content-Length is the object's (S3 HeadObject).
            let head = parts.method == axum::http::Method::HEAD;
            for (name, value) in &headers {
                if (head || name != "content-length") && name != "transfer-encoding" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start_ms: u64, end_ms: u64, t0: Instant) -> Span {
        let at = |ms| t0 + Duration::from_millis(ms);
        Span { caller: "chat-fn-x".into(), operation: "Op".into(), start: at(start_ms), end: at(end_ms) }
    }

    #[test]
    fn overlapping_requests_are_one_wave_and_a_request_after_an_answer_is_the_next() {
        let t0 = Instant::now();
        assert_eq!(sequential_waves(&[]), 0);
        // Two at once, then one after both answered: 2 waves.
        assert_eq!(sequential_waves(&[span(0, 52, t0), span(1, 53, t0), span(54, 106, t0)]), 2);
        // One long request beside two short sequential ones: the chain of the short ones counts.
        assert_eq!(sequential_waves(&[span(0, 200, t0), span(0, 50, t0), span(51, 101, t0)]), 2);
        // Three in a row.
        assert_eq!(sequential_waves(&[span(0, 50, t0), span(50, 100, t0), span(100, 150, t0)]), 3);
    }
}
