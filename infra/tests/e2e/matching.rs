//! Random matching end to end: `match` → `match.waiting` → `match.found` for both, exactly once
//! when many ask at the same moment; `match.cancel` and disconnecting leave the pool;
//! `GET /users/available` counts who waits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser};

async fn waiting(env: &TestEnv, user: &TestUser) -> u64 {
    let (status, body) = env.call("GET", "/users/available", Some(&user.access), None).await;
    assert_eq!(status, 200, "{body}");
    body["waiting"].as_u64().unwrap()
}

#[tokio::test]
async fn two_waiting_users_are_matched_into_one_direct_conversation() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    assert_eq!(waiting(&env, &ann).await, 0);

    ann_ws.send(json!({"action": "match", "requestId": "m1"})).await;
    assert_eq!(ann_ws.recv_type("match.waiting").await, json!({"type": "match.waiting", "requestId": "m1"}));
    assert_eq!(waiting(&env, &bob).await, 1);
    // Asking again refreshes the entry; nobody is matched with itself.
    ann_ws.send(json!({"action": "match", "requestId": "m2"})).await;
    ann_ws.recv_type("match.waiting").await;
    ann_ws.expect_none("match.found", Duration::from_millis(300)).await;
    assert_eq!(waiting(&env, &bob).await, 1);

    bob_ws.send(json!({"action": "match"})).await;
    bob_ws.recv_type("match.waiting").await;
    let (for_bob, for_ann) = (bob_ws.recv_type("match.found").await, ann_ws.recv_type("match.found").await);
    assert_eq!(for_bob["conversationId"], for_ann["conversationId"]);
    assert_eq!(for_bob["user"]["id"], ann.id.as_str());
    assert_eq!(for_ann["user"]["id"], bob.id.as_str());
    assert!(for_ann["user"].get("email").is_none(), "public users only: {for_ann}");
    assert_eq!(waiting(&env, &ann).await, 0);

    // A real direct conversation: both may send in it.
    let conversation = for_ann["conversationId"].as_str().unwrap();
    let (status, _) = env.call("GET", &format!("/conversations/{conversation}"), Some(&bob.access), None).await;
    assert_eq!(status, 200);
    env.post_message(&ann, conversation, "hi stranger", "m-1").await;
}

#[tokio::test]
async fn cancel_and_disconnect_leave_the_pool() {
    let env = TestEnv::start().await;
    let (ann, bob, cat) = (env.register("ann").await, env.register("bob").await, env.register("cat").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let ann_other = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;

    ann_ws.send(json!({"action": "match"})).await;
    ann_ws.recv_type("match.waiting").await;
    ann_ws.send(json!({"action": "match.cancel", "requestId": "c1"})).await;
    env.eventually("ann left the pool", || async { waiting(&env, &bob).await == 0 }).await;
    ann_ws.assert_alive().await;

    // Another device of ann closing leaves ann waiting; the asking connection closing does not.
    ann_ws.send(json!({"action": "match"})).await;
    ann_ws.recv_type("match.waiting").await;
    ann_other.close().await;
    env.eventually("ann's other device is disconnected", || async { env.stored_connections(&ann.id).await.len() == 1 })
        .await;
    assert_eq!(waiting(&env, &bob).await, 1);
    ann_ws.close().await;
    env.eventually("ann's entry left with its connection", || async { waiting(&env, &bob).await == 0 }).await;

    // So bob, asking now, waits instead of meeting a ghost.
    bob_ws.send(json!({"action": "match"})).await;
    bob_ws.recv_type("match.waiting").await;
    bob_ws.expect_none("match.found", Duration::from_millis(300)).await;
    let mut cat_ws = env.connect(&cat.access).await;
    cat_ws.send(json!({"action": "match"})).await;
    assert_eq!(cat_ws.recv_type("match.found").await["user"]["id"], bob.id.as_str());
    assert_eq!(bob_ws.recv_type("match.found").await["user"]["id"], cat.id.as_str());
}

#[tokio::test]
async fn twenty_users_matching_at_once_form_ten_pairs() {
    let env = TestEnv::start_with(|k| (k == "CHAT_WS_RATE_PER_MIN").then(|| "0".to_string())).await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(env.register(&format!("m{i}")).await);
    }
    let mut sockets = Vec::new();
    for user in &users {
        sockets.push(env.connect(&user.access).await);
    }
    // Every frame leaves before any answer is read: the invocations overlap.
    for ws in sockets.iter_mut() {
        ws.send(json!({"action": "match"})).await;
    }
    let found: Vec<Value> = futures::future::join_all(sockets.iter_mut().map(|ws| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match ws.try_recv(left).await {
                Some(event) if event["type"] == "match.found" => return event,
                Some(_) => continue,
                None => panic!("no match.found within 30 s"),
            }
        }
    }))
    .await;

    let mut partner_of = BTreeMap::new();
    let mut conversations: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (user, event) in users.iter().zip(&found) {
        let partner = event["user"]["id"].as_str().unwrap().to_string();
        assert_ne!(partner, user.id, "never oneself");
        assert!(partner_of.insert(user.id.clone(), partner).is_none());
        conversations.entry(event["conversationId"].as_str().unwrap().to_string()).or_default().insert(user.id.clone());
    }
    for (user, partner) in &partner_of {
        assert_eq!(partner_of.get(partner), Some(user), "pairs are mutual");
    }
    assert_eq!(conversations.len(), 10, "ten pairs: {conversations:?}");
    assert!(conversations.values().all(|members| members.len() == 2));
    // Each user in exactly one pair: nobody hears a second match.
    for ws in sockets.iter_mut() {
        ws.expect_none("match.found", Duration::from_millis(200)).await;
    }
    assert_eq!(waiting(&env, &users[0]).await, 0);
}

/// The AWS requests of a match, counted by the proxy in front of the emulator
/// (docs/data-model.md, "Random matching", turns them into units).
#[tokio::test]
async fn aws_requests_per_match() {
    let (env, proxy) = TestEnv::start_behind_proxy().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    proxy.pricing.set_enabled(true);
    proxy.take_counts();
    proxy.pricing.take();
    ann_ws.send(json!({"action": "match"})).await;
    ann_ws.recv_type("match.waiting").await;
    // The $default function's own requests (the stream's consumers run meanwhile).
    let first = proxy.take_counts_of("ws-default");
    eprintln!("units of the first `match`: {:?}", proxy.pricing.take());
    bob_ws.send(json!({"action": "match"})).await;
    bob_ws.recv_type("match.found").await;
    ann_ws.recv_type("match.found").await;
    let second = proxy.take_counts_of("ws-default");
    eprintln!("units of the second `match`: {:?}", proxy.pricing.take());
    eprintln!("AWS requests of the first `match` (waits): {first:?}; of the second (pairs): {second:?}");
    assert_eq!(first.get("PutItem"), Some(&1), "{first:?}");
    assert_eq!(first.get("Query"), Some(&1), "{first:?}");
    assert_eq!(
        second.get("TransactWriteItems").copied().unwrap_or(0),
        2,
        "the pairing and the conversation: {second:?}"
    );
    assert_eq!(second.get("GetItem"), Some(&2), "both public users: {second:?}");
}
