//! Receipts, typing and offline sync end to end.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser};

async fn direct(env: &TestEnv, a: &TestUser, b: &TestUser) -> String {
    let (_, conv) =
        env.call("POST", "/conversations", Some(&a.access), Some(json!({"type": "direct", "userId": b.id}))).await;
    conv["id"].as_str().unwrap().to_string()
}

fn member<'a>(conv: &'a Value, user: &TestUser) -> &'a Value {
    conv["members"].as_array().unwrap().iter().find(|m| m["userId"] == user.id.as_str()).unwrap()
}

#[tokio::test]
async fn receipts_reach_the_sender_and_the_readers_other_devices_and_never_go_back() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let id = direct(&env, &ann, &bob).await;
    let first = env.post_message(&ann, &id, "one", "1").await;
    let second = env.post_message(&ann, &id, "two", "2").await;
    let (first, second) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_phone = env.connect(&bob.access).await;
    let mut bob_laptop = env.connect(&bob.access).await;

    bob_phone.send(json!({"action": "delivered", "conversationId": id, "messageId": second, "requestId": "d1"})).await;
    let answer = bob_phone.recv_type("receipt").await;
    assert_eq!((answer["requestId"].as_str(), answer["status"].as_str()), (Some("d1"), Some("delivered")));
    let receipt = ann_ws.recv_type("receipt").await;
    assert_eq!(receipt["status"], "delivered");
    assert_eq!((receipt["userId"].as_str(), receipt["messageId"].as_str()), (Some(bob.id.as_str()), Some(second)));
    assert!(receipt["at"].as_str().is_some());
    let (_, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&ann.access), None).await;
    assert_eq!(page["messages"][0]["status"], "delivered", "{page}");

    bob_phone.send(json!({"action": "read", "conversationId": id, "messageId": first, "requestId": "r1"})).await;
    assert_eq!(bob_phone.recv_type("receipt").await["requestId"], "r1");
    let read = ann_ws.recv_type("receipt").await;
    assert_eq!((read["status"].as_str(), read["messageId"].as_str()), (Some("read"), Some(first)));
    let other_device = bob_laptop.recv_type("receipt").await;
    assert_eq!((other_device["status"].as_str(), other_device["messageId"].as_str()), (Some("read"), Some(first)));
    let (_, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&ann.access), None).await;
    let status: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["delivered", "read"], "newest first: {page}");
    assert!(page["messages"][0].get("status").is_some());
    let (_, bobs) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&bob.access), None).await;
    assert!(bobs["messages"][0].get("status").is_none(), "status is for the sender's own messages");

    // going back is a no-op: the answer shows where the pointer stands; the sender hears nothing
    bob_phone.send(json!({"action": "delivered", "conversationId": id, "messageId": first, "requestId": "d2"})).await;
    let answer = bob_phone.recv_type("receipt").await;
    assert_eq!(answer["messageId"], second);
    ann_ws.expect_none("receipt", Duration::from_millis(300)).await;
    let (_, conv) = env.call("GET", &format!("/conversations/{id}"), Some(&ann.access), None).await;
    assert_eq!(member(&conv, &bob)["lastDeliveredId"], second);
    assert_eq!(member(&conv, &bob)["lastReadId"], first);

    // read over REST moves both pointers
    let (status, _) = env
        .call("POST", &format!("/conversations/{id}/read"), Some(&bob.access), Some(json!({"messageId": second})))
        .await;
    assert_eq!(status, 204);
    assert_eq!(ann_ws.recv_type("receipt").await["messageId"], second);
    let (_, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&ann.access), None).await;
    assert_eq!(page["messages"][0]["status"], "read");

    // bad receipts: errors, connection stays open
    for (frame, code) in [
        (json!({"action": "read", "conversationId": id}), "invalid_input"),
        (json!({"action": "read", "conversationId": id, "messageId": "nope"}), "invalid_input"),
        (json!({"action": "read", "conversationId": id, "messageId": "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"}), "invalid_input"),
        (
            json!({"action": "delivered", "conversationId": "g-01ARZ3NDEKTSV4RRFFQ69G5FAV", "messageId": first}),
            "not_found",
        ),
    ] {
        bob_phone.send(frame.clone()).await;
        assert_eq!(bob_phone.recv_type("error").await["code"], code, "{frame}");
    }
    bob_phone.assert_alive().await;
    let eve = env.register("eve").await;
    let mut eve_ws = env.connect(&eve.access).await;
    eve_ws.send(json!({"action": "read", "conversationId": id, "messageId": second})).await;
    assert_eq!(eve_ws.recv_type("error").await["code"], "not_found");
}

#[tokio::test]
async fn typing_goes_to_the_other_members_only() {
    let env = TestEnv::start().await;
    let (ann, bob, cat, eve) =
        (env.register("ann").await, env.register("bob").await, env.register("cat").await, env.register("eve").await);
    let (_, conv) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "g", "memberIds": [bob.id, cat.id]})),
        )
        .await;
    let id = conv["id"].as_str().unwrap();
    let mut ann_phone = env.connect(&ann.access).await;
    let mut ann_laptop = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let mut cat_ws = env.connect(&cat.access).await;
    let mut eve_ws = env.connect(&eve.access).await;

    ann_phone.send(json!({"action": "typing", "conversationId": id, "state": "start"})).await;
    for ws in [&mut bob_ws, &mut cat_ws] {
        let t = ws.recv_type("typing").await;
        assert_eq!((t["userId"].as_str(), t["state"].as_str()), (Some(ann.id.as_str()), Some("start")));
        assert_eq!(t["expiresIn"], 10);
        assert_eq!(t["conversationId"], id);
    }
    ann_laptop.expect_none("typing", Duration::from_millis(300)).await;
    ann_phone.expect_none("typing", Duration::from_millis(100)).await;
    ann_phone.send(json!({"action": "typing", "conversationId": id, "state": "stop"})).await;
    let stop = bob_ws.recv_type("typing").await;
    assert_eq!(stop["state"], "stop");
    assert!(stop.get("expiresIn").is_none());
    assert_eq!(cat_ws.recv_type("typing").await["state"], "stop");

    eve_ws.send(json!({"action": "typing", "conversationId": id, "state": "start", "requestId": "t"})).await;
    let err = eve_ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("not_found"), Some("t")));
    bob_ws.expect_none("typing", Duration::from_millis(300)).await;
    ann_phone.send(json!({"action": "typing", "conversationId": id, "state": "maybe"})).await;
    assert_eq!(ann_phone.recv_type("error").await["code"], "invalid_input");

    // direct conversations: the other member only
    let dm = direct(&env, &ann, &bob).await;
    bob_ws.send(json!({"action": "typing", "conversationId": dm, "state": "start"})).await;
    let t = ann_laptop.recv_type("typing").await;
    assert_eq!((t["conversationId"].as_str(), t["userId"].as_str()), (Some(dm.as_str()), Some(bob.id.as_str())));
    assert_eq!(ann_phone.recv_type("typing").await["conversationId"], dm.as_str());
    cat_ws.expect_none("typing", Duration::from_millis(300)).await;
    bob_ws.expect_none("typing", Duration::from_millis(100)).await;
}

#[tokio::test]
async fn an_offline_user_syncs_exactly_what_it_missed_each_once() {
    let env = TestEnv::start().await;
    let (ann, bob, cat) = (env.register("ann").await, env.register("bob").await, env.register("cat").await);
    let dm = direct(&env, &ann, &bob).await;
    let (_, group) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "g", "memberIds": [bob.id, cat.id]})),
        )
        .await;
    let group = group["id"].as_str().unwrap().to_string();

    // bob saw the first message, then went offline
    let seen = env.post_message(&ann, &dm, "seen", "s").await;
    let (status, _) = env
        .call("POST", &format!("/conversations/{dm}/read"), Some(&bob.access), Some(json!({"messageId": seen["id"]})))
        .await;
    assert_eq!(status, 204);
    let mut missed = Vec::new();
    for i in 0..3 {
        missed.push(
            env.post_message(&ann, &dm, &format!("dm {i}"), &format!("d{i}")).await["id"].as_str().unwrap().to_string(),
        );
        missed.push(
            env.post_message(&cat, &group, &format!("g {i}"), &format!("g{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    missed.push(env.post_message(&bob, &group, "from another device", "b").await["id"].as_str().unwrap().to_string());

    let mut bob_ws = env.connect(&bob.access).await;
    // pages of 3: every missed message once, in id order
    let mut got: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut receipts = Vec::new();
    for page in 0.. {
        assert!(page < 10, "sync does not end");
        let mut frame = json!({"action": "sync", "limit": 3, "requestId": format!("s{page}")});
        if let Some(c) = &cursor {
            frame["cursor"] = json!(c);
        }
        bob_ws.send(frame).await;
        let answer = bob_ws.recv_type("sync").await;
        assert_eq!(answer["requestId"], format!("s{page}"));
        got.extend(answer["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()));
        receipts.extend(answer["receipts"].as_array().unwrap().iter().cloned());
        cursor = answer["cursor"].as_str().map(str::to_string);
        if !answer["hasMore"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(got, missed, "exactly the missed messages, each once, oldest first");

    // after acknowledging delivery, a new sync has nothing old
    let last = missed.last().unwrap();
    for conv in [&dm, &group] {
        let newest = if conv == &dm { &missed[4] } else { last };
        bob_ws.send(json!({"action": "delivered", "conversationId": conv, "messageId": newest})).await;
        bob_ws.recv_type("receipt").await;
    }
    let fresh = env.post_message(&ann, &dm, "fresh", "f").await;
    bob_ws.send(json!({"action": "sync"})).await;
    let answer = bob_ws.recv_type("sync").await;
    let ids: Vec<&str> = answer["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![fresh["id"].as_str().unwrap()]);

    // `since` replaces the pointers
    bob_ws.send(json!({"action": "sync", "since": missed[3]})).await;
    let answer = bob_ws.recv_type("sync").await;
    let ids: Vec<String> =
        answer["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    let mut expected: Vec<String> = missed[4..].to_vec();
    expected.push(fresh["id"].as_str().unwrap().to_string());
    assert_eq!(ids, expected);

    // ann's receipts reach bob's sync: where the others' pointers stand
    let (status, _) = env
        .call("POST", &format!("/conversations/{dm}/read"), Some(&ann.access), Some(json!({"messageId": fresh["id"]})))
        .await;
    assert_eq!(status, 204);
    bob_ws.send(json!({"action": "sync"})).await;
    let answer = bob_ws.recv_type("sync").await;
    assert!(
        answer["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["userId"] == ann.id.as_str() && r["status"] == "read" && r["conversationId"] == dm.as_str()),
        "{answer}"
    );
    bob_ws.send(json!({"action": "sync", "since": "garbage"})).await;
    assert_eq!(bob_ws.recv_type("error").await["code"], "invalid_input");
}
