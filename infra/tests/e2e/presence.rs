//! Presence end to end: `presence` on a user's first connection and last disconnection only, to
//! the users who share a conversation with it, also when the last connection is found gone (410).
//!
//! Presence on connect is pushed inside `$connect`, before the handshake completes; so an event
//! that a correct backend would NOT push would sit on the watcher's socket before anything the
//! test causes afterwards. Each "nothing was pushed" check therefore sends a sentinel afterwards
//! (a message or a ping) and asserts the sentinel is the very next event.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, Ws};

async fn next_is(ws: &mut Ws, kind: &str) -> Value {
    let event = ws.recv().await;
    assert_eq!(event["type"], kind, "expected {kind} next, got {event}");
    event
}

/// `from` sends a message to `to`; `watcher` (one of `to`'s connections) must see it next.
async fn sentinel_message(from: &mut Ws, to: &TestUser, watcher: &mut Ws, text: &str) {
    from.send(json!({"action": "send", "to": to.id, "content": text, "clientMsgId": text})).await;
    from.recv_type("message.sent").await;
    assert_eq!(next_is(watcher, "message.new").await["message"]["content"], text);
}

fn assert_presence(event: &Value, user: &TestUser, online: bool) {
    assert_eq!(event["type"], "presence", "{event}");
    assert_eq!(event["userId"], user.id.as_str(), "{event}");
    assert_eq!(event["online"], online, "{event}");
    assert!(event["lastSeen"].as_str().is_some_and(|s| s.ends_with('Z')), "{event}");
}

#[tokio::test]
async fn presence_follows_the_first_connection_and_the_last_disconnection() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    env.open_direct(&ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;

    // first device: online
    let mut phone = env.connect(&ann.access).await;
    let online = next_is(&mut bob_ws, "presence").await;
    assert_presence(&online, &ann, true);

    // a second device: nothing
    let mut laptop = env.connect(&ann.access).await;
    sentinel_message(&mut laptop, &bob, &mut bob_ws, "after-second-connect").await;

    // the first of two closes: nothing
    phone.send(json!({"action": "ping"})).await;
    phone.recv_type("pong").await;
    phone.close().await;
    env.eventually("the phone's record is gone", || async { env.stored_connections(&ann.id).await.len() == 1 }).await;
    sentinel_message(&mut laptop, &bob, &mut bob_ws, "after-first-close").await;
    bob_ws.expect_none("presence", Duration::from_millis(300)).await;

    // the last one closes: offline, with a lastSeen not before the online one
    laptop.close().await;
    let offline = bob_ws.recv_type("presence").await;
    assert_presence(&offline, &ann, false);
    assert!(offline["lastSeen"].as_str().unwrap() >= online["lastSeen"].as_str().unwrap());

    // and back: online again
    let _again = env.connect(&ann.access).await;
    assert_presence(&next_is(&mut bob_ws, "presence").await, &ann, true);
}

#[tokio::test]
async fn presence_reaches_only_users_who_share_a_conversation() {
    let env = TestEnv::start().await;
    let (ann, bob, carol) = (env.register("ann").await, env.register("bob").await, env.register("carol").await);
    env.open_direct(&bob, &ann).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let mut carol_ws = env.connect(&carol.access).await;
    // bob and carol share nothing: neither was told about the other
    for ws in [&mut bob_ws, &mut carol_ws] {
        ws.send(json!({"action": "ping", "requestId": "p0"})).await;
        next_is(ws, "pong").await;
    }

    let mut ann_ws = env.connect(&ann.access).await;
    assert_presence(&next_is(&mut bob_ws, "presence").await, &ann, true);
    carol_ws.send(json!({"action": "ping", "requestId": "p1"})).await;
    assert_eq!(next_is(&mut carol_ws, "pong").await["requestId"], "p1", "the stranger got something first");
    // the user itself is not told about its own presence
    ann_ws.send(json!({"action": "ping", "requestId": "p2"})).await;
    assert_eq!(next_is(&mut ann_ws, "pong").await["requestId"], "p2");

    ann_ws.close().await;
    assert_presence(&bob_ws.recv_type("presence").await, &ann, false);
    carol_ws.expect_none("presence", Duration::from_millis(300)).await;
    carol_ws.assert_alive().await;
}

#[tokio::test]
async fn two_devices_connecting_or_closing_together_announce_once_each_way() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    env.open_direct(&ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;

    let (mut a, b) = tokio::join!(env.connect(&ann.access), env.connect(&ann.access));
    // at least one online (normally exactly one; two only if the two writes and the two
    // connectedAt stamps disagree in order, and a repeated online is harmless)
    assert_presence(&next_is(&mut bob_ws, "presence").await, &ann, true);
    a.send(json!({"action": "send", "to": bob.id, "content": "both-up", "clientMsgId": "both-up"})).await;
    let mut onlines = 1;
    loop {
        let event = bob_ws.recv().await;
        if event["type"] == "message.new" {
            break;
        }
        assert_presence(&event, &ann, true);
        onlines += 1;
    }
    assert!(onlines <= 2, "{onlines} online events");
    assert_eq!(env.stored_connections(&ann.id).await.len(), 2);

    tokio::join!(a.close(), b.close());
    // the last read after both deletes sees none: offline is announced
    assert_presence(&bob_ws.recv_type("presence").await, &ann, false);
    env.eventually("both records are gone", || async { env.stored_connections(&ann.id).await.is_empty() }).await;
}

#[tokio::test]
async fn a_last_connection_found_gone_is_announced_offline() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let (bob_stale, stale_id) = env.connect_with_id(&bob.access).await;
    assert_presence(&next_is(&mut ann_ws, "presence").await, &bob, true);

    // bob's socket dies without a $disconnect: nobody is told yet
    assert!(env.backend.gateway.drop_silently(&stale_id));
    drop(bob_stale);
    env.age_connection(&bob.id, &stale_id, 60).await;
    ann_ws.send(json!({"action": "send", "to": bob.id, "content": "there?", "clientMsgId": "g1"})).await;
    next_is(&mut ann_ws, "message.sent").await;
    // the push to bob met 410: the record goes, and bob had no other connection
    assert_presence(&next_is(&mut ann_ws, "presence").await, &bob, false);
    assert!(env.stored_connections(&bob.id).await.is_empty());
    let (_, user) = env.call("GET", &format!("/users/{}", bob.id), Some(&ann.access), None).await;
    assert_eq!(user["online"], false);
}

/// Writes a membership item as the store does (`CONV#c`/`MEMBER#u`, gsi1 `USER#u`/`CONV#c`), for a
/// group conversation that this branch cannot create through the API yet.
async fn add_member(env: &TestEnv, conversation: &str, user_id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    env.dynamo
        .put_item()
        .table_name(&env.table)
        .item("pk", S(format!("CONV#{conversation}")))
        .item("sk", S(format!("MEMBER#{user_id}")))
        .item("gsi1pk", S(format!("USER#{user_id}")))
        .item("gsi1sk", S(format!("CONV#{conversation}")))
        .item("userId", S(user_id.to_string()))
        .item("role", S("member".into()))
        .item("joinedAt", S("2026-01-01T00:00:00.000Z".into()))
        .send()
        .await
        .expect("put member");
}

#[tokio::test]
async fn conversations_over_the_member_bound_are_skipped() {
    let env = TestEnv::start_with(|key| (key == "CHAT_PRESENCE_MAX_ROOM_MEMBERS").then(|| "2".into())).await;
    let (ann, bob, carol, dave) =
        (env.register("ann").await, env.register("bob").await, env.register("carol").await, env.register("dave").await);
    for user in [&ann, &bob] {
        add_member(&env, "small-group", &user.id).await;
    }
    for user in [&ann, &carol, &dave] {
        add_member(&env, "big-room", &user.id).await;
    }
    let mut bob_ws = env.connect(&bob.access).await;
    let mut carol_ws = env.connect(&carol.access).await;

    let _ann_ws = env.connect(&ann.access).await;
    assert_presence(&next_is(&mut bob_ws, "presence").await, &ann, true);
    carol_ws.send(json!({"action": "ping", "requestId": "c1"})).await;
    assert_eq!(next_is(&mut carol_ws, "pong").await["requestId"], "c1", "a member of a too-large room was told");

    let (_, online) = env.call("GET", "/users/online", Some(&ann.access), None).await;
    let ids: Vec<&str> = online["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [bob.id.as_str()], "{online}");
}
