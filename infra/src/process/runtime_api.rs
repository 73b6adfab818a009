//! One execution environment's Lambda Runtime API (`/2018-06-01/runtime/...`), the interface a
//! custom runtime such as `lambda_runtime` polls: `invocation/next` hands out the next event
//! with its request id, deadline and function ARN headers; `invocation/{id}/response` and
//! `invocation/{id}/error` answer it; `init/error` reports a failed init. Each environment has
//! its own endpoint, as each Lambda sandbox has, so who polls is never in doubt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

/// An event for the environment, and where its answer goes.
pub struct Invocation {
    pub request_id: String,
    pub event: Value,
    /// Epoch milliseconds after which Lambda would stop the invocation.
    pub deadline_ms: u128,
    pub reply: oneshot::Sender<Outcome>,
}

/// What the runtime answered.
#[derive(Debug)]
pub enum Outcome {
    Response(Bytes),
    /// `errorType` and `errorMessage` of the runtime's diagnostic.
    Error(String, String),
}

pub struct RuntimeApi {
    function_arn: String,
    events: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// True once the runtime polled for its first event: init is over.
    polled: watch::Sender<bool>,
    /// The diagnostic of `init/error`, if the runtime sent one.
    init_error: watch::Sender<Option<String>>,
}

impl RuntimeApi {
    /// The API, the sender of its events, and watches of the first poll and of an init error.
    pub fn new(
        function_arn: String,
    ) -> (Arc<Self>, mpsc::Sender<Invocation>, watch::Receiver<bool>, watch::Receiver<Option<String>>) {
        let (tx, rx) = mpsc::channel(1);
        let (polled, polled_rx) = watch::channel(false);
        let (init_error, init_error_rx) = watch::channel(None);
        let api = Arc::new(Self {
            function_arn,
            events: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            polled,
            init_error,
        });
        (api, tx, polled_rx, init_error_rx)
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(self.clone())
    }

    fn answer(&self, id: &str, outcome: Outcome) -> Response {
        match self.pending.lock().expect("pending invocations").remove(id) {
            Some(reply) => {
                let _ = reply.send(outcome);
                (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
            }
            None => {
                (StatusCode::BAD_REQUEST, r#"{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}"#)
                    .into_response()
            }
        }
    }
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    api.polled.send_replace(true);
    // One poller at a time (lambda_runtime polls sequentially); the next event waits here.
    let Some(invocation) = api.events.lock().await.recv().await else {
        return (StatusCode::GONE, "the execution environment is shutting down").into_response();
    };
    api.pending.lock().expect("pending invocations").insert(invocation.request_id.clone(), invocation.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", invocation.request_id.clone());
    set("lambda-runtime-deadline-ms", invocation.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", api.function_arn.clone());
    set("lambda-runtime-trace-id", trace_id());
    set("content-type", "application/json".to_string());
    (StatusCode::OK, headers, invocation.event.to_string()).into_response()
}

/// An X-Ray trace header: `Root=1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>`.
fn trace_id() -> String {
    let id = ulid::Ulid::generate();
    let seconds = id.timestamp_ms() / 1000;
    format!("Root=1-{seconds:08x}-{:024x};Sampled=0", id.0 & ((1u128 << 96) - 1))
}

async fn response(State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes) -> Response {
    api.answer(&id, Outcome::Response(body))
}

/// `{errorType, errorMessage}`, as the runtime's diagnostic; the header's type if the body has none.
fn diagnostic(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    let header = headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).unwrap_or("Unhandled");
    let error_type = value.get("errorType").and_then(Value::as_str).unwrap_or(header).to_string();
    let message = value
        .get("errorMessage")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, message)
}

async fn error(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, message) = diagnostic(&headers, &body);
    api.answer(&id, Outcome::Error(error_type, message))
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, headers: HeaderMap, body: Bytes) -> Response {
    let (error_type, message) = diagnostic(&headers, &body);
    api.init_error.send_replace(Some(format!("{error_type}: {message}")));
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
