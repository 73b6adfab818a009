//! What the gateway's three parts share: the template, the function invoker, the open
//! connections, and the pieces of API Gateway's event shapes that more than one part fills.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::route::Step;
use super::sigv4::LocalCredentials;
use super::socket::ConnectionLimits;
use super::throttle::StageBuckets;
use super::web_app::WebApp;
use crate::invoke::{Invoke, InvokeError};
use crate::template::Template;

/// API Gateway's limit for a WebSocket message (and a `@connections` POST).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// API Gateway gives up on an integration after 29 seconds, whatever the function's `Timeout`.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

pub(crate) struct GatewayState {
    pub invoker: Arc<dyn Invoke>,
    pub template: Template,
    pub stage: String,
    pub api_id: String,
    /// The body path of the route selection expression (`$request.body.<path>`).
    pub route_path: Vec<Step>,
    /// Idle timeout and maximum duration of a connection.
    pub limits: ConnectionLimits,
    /// The access keys `@connections` accepts.
    pub credentials: LocalCredentials,
    /// Stage throttling: a token bucket per route.
    pub buckets: StageBuckets,
    /// The web client served on the HTTP port, if any.
    pub web: Option<WebApp>,
    pub connections: Mutex<HashMap<String, Arc<Connection>>>,
    /// `@connections` calls signed by a function: (logical id, method) → how many its policy
    /// allowed and refused.
    pub management_calls: Mutex<BTreeMap<(String, String), CallCounts>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub allowed: u64,
    pub refused: u64,
}

pub(crate) struct Connection {
    pub outbound: mpsc::UnboundedSender<Outbound>,
    pub connected_at_ms: i64,
    pub last_active_ms: AtomicI64,
    pub source_ip: String,
    pub user_agent: String,
    /// `requestContext.domainName` of this connection's events (the Host it connected to).
    pub domain: String,
    /// `requestContext.authorizer` for every event of this connection.
    pub authorizer: Map<String, Value>,
    /// Set when the test harness drops the socket without a `$disconnect`.
    pub silent: AtomicI64,
}

/// What the gateway writes to a client's socket.
pub(crate) enum Outbound {
    Text(String),
    Close(u16, String),
}

impl GatewayState {
    /// Invokes `function` as an API Gateway integration: at most [`INTEGRATION_TIMEOUT`].
    pub async fn invoke(&self, function: &str, event: Value) -> Result<Value, InvokeError> {
        match tokio::time::timeout(INTEGRATION_TIMEOUT, self.invoker.invoke(function, event)).await {
            Ok(result) => result,
            Err(_) => Err(InvokeError::TimedOut(INTEGRATION_TIMEOUT)),
        }
    }

    pub fn domain_name(&self, headers: &HeaderMap) -> String {
        headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_string()
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// API Gateway's request time format, e.g. `09/Apr/2015:12:34:56 +0000`.
pub(crate) fn request_time() -> String {
    chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes
}

/// Connection ids look like API Gateway's (`L0SM9cOFvHcCIhw=`): base64, so clients and the SDK
/// must URL-encode them in `@connections` paths, as on AWS.
pub(crate) fn new_connection_id() -> String {
    BASE64.encode(random_bytes::<11>())
}

pub(crate) fn new_request_id() -> String {
    BASE64.encode(random_bytes::<12>()).replace(['+', '/'], "-")
}

/// The request's headers with what API Gateway adds in front of the backend:
/// `X-Forwarded-For` (the client's address after any the request carried), `X-Forwarded-Port`,
/// `X-Forwarded-Proto`, and an `X-Amzn-Trace-Id` unless the client sent one.
pub(crate) fn forwarded(headers: &HeaderMap, peer: &std::net::SocketAddr) -> HeaderMap {
    let mut headers = headers.clone();
    let port = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| "80".into());
    let client = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    let mut added = vec![("x-forwarded-for", client), ("x-forwarded-port", port), ("x-forwarded-proto", "http".into())];
    if !headers.contains_key("x-amzn-trace-id") {
        added.push(("x-amzn-trace-id", trace_id()));
    }
    for (name, value) in added {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}

/// An X-Ray trace header as API Gateway adds it: `Root=1-<epoch seconds hex>-<96 random bits>`.
fn trace_id() -> String {
    let hex: String = random_bytes::<12>().iter().map(|b| format!("{b:02x}")).collect();
    format!("Root=1-{:08x}-{hex}", chrono::Utc::now().timestamp())
}

/// `queryStringParameters` and `multiValueQueryStringParameters` of a query string.
pub(crate) fn query_json(query: Option<&str>) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| urlencoding::decode(&s.replace('+', " ")).map(|c| c.into_owned()).unwrap_or_default();
        let (k, v) = (decode(k), decode(v));
        single.insert(k.clone(), Value::String(v.clone()));
        if let Value::Array(values) = multi.entry(k).or_insert_with(|| Value::Array(vec![])) {
            values.push(Value::String(v));
        }
    }
    (single, multi)
}

/// What API Gateway answers when an integration fails: 429 when Lambda throttled it, 503 after
/// the integration timeout, else 500.
pub(crate) fn integration_failure(error: &InvokeError) -> (StatusCode, &'static str) {
    match error {
        InvokeError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        InvokeError::TimedOut(limit) if *limit == INTEGRATION_TIMEOUT => {
            (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// API Gateway's own answers: `{"message": …}`.
pub(crate) fn plain(status: StatusCode, message: &str) -> Response {
    (status, [("content-type", "application/json")], json!({ "message": message }).to_string()).into_response()
}
