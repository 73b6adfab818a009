//! Back-pressure instead of unbounded work: the stages' throttling from template.yaml (429, and
//! "Too Many Requests" to a WebSocket message), each function's concurrency limit (Lambda
//! throttles: 429) and its `Timeout`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chat_local::gateway::{GatewayOptions, serve};
use chat_local::invoke::{Invoke, InvokeError, Limited};
use chat_local::local::LocalOptions;
use chat_local::template::Template;
use chat_local::template::limits::FunctionLimits;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::client::{CLOSE_WAIT, open, refused_status};
use crate::support::TestEnv;

fn throttled(parameters: &[(&str, &str)]) -> LocalOptions {
    let mut options = LocalOptions { clock: false, ..Default::default() };
    for (name, value) in parameters {
        options.parameters.insert(name.to_string(), value.to_string());
    }
    options
}

#[tokio::test]
async fn the_http_stage_throttles_with_429_and_recovers() {
    let options = throttled(&[("HttpThrottlingRateLimit", "1"), ("HttpThrottlingBurstLimit", "3")]);
    let env = TestEnv::start_with_options(|_| None, options).await;
    let calls = (0..10).map(|_| env.call("GET", "/health", None, None));
    let answers = futures::future::join_all(calls).await;
    let refused: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 429).map(|(_, b)| b).collect();
    assert!(answers.iter().filter(|(s, _)| *s == 200).count() >= 3, "the burst passes: {answers:?}");
    assert!(!refused.is_empty(), "10 at once over a burst of 3: {answers:?}");
    assert!(refused.iter().all(|b| b["message"] == "Too Many Requests"), "{refused:?}");
    // refilled at the rate: served again
    let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
    while env.call("GET", "/health", None, None).await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn websocket_routes_and_the_handshake_are_throttled_and_the_connection_stays() {
    let options = throttled(&[
        ("WebSocketThrottlingRateLimit", "1"),
        ("WebSocketThrottlingBurstLimit", "2"),
        ("WebSocketConnectThrottlingRateLimit", "1"),
        ("WebSocketConnectThrottlingBurstLimit", "2"),
    ]);
    let env = TestEnv::start_with_options(|_| None, options).await;
    let ann = env.register("ann").await;
    let url = env.ws_url_with_token(&ann.access);
    let mut ws = open(&url, &[]).await.expect("within the burst");
    for i in 0..8 {
        ws.send_text(&json!({"action": "ping", "requestId": format!("p{i}")}).to_string()).await;
    }
    let mut too_many = 0;
    let mut pongs = 0;
    while too_many + pongs < 8 {
        let text = ws.next_text(CLOSE_WAIT).await.expect("an answer to every frame");
        let answer: Value = serde_json::from_str(&text).unwrap();
        match (answer["type"].as_str(), answer["message"].as_str()) {
            (Some("pong"), _) => pongs += 1,
            (_, Some("Too Many Requests")) => too_many += 1,
            _ => {}
        }
    }
    assert!(pongs >= 2 && too_many >= 1, "{pongs} pongs, {too_many} throttled");

    // handshakes have their own bucket: the second of the burst passes, then 429 until it refills
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(open(&url, &[]).await.map(|_| 101).unwrap_or_else(|e| refused_status(Err(e))));
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 101 || *s == 429), "{statuses:?}");
}

/// An HTTP function that holds every call until the test opens `gate`.
struct Held {
    running: AtomicUsize,
    gate: Semaphore,
}

impl Invoke for Held {
    fn invoke<'a>(&'a self, _function: &'a str, event: Value) -> BoxFuture<'a, Result<Value, InvokeError>> {
        Box::pin(async move {
            self.running.fetch_add(1, Ordering::SeqCst);
            if event["rawPath"] != "/fast" {
                self.gate.acquire().await.expect("gate").forget();
            }
            Ok(json!({"statusCode": 200, "body": "done"}))
        })
    }
}

#[tokio::test]
async fn a_functions_concurrency_limit_throttles_and_its_timeout_ends_it() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template = Template::load(&path).unwrap();
    let mut limits = template.function_limits.clone();
    limits.insert(
        template.http_function.clone(),
        FunctionLimits { timeout_secs: 2, reserved_concurrency: Some(2), memory_mb: 256 },
    );
    let held = Arc::new(Held { running: AtomicUsize::new(0), gate: Semaphore::new(0) });
    let functions = Arc::new(Limited::new(held.clone(), &limits, 64));
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = serve(functions, template, GatewayOptions::default(), ws, http).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/held", gateway.http_url());

    // two run (held), the other four are throttled at once
    let requests: Vec<_> = (0..6).map(|_| tokio::spawn(client.get(&url).send())).collect();
    let mut statuses = vec![];
    for request in requests {
        statuses.push(request.await.unwrap().unwrap().status().as_u16());
    }
    statuses.sort();
    // the two held calls ran past the 2 s Timeout: Lambda ended them, API Gateway answers 500
    assert_eq!(statuses, vec![429, 429, 429, 429, 500, 500]);
    assert_eq!(held.running.load(Ordering::SeqCst), 2, "throttled calls never reached the function");

    // the pool is free again once they ended
    let fast = client.get(format!("{}/fast", gateway.http_url())).send().await.unwrap();
    assert_eq!(fast.status().as_u16(), 200);
}
