//! Load: clients in direct pairs each send their messages as fast as their answers come. `make
//! test` runs 6 clients x 10 messages; `make soak` 20 x 50 (`CHAT_LOAD_CLIENTS`,
//! `CHAT_LOAD_MESSAGES`: on this shared 2-core machine 20 x 50 takes minutes against moto). Counts
//! acknowledged, stored, delivered (live, else by `sync`), lost (must be 0) and duplicated
//! (must be 0), and prints them as a row of the table.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::support::{TestEnv, TestUser};

fn scale(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The next event; under load an answer may take longer than the suite's usual wait.
async fn recv_long(ws: &mut crate::support::Ws) -> serde_json::Value {
    ws.try_recv(Duration::from_secs(60)).await.expect("an event within 60 s under load")
}

/// API Gateway's own answer to a message it refused (stage throttling, or an integration that
/// failed): `{"message", "connectionId", "requestId"}` with a requestId of its own, no `type`.
/// Each client has one frame in flight, so it is the answer to that frame.
fn refused_by_gateway(event: &serde_json::Value) -> bool {
    event.get("type").is_none() && event["message"].is_string()
}

struct Outcome {
    attempts: usize,
    failures: usize,
    acknowledged: Vec<String>,
    received: BTreeSet<String>,
    received_twice: usize,
}

async fn run_client(
    env: &TestEnv,
    me: &TestUser,
    conversation: &str,
    messages: usize,
    everyone_sent: &tokio::sync::Barrier,
) -> Outcome {
    let expected_in = messages;
    let mut ws = env.connect(&me.access).await;
    let mut outcome =
        Outcome { attempts: 0, failures: 0, acknowledged: Vec::new(), received: BTreeSet::new(), received_twice: 0 };
    let note = |event: &serde_json::Value, outcome: &mut Outcome| {
        if event["type"] == "message.new" && event["message"]["senderId"] != me.id.as_str() {
            let id = event["message"]["id"].as_str().unwrap().to_string();
            if !outcome.received.insert(id) {
                outcome.received_twice += 1;
            }
        }
    };
    for i in 0..messages {
        let rid = format!("{}-{i}", me.username);
        let frame = json!({"action": "send", "conversationId": conversation, "content": format!("load {i}"), "clientMsgId": rid, "requestId": rid});
        loop {
            outcome.attempts += 1;
            assert!(outcome.attempts <= messages * 20, "{rid} never acknowledged");
            ws.send(frame.clone()).await;
            let answer = loop {
                let event = recv_long(&mut ws).await;
                if event["requestId"] == rid.as_str() || refused_by_gateway(&event) {
                    break event;
                }
                note(&event, &mut outcome);
            };
            if answer["type"] == "message.sent" {
                outcome.acknowledged.push(answer["message"]["id"].as_str().unwrap().to_string());
                break;
            }
            outcome.failures += 1;
            // rate limited or throttled: wait as told, then resend (same clientMsgId)
            let wait = answer["retryAfter"].as_u64().unwrap_or(1).min(5);
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
    }
    // The partner's messages still on their way, then whatever was missed, by sync.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while outcome.received.len() < expected_in && tokio::time::Instant::now() < deadline {
        match ws.try_recv(Duration::from_secs(5)).await {
            Some(event) => note(&event, &mut outcome),
            None => break,
        }
    }
    // Sync only once every client has had all its messages acknowledged.
    everyone_sent.wait().await;
    let mut frame =
        json!({"action": "sync", "requestId": "final", "since": "00000000000000000000000000", "limit": 100});
    ws.send(frame.clone()).await;
    loop {
        let answer = loop {
            let event = recv_long(&mut ws).await;
            if event["type"] == "sync" {
                break event;
            }
            if refused_by_gateway(&event) {
                outcome.attempts += 1;
                outcome.failures += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                ws.send(frame.clone()).await;
            }
        };
        for m in answer["messages"].as_array().unwrap() {
            if m["senderId"] != me.id.as_str() {
                outcome.received.insert(m["id"].as_str().unwrap().to_string());
            }
        }
        if answer["hasMore"] != true {
            break;
        }
        let cursor = answer["cursor"].as_str().map(str::to_string);
        frame = json!({"action": "sync", "since": "00000000000000000000000000", "cursor": cursor, "limit": 100});
        ws.send(frame.clone()).await;
    }
    outcome
}

#[tokio::test]
async fn many_clients_sending_at_once_lose_nothing_and_double_nothing() {
    let (clients, messages) = (scale("CHAT_LOAD_CLIENTS", 6) & !1, scale("CHAT_LOAD_MESSAGES", 10));
    let env = TestEnv::start_with(|key| (key == "CHAT_WS_RATE_PER_MIN").then(|| "100000".into())).await;
    let mut users = Vec::new();
    for i in 0..clients {
        users.push(env.register(&format!("load{i}")).await);
    }
    let mut conversations = Vec::new();
    for pair in users.chunks(2) {
        conversations.push(env.open_direct(&pair[0], &pair[1]).await);
    }
    let started = std::time::Instant::now();
    let barrier = tokio::sync::Barrier::new(users.len());
    let runs = users.iter().enumerate().map(|(i, u)| run_client(&env, u, &conversations[i / 2], messages, &barrier));
    let outcomes = futures::future::join_all(runs).await;
    let elapsed = started.elapsed();

    let (mut attempts, mut failures, mut acknowledged, mut delivered, mut lost, mut duplicated) = (0, 0, 0, 0, 0, 0);
    let mut stored = 0;
    for (i, conversation) in conversations.iter().enumerate() {
        let (a, b) = (&outcomes[2 * i], &outcomes[2 * i + 1]);
        let mut ids = Vec::new();
        let mut before: Option<String> = Some("00000000000000000000000000".into());
        while let Some(after) = before.take() {
            let (status, page) = env
                .call(
                    "GET",
                    &format!("/conversations/{conversation}/messages?after={after}&limit=100"),
                    Some(&users[2 * i].access),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            let page_ids: Vec<String> =
                page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
            if page_ids.len() == 100 {
                before = page_ids.last().cloned();
            }
            ids.extend(page_ids);
        }
        stored += ids.len();
        let unique: BTreeSet<&String> = ids.iter().collect();
        duplicated += ids.len() - unique.len() + a.received_twice + b.received_twice;
        for (sender, receiver) in [(a, b), (b, a)] {
            acknowledged += sender.acknowledged.len();
            attempts += sender.attempts;
            failures += sender.failures;
            for id in &sender.acknowledged {
                if !unique.contains(id) {
                    lost += 1;
                } else if receiver.received.contains(id) {
                    delivered += 1;
                } else {
                    lost += 1;
                }
            }
        }
    }
    eprintln!(
        "| load ({clients} clients x {messages} messages, {:.1} s) | attempts {attempts} | failures {failures} | acknowledged {acknowledged} | stored {stored} | delivered {delivered} | lost {lost} | duplicated {duplicated} |",
        elapsed.as_secs_f64()
    );
    assert_eq!(acknowledged, clients * messages);
    assert_eq!((stored, delivered, lost, duplicated), (acknowledged, acknowledged, 0, 0));
}
