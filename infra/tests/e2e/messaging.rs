//! Direct messages end to end: WebSocket `send`, pushes to every connection, idempotency,
//! history, authorization, bad frames and gone connections.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::TestEnv;

fn ids(page: &Value) -> Vec<String> {
    page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_direct_message_reaches_every_connection_and_history() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_phone = env.connect(&ann.access).await;
    let mut ann_laptop = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;

    ann_phone
        .send(json!({"action": "send", "requestId": "r1", "to": bob.id, "content": "hi bob", "clientMsgId": "c1"}))
        .await;
    let sent = ann_phone.recv_type("message.sent").await;
    assert_eq!(sent["requestId"], "r1");
    assert_eq!(sent["clientMsgId"], "c1");
    let message = sent["message"].clone();
    assert_eq!(message["content"], "hi bob");
    assert_eq!(message["senderId"], ann.id.as_str());
    assert_eq!(message["kind"], "text");
    assert_eq!(message["deleted"], false);
    assert!(message["createdAt"].as_str().unwrap().ends_with('Z'));

    let got = bob_ws.recv_type("message.new").await;
    assert_eq!(got["message"], message);
    let other_device = ann_laptop.recv_type("message.new").await;
    assert_eq!(other_device["message"]["id"], message["id"]);
    // the sending connection gets message.sent, not a second copy as message.new
    ann_phone.expect_none("message.new", Duration::from_millis(300)).await;

    let conversation = message["conversationId"].as_str().unwrap();
    for user in [&ann, &bob] {
        let (status, page) =
            env.call("GET", &format!("/conversations/{conversation}/messages"), Some(&user.access), None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), vec![message["id"].as_str().unwrap().to_string()]);
    }
    let (status, conv) = env.call("GET", &format!("/conversations/{conversation}"), Some(&bob.access), None).await;
    assert_eq!((status, conv["type"].as_str()), (200, Some("direct")), "{conv}");
    let mut members: Vec<&str> =
        conv["members"].as_array().unwrap().iter().map(|m| m["userId"].as_str().unwrap()).collect();
    members.sort();
    let mut expected = vec![ann.id.as_str(), bob.id.as_str()];
    expected.sort();
    assert_eq!(members, expected);

    // bob answers by conversation id
    bob_ws
        .send(json!({"action": "send", "conversationId": conversation, "content": "hi ann", "clientMsgId": "b1"}))
        .await;
    let reply = bob_ws.recv_type("message.sent").await;
    assert_eq!(ann_phone.recv_type("message.new").await["message"]["id"], reply["message"]["id"]);
    assert_eq!(ann_laptop.recv_type("message.new").await["message"]["id"], reply["message"]["id"]);
}

#[tokio::test]
async fn a_resend_with_the_same_client_msg_id_stores_one_message() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let frame = json!({"action": "send", "to": bob.id, "content": "once", "clientMsgId": "same"});
    ann_ws.send(frame.clone()).await;
    let first = ann_ws.recv_type("message.sent").await;
    ann_ws.send(frame).await;
    let second = ann_ws.recv_type("message.sent").await;
    assert_eq!(first["message"], second["message"]);

    // and over REST, the same pair answers 200 with the first message
    let conversation = first["message"]["conversationId"].as_str().unwrap();
    let path = format!("/conversations/{conversation}/messages");
    let (status, again) =
        env.call("POST", &path, Some(&ann.access), Some(json!({"content": "once", "clientMsgId": "same"}))).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["message"]["id"]);
    let (status, created) =
        env.call("POST", &path, Some(&ann.access), Some(json!({"content": "twice", "clientMsgId": "other"}))).await;
    assert_eq!(status, 201, "{created}");

    let (_, page) = env.call("GET", &path, Some(&bob.access), None).await;
    assert_eq!(ids(&page).len(), 2, "{page}");
}

#[tokio::test]
async fn history_is_newest_first_and_pages_with_before_and_after() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let (status, conv) =
        env.call("POST", "/conversations", Some(&ann.access), Some(json!({"type": "direct", "userId": bob.id}))).await;
    assert_eq!(status, 201, "{conv}");
    let (status, again) =
        env.call("POST", "/conversations", Some(&bob.access), Some(json!({"type": "direct", "userId": ann.id}))).await;
    assert_eq!(status, 200, "the direct conversation is never duplicated: {again}");
    assert_eq!(again["id"], conv["id"]);

    let path = format!("/conversations/{}/messages", conv["id"].as_str().unwrap());
    let mut sent = Vec::new();
    for i in 0..7 {
        let (status, m) = env
            .call(
                "POST",
                &path,
                Some(&ann.access),
                Some(json!({"content": format!("m{i}"), "clientMsgId": format!("c{i}")})),
            )
            .await;
        assert_eq!(status, 201);
        sent.push(m["id"].as_str().unwrap().to_string());
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();

    let (_, page1) = env.call("GET", &format!("{path}?limit=3"), Some(&bob.access), None).await;
    assert_eq!(ids(&page1), newest_first[0..3]);
    let cursor = page1["nextCursor"].as_str().unwrap();
    let (_, page2) = env.call("GET", &format!("{path}?limit=3&before={cursor}"), Some(&bob.access), None).await;
    assert_eq!(ids(&page2), newest_first[3..6]);
    let cursor = page2["nextCursor"].as_str().unwrap();
    let (_, page3) = env.call("GET", &format!("{path}?limit=3&before={cursor}"), Some(&bob.access), None).await;
    assert_eq!(ids(&page3), newest_first[6..7]);
    assert!(page3["nextCursor"].is_null());

    let (_, after) = env.call("GET", &format!("{path}?limit=4&after={}", sent[1]), Some(&bob.access), None).await;
    assert_eq!(ids(&after), sent[2..6]);
    assert_eq!(after["nextCursor"], sent[5].as_str());

    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?before=nope",
        "?before=01ARZ3NDEKTSV4RRFFQ69G5FAV&after=01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ] {
        let (status, body) = env.call("GET", &format!("{path}{bad}"), Some(&bob.access), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad}");
    }
}

#[tokio::test]
async fn non_members_get_404_and_learn_nothing() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let (_, conv) =
        env.call("POST", "/conversations", Some(&ann.access), Some(json!({"type": "direct", "userId": bob.id}))).await;
    let id = conv["id"].as_str().unwrap();
    let (status, _) = env
        .call(
            "POST",
            &format!("/conversations/{id}/messages"),
            Some(&ann.access),
            Some(json!({"content": "secret", "clientMsgId": "s"})),
        )
        .await;
    assert_eq!(status, 201);

    let missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for path in [
        format!("/conversations/{id}"),
        format!("/conversations/{id}/messages"),
        format!("/conversations/{missing}/messages"),
    ] {
        let (status, body) = env.call("GET", &path, Some(&eve.access), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{path}: {body}");
    }
    let (status, _) = env
        .call(
            "POST",
            &format!("/conversations/{id}/messages"),
            Some(&eve.access),
            Some(json!({"content": "let me in", "clientMsgId": "e"})),
        )
        .await;
    assert_eq!(status, 404);

    let mut eve_ws = env.connect(&eve.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    eve_ws
        .send(json!({"action": "send", "requestId": "x", "conversationId": id, "content": "hi", "clientMsgId": "e2"}))
        .await;
    let err = eve_ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("not_found"), Some("x")));
    bob_ws.expect_none("message.new", Duration::from_millis(300)).await;

    // sending to a user who does not exist, or to oneself
    eve_ws.send(json!({"action": "send", "to": missing, "content": "hi", "clientMsgId": "e3"})).await;
    assert_eq!(eve_ws.recv_type("error").await["code"], "not_found");
    eve_ws.send(json!({"action": "send", "to": eve.id, "content": "hi", "clientMsgId": "e4"})).await;
    assert_eq!(eve_ws.recv_type("error").await["code"], "invalid_input");

    let (_, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&bob.access), None).await;
    assert_eq!(ids(&page).len(), 1, "nothing was stored by the non-member");
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_stays_open() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ws = env.connect(&ann.access).await;

    ws.send_text("{not json").await;
    assert_eq!(ws.recv_type("error").await["code"], "invalid_input");
    ws.assert_alive().await;

    ws.send(json!({"action": "teleport", "requestId": "t1"})).await;
    let err = ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("invalid_input"), Some("t1")));
    ws.assert_alive().await;

    ws.send(json!({"requestId": "t2"})).await;
    assert_eq!(ws.recv_type("error").await["requestId"], "t2");

    ws.send(json!({"action": "send", "requestId": "t3", "to": bob.id, "content": "no id"})).await;
    let err = ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("invalid_input"), Some("t3")));
    assert!(err["message"].as_str().unwrap().contains("clientMsgId"), "{err}");

    ws.send(
        json!({"action": "send", "requestId": "t4", "to": bob.id, "content": "x".repeat(4001), "clientMsgId": "big"}),
    )
    .await;
    let err = ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("payload_too_large"), Some("t4")));
    ws.send(json!({"action": "send", "to": bob.id, "content": "   ", "clientMsgId": "blank"})).await;
    assert_eq!(ws.recv_type("error").await["code"], "invalid_input");

    // a message over 32 KB (in frames under API Gateway's 32 KB frame limit) is refused with payload_too_large
    ws.send_fragmented(&json!({"action": "send", "requestId": "t5", "to": bob.id, "content": "y".repeat(40_000), "clientMsgId": "huge"}), 16 * 1024).await;
    let err = ws.recv_type("error").await;
    assert_eq!(err["code"], "payload_too_large");

    ws.assert_alive().await;
    ws.send(json!({"action": "send", "to": bob.id, "content": "exactly at the limit: ".to_string() + &"z".repeat(3978), "clientMsgId": "ok"})).await;
    assert_eq!(ws.recv_type("message.sent").await["clientMsgId"], "ok");

    let (status, body) =
        env.call("POST", "/conversations", Some(&ann.access), Some(json!({"type": "direct", "userId": bob.id}))).await;
    let path = format!("/conversations/{}/messages", body["id"].as_str().unwrap());
    assert_eq!(status, 200);
    let (_, page) = env.call("GET", &path, Some(&bob.access), None).await;
    assert_eq!(ids(&page).len(), 1, "only the valid message was stored");
}

#[tokio::test]
async fn a_gone_connection_is_removed_on_the_next_push() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let (bob_stale, stale_id) = env.connect_with_id(&bob.access).await;
    let mut bob_live = env.connect(&bob.access).await;
    assert_eq!(env.stored_connections(&bob.id).await.len(), 2);

    // the socket dies and API Gateway forgets it, but no $disconnect reaches the backend
    assert!(env.backend.gateway.drop_silently(&stale_id));
    drop(bob_stale);
    env.age_connection(&bob.id, &stale_id, 60).await;
    assert!(env.stored_connections(&bob.id).await.contains(&stale_id));

    ann_ws.send(json!({"action": "send", "to": bob.id, "content": "still there?", "clientMsgId": "g1"})).await;
    ann_ws.recv_type("message.sent").await;
    assert_eq!(bob_live.recv_type("message.new").await["message"]["content"], "still there?");
    // the push that met 410 removes the record, right after the pushes of that invocation
    env.eventually("the gone connection is removed", || async { env.stored_connections(&bob.id).await.len() == 1 })
        .await;
    assert!(!env.stored_connections(&bob.id).await.contains(&stale_id));
}

#[tokio::test]
async fn closing_a_socket_runs_disconnect() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let ws = env.connect(&ann.access).await;
    assert_eq!(env.stored_connections(&ann.id).await.len(), 1);
    ws.close().await;
    env.eventually("the connection record is deleted", || async { env.stored_connections(&ann.id).await.is_empty() })
        .await;
    let ws = env.connect(&ann.access).await;
    ws.abort();
    env.eventually("an aborted socket is deleted too", || async { env.stored_connections(&ann.id).await.is_empty() })
        .await;
}
