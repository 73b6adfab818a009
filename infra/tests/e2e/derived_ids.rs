//! A `clientMsgId` that is a fresh ULID names the message's id: one conditional put stores and
//! dedupes the message (no claim item), every resend finds it, a resend too late for the
//! derived id finds it too, a ULID far ahead of the clock is refused with nothing stored, and a
//! message that lands behind a `sync` cursor is in the next `sync` (domain/message_id.rs).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::support::TestEnv;

/// A ULID minted `offset_ms` from now (negative: in the past), as a client with that clock would.
fn ulid_at(offset_ms: i64) -> String {
    let ms = (chrono::Utc::now().timestamp_millis() + offset_ms) as u64;
    ulid::Ulid::from_parts(ms, rand_bits()).to_string()
}

fn rand_bits() -> u128 {
    ulid::Ulid::generate().random()
}

fn time_of(id: &str) -> u64 {
    ulid::Ulid::from_string(id).unwrap().timestamp_ms()
}

/// Idempotency claim items of `user` (read straight from the table).
async fn claims_of(env: &TestEnv, user: &str) -> usize {
    let out = env
        .dynamo
        .scan()
        .table_name(&env.table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", AttributeValue::S(format!("IDEM#{user}#")))
        .consistent_read(true)
        .send()
        .await
        .expect("scan claims");
    out.items().len()
}

async fn history(env: &TestEnv, token: &str, conversation: &str) -> Vec<Value> {
    let path = format!("/conversations/{conversation}/messages?after=00000000000000000000000000&limit=100");
    let (status, page) = env.call("GET", &path, Some(token), None).await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_fresh_ulid_client_msg_id_is_one_write_and_every_resend_finds_it() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;

    let cmid = ulid_at(-300);
    let frame = json!({"action": "send", "to": bob.id, "content": "derived", "clientMsgId": cmid});
    ann_ws.send(frame.clone()).await;
    let first = ann_ws.recv_type("message.sent").await["message"].clone();
    let id = first["id"].as_str().unwrap().to_string();
    assert_ne!(id, cmid, "the id is derived from the clientMsgId, not the clientMsgId itself");
    assert_eq!(time_of(&id), time_of(&cmid), "the id carries the clientMsgId's time");
    assert_eq!(bob_ws.recv_type("message.new").await["message"]["id"], id.as_str());
    assert_eq!(claims_of(&env, &ann.id).await, 0, "no claim item: the message item is the only write");

    // A resend (same frame) answers with the first message and pushes it again.
    ann_ws.send(frame).await;
    assert_eq!(ann_ws.recv_type("message.sent").await["message"], first);
    assert_eq!(bob_ws.recv_type("message.new").await["message"]["id"], id.as_str());
    // Over REST too (200: a repeat).
    let conversation = first["conversationId"].as_str().unwrap().to_string();
    let path = format!("/conversations/{conversation}/messages");
    let (status, again) =
        env.call("POST", &path, Some(&ann.access), Some(json!({"content": "derived", "clientMsgId": cmid}))).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())), "{again}");

    // The same ULID from another sender is another message (the hash names the sender).
    bob_ws
        .send(json!({"action": "send", "conversationId": conversation, "content": "mine", "clientMsgId": cmid}))
        .await;
    let bobs = bob_ws.recv_type("message.sent").await["message"]["id"].as_str().unwrap().to_string();
    assert_ne!(bobs, id);

    // A REST send with a fresh ULID: 201, one write.
    let (status, created) = env
        .call("POST", &path, Some(&ann.access), Some(json!({"content": "rest", "clientMsgId": ulid_at(-100)})))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(claims_of(&env, &ann.id).await, 0);

    let stored: Vec<String> =
        history(&env, &ann.access, &conversation).await.iter().map(|m| m["id"].as_str().unwrap().into()).collect();
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(stored.contains(&id) && stored.contains(&bobs));
}

#[tokio::test]
async fn a_resend_after_the_derived_window_finds_the_message_a_derived_attempt_stored() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let cmid = ulid_at(-500);
    let frame = json!({"action": "send", "to": bob.id, "content": "outbox", "clientMsgId": cmid});
    ann_ws.send(frame.clone()).await;
    let first = ann_ws.recv_type("message.sent").await["message"].clone();

    // Now the ULID is over 5 s old: the resend takes the claimed path. While a derived write
    // could still arrive (until 10.5 s) it is told to come back (nothing stored); then it finds
    // the message.
    tokio::time::sleep(Duration::from_millis(5_000)).await;
    ann_ws.send(frame.clone()).await;
    let err = ann_ws.recv_type("error").await;
    assert_eq!(err["code"], "rate_limited", "{err}");
    let retry_after = err["retryAfter"].as_u64().expect("retryAfter");
    assert!((1..=6).contains(&retry_after), "{err}");
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    ann_ws.send(frame).await;
    assert_eq!(ann_ws.recv_type("message.sent").await["message"], first);
    let conversation = first["conversationId"].as_str().unwrap();
    assert_eq!(history(&env, &ann.access, conversation).await.len(), 1);
    assert_eq!(claims_of(&env, &ann.id).await, 0, "the unused claim was released");

    // A ULID minted long ago (an outbox flushed after a day offline) is a claimed send: a fresh
    // server id, and its resend the same message.
    let old = ulid_at(-86_400_000);
    let frame = json!({"action": "send", "to": bob.id, "content": "old", "clientMsgId": old});
    ann_ws.send(frame.clone()).await;
    let stored = ann_ws.recv_type("message.sent").await["message"].clone();
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert!(time_of(stored["id"].as_str().unwrap()) > now - 60_000, "a server id, not the old time: {stored}");
    assert_eq!(claims_of(&env, &ann.id).await, 1);
    ann_ws.send(frame).await;
    assert_eq!(ann_ws.recv_type("message.sent").await["message"], stored);
    assert_eq!(history(&env, &ann.access, conversation).await.len(), 2);
}

#[tokio::test]
async fn a_ulid_far_ahead_of_the_clock_is_refused_and_one_a_little_ahead_is_waited_for() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    ann_ws
        .send(json!({"action": "send", "requestId": "f", "to": bob.id, "content": "x", "clientMsgId": ulid_at(60_000)}))
        .await;
    let err = ann_ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("invalid_input"), Some("f")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("ahead"), "{err}");

    let ahead = ulid_at(600);
    ann_ws.send(json!({"action": "send", "to": bob.id, "content": "soon", "clientMsgId": ahead})).await;
    let sent = ann_ws.recv_type("message.sent").await["message"].clone();
    assert_eq!(time_of(sent["id"].as_str().unwrap()), time_of(&ahead));
    // Stored only once the server's clock reached the id's time: never ahead of it.
    let conversation = sent["conversationId"].as_str().unwrap();
    let stored = history(&env, &ann.access, conversation).await;
    assert_eq!(stored.len(), 1, "only the waited-for one: {stored:?}");
    assert_eq!(claims_of(&env, &ann.id).await, 0);
}

#[tokio::test]
async fn a_message_stored_behind_a_sync_cursor_is_in_the_next_sync() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    // A ULID minted now, sent only after bob has a newer cursor (a slow network).
    let late = ulid_at(-1_500);
    ann_ws.send(json!({"action": "send", "to": bob.id, "content": "first", "clientMsgId": "plain-1"})).await;
    let cursor = ann_ws.recv_type("message.sent").await["message"].clone();
    assert!(cursor["id"].as_str().unwrap() > late.as_str());
    bob_ws.send(json!({"action": "sync", "requestId": "s1", "since": cursor["id"]})).await;
    let page = bob_ws.recv_type("sync").await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 0, "{page}");

    ann_ws.send(json!({"action": "send", "to": bob.id, "content": "late", "clientMsgId": late})).await;
    let late_message = ann_ws.recv_type("message.sent").await["message"].clone();
    assert!(late_message["id"].as_str().unwrap() < cursor["id"].as_str().unwrap(), "it landed behind the cursor");

    bob_ws.send(json!({"action": "sync", "requestId": "s2", "since": cursor["id"]})).await;
    let page = bob_ws.recv_type("sync").await;
    let got: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![late_message["id"].as_str().unwrap()], "{page}");
    // The cursor never moves back behind `since`.
    assert_eq!(page["cursor"], cursor["id"], "{page}");
    // And from the delivered pointer (no `since`) as well.
    bob_ws
        .send(json!({"action": "delivered", "conversationId": cursor["conversationId"], "messageId": cursor["id"]}))
        .await;
    ann_ws.recv_type("receipt").await;
    bob_ws.send(json!({"action": "sync", "requestId": "s3"})).await;
    let page = bob_ws.recv_type("sync").await;
    let got: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![late_message["id"].as_str().unwrap()], "{page}");
}
