//! Webhooks end to end: with `CHAT_PARAMETER_WebhookUrl` set, the template's rule and API
//! destination are run by the local bus: a receiver on a local port gets each domain event as
//! EventBridge's JSON with the `x-chat-webhook-key` header; one that fails twice gets it on the
//! third try; an event whose source the rule's pattern does not name never reaches it. Also
//! the `Receiver` the events tests read domain events with.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chat_local::local::LocalOptions;
use serde_json::{Value, json};

use crate::support::TestEnv;

pub const KEY: &str = "webhook-secret-for-tests";

/// Every call a receiver got: the key header and the event.
type Calls = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A webhook receiver on a random local port: records every call, and answers 500 to the
/// first `fail_first` calls of each event id.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    calls: Calls,
}

#[derive(Clone)]
struct ReceiverState {
    calls: Calls,
    fail_first: usize,
}

async fn receive(State(state): State<ReceiverState>, headers: HeaderMap, body: String) -> StatusCode {
    let key = headers.get("x-chat-webhook-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let event: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let mut calls = state.calls.lock().unwrap();
    let seen = calls.iter().filter(|(_, e)| e["id"] == event["id"]).count();
    calls.push((key, event));
    if seen < state.fail_first { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(ReceiverState { calls: calls.clone(), fail_first });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Receiver { url, calls }
    }

    /// A backend whose webhook posts here.
    pub async fn backend(&self) -> TestEnv {
        let parameters =
            BTreeMap::from([("WebhookUrl".to_string(), self.url.clone()), ("WebhookKey".to_string(), KEY.to_string())]);
        TestEnv::start_with_options(|_| None, LocalOptions { parameters, ..LocalOptions::default() }).await
    }

    /// Every call so far: (the key header, the event).
    pub fn calls(&self) -> Vec<(Option<String>, Value)> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `check` holds for the calls so far.
    pub async fn until(&self, what: &str, check: impl Fn(&[(Option<String>, Value)]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if check(&self.calls()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting until {what}; calls: {:#?}", self.calls());
    }
}

fn is_message_created(event: &Value, id: &str) -> bool {
    event["detail-type"] == "message.created" && event["detail"]["id"] == id
}

#[tokio::test]
async fn a_receiver_gets_message_created_with_the_key_header() {
    let receiver = Receiver::start(0).await;
    let env = receiver.backend().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let conversation = env.open_direct(&ann, &bob).await;
    let message = env.post_message(&ann, &conversation, "hello hooks", "c1").await;
    let id = message["id"].as_str().unwrap().to_string();
    receiver.until("message.created arrives", |calls| calls.iter().any(|(_, e)| is_message_created(e, &id))).await;

    let (key, event) = receiver.calls().into_iter().find(|(_, e)| is_message_created(e, &id)).unwrap();
    assert_eq!(key.as_deref(), Some(KEY));
    assert_eq!(event["source"], "chat");
    assert_eq!(event["account"], "123456789012");
    assert!(event["id"].is_string() && event["time"].is_string(), "{event}");
    let detail = &event["detail"];
    assert!(detail["eventId"].is_string(), "{detail}");
    for field in ["id", "conversationId", "senderId", "kind", "content", "clientMsgId", "createdAt", "deleted"] {
        assert_eq!(detail[field], message[field], "{field}: {detail}");
    }
    // every call carries the key
    assert!(receiver.calls().iter().all(|(k, _)| k.as_deref() == Some(KEY)));
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_try() {
    let receiver = Receiver::start(2).await;
    let env = receiver.backend().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let conversation = env.open_direct(&ann, &bob).await;
    let message = env.post_message(&ann, &conversation, "third time lucky", "c1").await;
    let id = message["id"].as_str().unwrap().to_string();
    let created = |calls: &[(Option<String>, Value)]| calls.iter().filter(|(_, e)| is_message_created(e, &id)).count();
    receiver.until("three calls with message.created", |calls| created(calls) >= 3).await;
    let attempts: Vec<Value> =
        receiver.calls().into_iter().filter(|(_, e)| is_message_created(e, &id)).map(|(_, e)| e).collect();
    // the same event each time (EventBridge's id), and nothing after the third succeeded
    assert!(attempts.iter().all(|e| e["id"] == attempts[0]["id"] && e["detail"] == attempts[0]["detail"]));
    // a later event proves delivery went on: by then a fourth call would have come
    env.post_message(&ann, &conversation, "after", "c2").await;
    receiver
        .until("the next message.created", |calls| {
            calls
                .iter()
                .filter(|(_, e)| e["detail-type"] == "message.created" && e["detail"]["content"] == "after")
                .count()
                >= 3
        })
        .await;
    assert_eq!(created(&receiver.calls()), 3);
}

#[tokio::test]
async fn the_rule_does_not_fire_for_events_its_pattern_does_not_match() {
    let receiver = Receiver::start(0).await;
    let env = receiver.backend().await;
    let events = aws_sdk_eventbridge::Client::new(&env.backend.sdk);
    let bus = format!("{}-ChatEventBus", env.table);
    for (source, detail_type) in [("someone-else", "message.created"), ("chat", "marker")] {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&bus)
            .source(source)
            .detail_type(detail_type)
            .detail(json!({"marker": source}).to_string())
            .build();
        let out = events.put_events().entries(entry).send().await.expect("PutEvents");
        assert_eq!(out.failed_entry_count, 0);
    }
    // the second (source chat) arrives; the first, put before it, never does
    receiver.until("the chat marker", |calls| calls.iter().any(|(_, e)| e["detail-type"] == "marker")).await;
    assert!(
        receiver.calls().iter().all(|(_, e)| e["source"] == "chat"),
        "an event of another source reached the webhook: {:#?}",
        receiver.calls()
    );
}
