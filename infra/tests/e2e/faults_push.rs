//! Faults in DynamoDB and in the Management API at once: a share of pushes is refused, throttled
//! or loses its answer. Retryable push failures are retried; whatever still does not arrive live
//! is recovered by `sync`. Every acknowledged message is stored exactly once and reaches each
//! member, live or by sync. Prints one row of the fault table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::support::{TestEnv, Ws};

/// Every message id `ws` gets by `sync` from its delivered pointers (all pages).
async fn sync_all(ws: &mut Ws) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..100 {
        let rid = format!("sync-{page}");
        let mut frame = json!({"action": "sync", "requestId": rid});
        if let Some(c) = &cursor {
            frame["cursor"] = json!(c);
        }
        ws.send(frame).await;
        let answer = loop {
            let event = ws.recv().await;
            if event["requestId"] == rid.as_str() {
                break event;
            }
        };
        assert_eq!(answer["type"], "sync", "{answer}");
        ids.extend(answer["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()));
        if answer["hasMore"] != true {
            return ids;
        }
        cursor = answer["cursor"].as_str().map(str::to_string);
    }
    panic!("sync never finished");
}

#[tokio::test]
async fn with_dynamo_and_management_api_faults_every_acknowledged_message_arrives_once() {
    let (env, aws, management) = TestEnv::start_behind_proxies().await;
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
    let mut cat_ws = env.connect(&cat.access).await;

    aws.faults_per_mille.store(100, Ordering::Relaxed);
    management.other_faults_per_mille.store(300, Ordering::Relaxed);
    let (mut attempts, mut failures) = (0, 0);
    let mut acknowledged = Vec::new();
    for i in 0..30 {
        let rid = format!("r{i}");
        let frame = json!({"action": "send", "conversationId": group, "content": format!("m{i}"), "clientMsgId": format!("c{i}"), "requestId": rid});
        loop {
            attempts += 1;
            assert!(attempts <= 600, "message {i} never acknowledged");
            ann_ws.send(frame.clone()).await;
            // An answer lost on the way (a refused push of message.sent) is waited out and the
            // frame sent again: the clientMsgId makes the resend safe.
            let answer = loop {
                match ann_ws.try_recv(Duration::from_secs(3)).await {
                    Some(event) if event["requestId"] == rid.as_str() => break Some(event),
                    Some(_) => continue,
                    None => break None,
                }
            };
            match answer.as_ref().and_then(|a| a["type"].as_str()) {
                Some("message.sent") => {
                    acknowledged.push(answer.unwrap()["message"]["id"].as_str().unwrap().to_string());
                    break;
                }
                Some("error") => {
                    assert_eq!(answer.as_ref().unwrap()["code"], "internal", "{answer:?}");
                    failures += 1;
                }
                _ => failures += 1,
            }
        }
    }
    let injected: BTreeMap<_, _> = aws.faults().into_iter().chain(management.faults()).collect();
    aws.faults_per_mille.store(0, Ordering::Relaxed);
    management.other_faults_per_mille.store(0, Ordering::Relaxed);
    assert!(!management.faults().is_empty(), "the Management API proxy injected no fault");
    acknowledged.dedup();
    let wanted: BTreeSet<String> = acknowledged.iter().cloned().collect();

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
    let duplicated = stored.len() - stored.iter().collect::<BTreeSet<_>>().len();
    assert_eq!(stored, acknowledged, "history = the acknowledged messages, once each, in order");

    let mut lost = 0;
    let mut live_total = 0;
    for ws in [&mut bob_ws, &mut cat_ws] {
        let mut live = BTreeSet::new();
        while let Some(event) = ws.try_recv(Duration::from_secs(2)).await {
            if event["type"] == "message.new" {
                live.insert(event["message"]["id"].as_str().unwrap().to_string());
            }
        }
        live_total += live.len();
        let synced: BTreeSet<String> = sync_all(ws).await.into_iter().collect();
        let reached: BTreeSet<String> = live.union(&synced).cloned().collect();
        lost += wanted.difference(&reached).count();
        ws.assert_alive().await;
    }
    eprintln!(
        "| faults (DynamoDB 10 %, Management API 30 %) | attempts {attempts} | failures {failures} | acknowledged {} | live {live_total}/{} | lost {lost} | duplicated {duplicated} | injected {injected:?} |",
        acknowledged.len(),
        2 * acknowledged.len()
    );
    assert_eq!((lost, duplicated), (0, 0));
}
