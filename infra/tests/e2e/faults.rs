//! Faults: a proxy refuses, throttles or loses the answer of a share of DynamoDB requests while a
//! client sends with retries (same `clientMsgId`), as a real client on a flaky network would.
//! Nothing acknowledged is lost, nothing is stored twice, and every acknowledged message reaches
//! the recipient.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn nothing_acknowledged_is_lost_or_doubled_when_a_fifth_of_aws_calls_fail() {
    lost_or_doubled_under_faults("claimed ids", |i| format!("c{i}")).await;
}

/// The same with fresh ULID clientMsgIds (ids derived from them, one write each): a resend
/// within 5 s dedupes on the message item, a later one through the claimed path
/// (domain/message_id.rs).
#[tokio::test]
async fn nothing_acknowledged_is_lost_or_doubled_under_faults_with_derived_ids() {
    lost_or_doubled_under_faults("derived ids", |_| ulid::Ulid::generate().to_string()).await;
}

async fn lost_or_doubled_under_faults(label: &str, client_msg_id: fn(usize) -> String) {
    let (env, proxy) = TestEnv::start_behind_proxy().await;
    let (ann, bob, cat) = (env.register("ann").await, env.register("bob").await, env.register("cat").await);
    let (_, group) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "flaky", "memberIds": [bob.id, cat.id]})),
        )
        .await;
    let group = group["id"].as_str().unwrap().to_string();
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;

    proxy.faults_per_mille.store(200, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut acked_requests = BTreeSet::new();
    let mut errors = 0;
    let mut attempts_total = 0;
    for i in 0..30 {
        let frame = json!({"action": "send", "conversationId": group, "content": format!("m{i}"), "clientMsgId": client_msg_id(i), "requestId": format!("r{i}")});
        let mut attempts = 0;
        loop {
            attempts += 1;
            attempts_total += 1;
            assert!(attempts <= 20, "message {i} never acknowledged");
            ann_ws.send(frame.clone()).await;
            let answer = loop {
                let event = ann_ws.recv().await;
                if event["requestId"] == format!("r{i}") {
                    break event;
                }
                // an acknowledged request never turns into an error afterwards
                let late = event["requestId"].as_str().is_some_and(|r| acked_requests.contains(r));
                assert!(!(late && event["type"] == "error"), "an error after message.sent: {event}");
            };
            match answer["type"].as_str() {
                Some("message.sent") => {
                    acked_requests.insert(format!("r{i}"));
                    acknowledged.push(answer["message"]["id"].as_str().unwrap().to_string());
                    break;
                }
                Some("error") if answer["code"] == "rate_limited" => {
                    // A derived id's resend while an earlier attempt may still be writing: as told.
                    let secs = answer["retryAfter"].as_u64().unwrap_or(1);
                    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                }
                Some("error") => {
                    assert_eq!(answer["code"], "internal", "{answer}");
                    errors += 1;
                }
                other => panic!("unexpected answer {other:?}: {answer}"),
            }
        }
    }
    let faults = proxy.faults();
    proxy.faults_per_mille.store(0, Ordering::Relaxed);
    assert!(faults.values().sum::<u64>() > 0, "the proxy injected no fault");
    eprintln!("faults injected: {faults:?}; internal errors seen by the client: {errors}");

    // history holds each acknowledged message once, in order, and nothing else
    let (status, page) = env
        .call(
            "GET",
            &format!("/conversations/{group}/messages?after=00000000000000000000000000&limit=100"),
            Some(&bob.access),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let stored: Vec<String> =
        page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    // bob got every acknowledged message live (at least once; clients dedupe by id)
    let mut seen = BTreeSet::new();
    while seen.len() < acknowledged.len() {
        let Some(event) = bob_ws.try_recv(std::time::Duration::from_secs(5)).await else { break };
        if event["type"] == "message.new" {
            seen.insert(event["message"]["id"].as_str().unwrap().to_string());
        }
    }
    let unique: BTreeSet<&String> = stored.iter().collect();
    let lost = acknowledged.iter().filter(|id| !unique.contains(id) || !seen.contains(*id)).count();
    eprintln!(
        "| faults (DynamoDB 20 %, {label}) | attempts {attempts_total} | failures {errors} | acknowledged {} | lost {lost} | duplicated {} |",
        acknowledged.len(),
        stored.len() - unique.len()
    );
    assert_eq!(stored, acknowledged, "history = the acknowledged messages, once each, in send order");
    let clients: BTreeSet<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["clientMsgId"].as_str().unwrap()).collect();
    assert_eq!(clients.len(), 30);
    assert_eq!(seen, acknowledged.iter().cloned().collect::<BTreeSet<_>>(), "bob got every one live");
}
