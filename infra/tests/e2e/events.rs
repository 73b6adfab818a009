//! Domain events end to end: the table's stream through the local event-source mapping and the
//! events function onto the bus, read at the webhook. Every change of the contract's kinds makes
//! exactly one event (repeats carry the same `detail.eventId`), with the public object as
//! detail; changes of no interest (delivered pointers, mute) make none; a record the function
//! cannot read is retried, split off and described to the on-failure queue while the changes
//! after it still come through.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, assert_no_private_fields};
use crate::webhooks::Receiver;

/// The distinct events (by `detail.eventId`) of the calls so far, as (detail-type, detail).
fn distinct(receiver: &Receiver) -> Vec<(String, Value)> {
    let mut by_id: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for (_, event) in receiver.calls() {
        let Some(id) = event["detail"]["eventId"].as_str() else { continue };
        let previous = by_id.insert(
            id.to_string(),
            (event["detail-type"].as_str().unwrap_or_default().into(), event["detail"].clone()),
        );
        if let Some(previous) = previous {
            assert_eq!(previous.1, event["detail"], "a redelivery with the same eventId differs");
        }
    }
    by_id.into_values().collect()
}

fn count(events: &[(String, Value)], kind: &str, check: impl Fn(&Value) -> bool) -> usize {
    events.iter().filter(|(k, d)| k == kind && check(d)).count()
}

async fn create(env: &TestEnv, owner: &TestUser, body: Value) -> String {
    let (status, conv) = env.call("POST", "/conversations", Some(&owner.access), Some(body)).await;
    assert_eq!(status, 201, "{conv}");
    conv["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_change_makes_its_domain_event_once() {
    let receiver = Receiver::start(0).await;
    let env = receiver.backend().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let group = create(&env, &ann, json!({"type": "group", "name": "team", "memberIds": [bob.id]})).await;
    let message = env.post_message(&ann, &group, "first", "c1").await;
    let id = message["id"].as_str().unwrap().to_string();
    let path = format!("/conversations/{group}/messages/{id}");
    let (status, _) = env.call("PATCH", &path, Some(&ann.access), Some(json!({"content": "edited"}))).await;
    assert_eq!(status, 200);
    let (status, _) = env
        .call("POST", &format!("/conversations/{group}/read"), Some(&bob.access), Some(json!({"messageId": id})))
        .await;
    assert_eq!(status, 204);
    let (status, _) = env.call("DELETE", &path, Some(&ann.access), None).await;
    assert_eq!(status, 204);
    // no event: a mute, a delivered pointer
    let (status, _) =
        env.call("PATCH", &format!("/conversations/{group}/me"), Some(&bob.access), Some(json!({"muted": true}))).await;
    assert_eq!(status, 200);
    let mut ws = env.connect(&bob.access).await;
    ws.send(json!({"action": "delivered", "conversationId": group, "messageId": id})).await;
    // a room: joined and left
    let cat = env.register("cat").await;
    let room = create(&env, &ann, json!({"type": "room", "name": "lobby"})).await;
    let (status, _) = env
        .call("POST", &format!("/conversations/{room}/members"), Some(&cat.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!(status, 200);
    let (status, _) =
        env.call("DELETE", &format!("/conversations/{room}/members/{}", cat.id), Some(&cat.access), None).await;
    assert_eq!(status, 204);
    // the last change; everything before it is on the stream before it
    let last = env.post_message(&cat, &env.open_direct(&cat, &ann).await, "last", "c9").await;
    let last_id = last["id"].as_str().unwrap().to_string();
    receiver
        .until("the last message's event", |calls| calls.iter().any(|(_, e)| e["detail"]["id"] == last_id.as_str()))
        .await;
    receiver
        .until("the room's member.left", |_| {
            count(&distinct(&receiver), "member.left", |d| d["conversationId"] == room.as_str()) == 1
        })
        .await;

    let events = distinct(&receiver);
    let user = |u: &TestUser| count(&events, "user.registered", |d| d["id"] == u.id.as_str());
    assert_eq!((user(&ann), user(&bob), user(&cat)), (1, 1, 1), "{events:#?}");
    assert_eq!(
        count(&events, "conversation.created", |d| d["id"] == group.as_str()
            && d["type"] == "group"
            && d["name"] == "team"),
        1
    );
    assert_eq!(count(&events, "conversation.created", |d| d["id"] == room.as_str()), 1);
    assert_eq!(count(&events, "member.joined", |d| d["conversationId"] == group.as_str()), 2, "{events:#?}");
    assert_eq!(count(&events, "member.joined", |d| d["conversationId"] == room.as_str()), 2, "owner and cat");
    assert_eq!(
        count(&events, "member.left", |d| d["conversationId"] == room.as_str() && d["userId"] == cat.id.as_str()),
        1
    );
    assert_eq!(count(&events, "message.created", |d| d["id"] == id.as_str() && d["content"] == "first"), 1);
    assert_eq!(count(&events, "message.updated", |d| d["id"] == id.as_str() && d["content"] == "edited"), 1);
    assert_eq!(
        count(&events, "message.deleted", |d| d["id"] == id.as_str() && d["deleted"] == true && d["content"].is_null()),
        1
    );
    assert_eq!(
        count(&events, "receipt.read", |d| d["conversationId"] == group.as_str()
            && d["userId"] == bob.id.as_str()
            && d["messageId"] == id.as_str()
            && d["status"] == "read"),
        1,
        "{events:#?}"
    );
    // exactly the contract's kinds; never an email or a password hash
    let kinds = [
        "message.created",
        "message.updated",
        "message.deleted",
        "member.joined",
        "member.left",
        "conversation.created",
        "user.registered",
        "receipt.read",
    ];
    assert!(events.iter().all(|(k, _)| kinds.contains(&k.as_str())), "{events:#?}");
    for (_, detail) in &events {
        assert_no_private_fields(detail);
    }
    // the delivered pointer and the mute made none: bob's member item changed three times, one was a read
    assert_eq!(count(&events, "receipt.read", |_| true), 1);
    ws.close().await;
}

#[tokio::test]
async fn an_unreadable_record_is_set_aside_and_later_changes_still_come_through() {
    let receiver = Receiver::start(0).await;
    let env = receiver.backend().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let conversation = env.open_direct(&ann, &bob).await;
    // a message item no domain event can be made of (no kind, no sender), written beside the API
    let poison = chat::domain::new_id();
    env.dynamo
        .put_item()
        .table_name(&env.table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONV#{conversation}")))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("MSG#{poison}")))
        .item("id", aws_sdk_dynamodb::types::AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    let after = env.post_message(&ann, &conversation, "after the poison", "c1").await;
    let after_id = after["id"].as_str().unwrap().to_string();
    receiver
        .until("the message after the poison", |calls| {
            calls.iter().any(|(_, e)| e["detail"]["id"] == after_id.as_str())
        })
        .await;

    // the on-failure queue describes where the record is
    let queue = &env.backend.queues["EventsFailureQueue"];
    let sqs = env.sqs();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let body = loop {
        let out = sqs.receive_message().queue_url(&queue.url).wait_time_seconds(0).send().await.unwrap();
        if let Some(m) = out.messages.unwrap_or_default().into_iter().next() {
            break serde_json::from_str::<Value>(m.body().unwrap()).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing in the on-failure queue");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let info = &body["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 1, "bisected down to the one record: {body}");
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    assert_eq!(body["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(body["requestContext"]["approximateInvokeCount"], 6, "MaximumRetryAttempts 5: {body}");
    // nothing of the poison reached the bus
    assert!(receiver.calls().iter().all(|(_, e)| e["detail"]["id"] != poison.as_str()));
}
