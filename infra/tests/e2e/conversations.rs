//! Groups and rooms end to end: creation, membership and its events, fan-out to every member,
//! edit/delete/clear, the conversation list with unread counts, and the authorization matrix.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, Ws};

fn ids(page: &Value) -> Vec<String> {
    page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

async fn create(env: &TestEnv, owner: &TestUser, body: Value) -> String {
    let (status, conv) = env.call("POST", "/conversations", Some(&owner.access), Some(body)).await;
    assert_eq!(status, 201, "{conv}");
    conv["id"].as_str().unwrap().to_string()
}

/// Sends over WebSocket and returns the stored message.
async fn send(ws: &mut Ws, conversation: &str, content: &str, client: &str) -> Value {
    ws.send(json!({"action": "send", "conversationId": conversation, "content": content, "clientMsgId": client})).await;
    let sent = ws.recv_type("message.sent").await;
    sent["message"].clone()
}

#[tokio::test]
async fn a_group_message_reaches_every_member_and_only_members() {
    let env = TestEnv::start().await;
    let (ann, bob, cat, eve) =
        (env.register("ann").await, env.register("bob").await, env.register("cat").await, env.register("eve").await);
    let (status, conv) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "  Team  ", "memberIds": [bob.id, cat.id, bob.id, ann.id]})),
        )
        .await;
    assert_eq!(status, 201, "{conv}");
    assert_eq!(conv["type"], "group");
    assert_eq!(conv["name"], "Team");
    assert_eq!(conv["memberCount"], 3);
    let roles: Vec<(String, String)> = conv["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["userId"].as_str().unwrap().to_string(), m["role"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(roles.len(), 3, "{conv}");
    assert!(roles.contains(&(ann.id.clone(), "owner".into())));
    assert!(roles.contains(&(bob.id.clone(), "member".into())));
    let id = conv["id"].as_str().unwrap();

    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let mut cat_ws = env.connect(&cat.access).await;
    let mut eve_ws = env.connect(&eve.access).await;
    let message = send(&mut ann_ws, id, "hello team", "g1").await;
    assert_eq!(bob_ws.recv_type("message.new").await["message"]["id"], message["id"]);
    assert_eq!(cat_ws.recv_type("message.new").await["message"]["id"], message["id"]);
    eve_ws.expect_none("message.new", Duration::from_millis(300)).await;

    // eve is not a member: she can neither read nor write, and gets 404 like for an unknown id
    let (status, _) = env.call("GET", &format!("/conversations/{id}"), Some(&eve.access), None).await;
    assert_eq!(status, 404);
    eve_ws
        .send(json!({"action": "send", "conversationId": id, "content": "x", "clientMsgId": "e1", "requestId": "r"}))
        .await;
    let err = eve_ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("not_found"), Some("r")));

    // a group with an unknown member is refused, and nothing is created
    let (status, body) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "x", "memberIds": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
    for bad in [
        json!({"type": "group"}),
        json!({"type": "group", "name": ""}),
        json!({"type": "room", "name": "r", "memberIds": [bob.id]}),
        json!({"type": "channel", "name": "x"}),
    ] {
        let (status, body) = env.call("POST", "/conversations", Some(&ann.access), Some(bad.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad}: {body}");
    }
}

#[tokio::test]
async fn members_join_leave_and_are_removed_with_events() {
    let env = TestEnv::start().await;
    let (ann, bob, cat, dan) =
        (env.register("ann").await, env.register("bob").await, env.register("cat").await, env.register("dan").await);
    let id = create(&env, &ann, json!({"type": "group", "name": "g", "memberIds": [bob.id]})).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let mut cat_ws = env.connect(&cat.access).await;

    // bob (a member) adds cat: everyone, cat included, hears member.joined
    let (status, conv) = env
        .call("POST", &format!("/conversations/{id}/members"), Some(&bob.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!(status, 200, "{conv}");
    assert_eq!(conv["memberCount"], 3);
    for ws in [&mut ann_ws, &mut cat_ws] {
        let joined = ws.recv_type("member.joined").await;
        assert_eq!((joined["userId"].as_str(), joined["by"].as_str()), (Some(cat.id.as_str()), Some(bob.id.as_str())));
        assert_eq!(joined["conversationId"], id.as_str());
    }
    // adding twice changes nothing
    let (status, conv) = env
        .call("POST", &format!("/conversations/{id}/members"), Some(&bob.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!((status, conv["memberCount"].as_u64()), (200, Some(3)));

    // dan is not a member: cannot add himself or others
    let (status, _) = env
        .call("POST", &format!("/conversations/{id}/members"), Some(&dan.access), Some(json!({"userId": dan.id})))
        .await;
    assert_eq!(status, 404);
    // cat is no owner: cannot remove bob
    let (status, body) =
        env.call("DELETE", &format!("/conversations/{id}/members/{}", bob.id), Some(&cat.access), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    // the owner removes cat: cat hears it too, then gets nothing more
    let (status, _) =
        env.call("DELETE", &format!("/conversations/{id}/members/{}", cat.id), Some(&ann.access), None).await;
    assert_eq!(status, 204);
    let left = cat_ws.recv_type("member.left").await;
    assert_eq!((left["userId"].as_str(), left["by"].as_str()), (Some(cat.id.as_str()), Some(ann.id.as_str())));
    assert_eq!(ann_ws.recv_type("member.left").await["userId"], cat.id.as_str());
    send(&mut ann_ws, &id, "after cat left", "a1").await;
    cat_ws.expect_none("message.new", Duration::from_millis(300)).await;
    let (status, _) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&cat.access), None).await;
    assert_eq!(status, 404);
    // bob leaves by himself
    let (status, _) =
        env.call("DELETE", &format!("/conversations/{id}/members/{}", bob.id), Some(&bob.access), None).await;
    assert_eq!(status, 204);
    let (_, conv) = env.call("GET", &format!("/conversations/{id}"), Some(&ann.access), None).await;
    assert_eq!(conv["memberCount"], 1, "{conv}");

    // direct conversations have fixed members
    let (_, direct) =
        env.call("POST", "/conversations", Some(&ann.access), Some(json!({"type": "direct", "userId": bob.id}))).await;
    let direct = direct["id"].as_str().unwrap();
    let (status, _) = env
        .call("POST", &format!("/conversations/{direct}/members"), Some(&ann.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!(status, 403);
    let (status, _) = env
        .call("POST", &format!("/conversations/{direct}/members"), Some(&cat.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!(status, 404, "a stranger learns nothing about a direct conversation");
}

#[tokio::test]
async fn rooms_are_public_to_read_and_join() {
    let env = TestEnv::start().await;
    let (ann, bob, cat) = (env.register("ann").await, env.register("bob").await, env.register("cat").await);
    let id = create(&env, &ann, json!({"type": "room", "name": "lobby"})).await;
    env.post_message(&ann, &id, "welcome", "w1").await;

    // anyone may read a room without joining
    let (status, conv) = env.call("GET", &format!("/conversations/{id}"), Some(&bob.access), None).await;
    assert_eq!((status, conv["type"].as_str()), (200, Some("room")), "{conv}");
    let (status, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&bob.access), None).await;
    assert_eq!((status, ids(&page).len()), (200, 1), "{page}");
    // but not write, nor add others
    let (status, _) = env
        .call(
            "POST",
            &format!("/conversations/{id}/messages"),
            Some(&bob.access),
            Some(json!({"content": "hi", "clientMsgId": "b1"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .call("POST", &format!("/conversations/{id}/members"), Some(&bob.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!(status, 403);

    // join over WebSocket: the joiner's answer echoes its requestId; members hear member.joined
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    bob_ws.send(json!({"action": "join", "conversationId": id, "requestId": "j1"})).await;
    let joined = bob_ws.recv_type("member.joined").await;
    assert_eq!((joined["requestId"].as_str(), joined["userId"].as_str()), (Some("j1"), Some(bob.id.as_str())));
    let seen = ann_ws.recv_type("member.joined").await;
    assert_eq!(seen["userId"], bob.id.as_str());
    assert!(seen.get("requestId").is_none(), "another client's requestId is not leaked: {seen}");
    let m = send(&mut bob_ws, &id, "hi all", "b2").await;
    assert_eq!(ann_ws.recv_type("message.new").await["message"]["id"], m["id"]);

    // leave: no more messages
    bob_ws.send(json!({"action": "leave", "conversationId": id, "requestId": "l1"})).await;
    assert_eq!(bob_ws.recv_type("member.left").await["requestId"], "l1");
    assert_eq!(ann_ws.recv_type("member.left").await["userId"], bob.id.as_str());
    send(&mut ann_ws, &id, "bye bob", "a2").await;
    bob_ws.expect_none("message.new", Duration::from_millis(300)).await;

    // join and leave are for rooms: a group cannot be joined by a stranger
    let group = create(&env, &ann, json!({"type": "group", "name": "private"})).await;
    bob_ws.send(json!({"action": "join", "conversationId": group, "requestId": "j2"})).await;
    let err = bob_ws.recv_type("error").await;
    assert_eq!((err["code"].as_str(), err["requestId"].as_str()), (Some("not_found"), Some("j2")));
}

#[tokio::test]
async fn only_the_sender_edits_or_deletes_and_everyone_hears_it() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let id = create(&env, &ann, json!({"type": "group", "name": "g", "memberIds": [bob.id]})).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let m = env.post_message(&ann, &id, "typo", "c1").await;
    bob_ws.recv_type("message.new").await;
    let path = format!("/conversations/{id}/messages/{}", m["id"].as_str().unwrap());

    let (status, edited) = env.call("PATCH", &path, Some(&ann.access), Some(json!({"content": "fixed"}))).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["content"], "fixed");
    assert!(edited["editedAt"].as_str().is_some());
    let update = bob_ws.recv_type("message.updated").await;
    assert_eq!(
        (update["message"]["id"].clone(), update["message"]["content"].clone()),
        (m["id"].clone(), json!("fixed"))
    );

    // bob is a member but not the sender; eve is not a member
    let (status, _) = env.call("PATCH", &path, Some(&bob.access), Some(json!({"content": "mine"}))).await;
    assert_eq!(status, 403);
    let (status, _) = env.call("DELETE", &path, Some(&bob.access), None).await;
    assert_eq!(status, 403);
    let (status, _) = env.call("PATCH", &path, Some(&eve.access), Some(json!({"content": "x"}))).await;
    assert_eq!(status, 404);
    let (status, _) = env.call("DELETE", &path, Some(&eve.access), None).await;
    assert_eq!(status, 404);
    let (status, _) = env
        .call(
            "PATCH",
            &format!("/conversations/{id}/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            Some(&ann.access),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = env.call("PATCH", &path, Some(&ann.access), Some(json!({"content": "x".repeat(4001)}))).await;
    assert_eq!(status, 413);

    let (status, _) = env.call("DELETE", &path, Some(&ann.access), None).await;
    assert_eq!(status, 204);
    let deleted = bob_ws.recv_type("message.deleted").await;
    assert_eq!(deleted["message"]["deleted"], true);
    assert!(deleted["message"]["content"].is_null(), "{deleted}");
    let (_, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&bob.access), None).await;
    let stored = &page["messages"][0];
    assert_eq!((stored["deleted"].clone(), stored["content"].clone()), (json!(true), Value::Null), "{page}");
    // a deleted message cannot be edited back
    let (status, _) = env.call("PATCH", &path, Some(&ann.access), Some(json!({"content": "again"}))).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn clearing_history_is_for_the_caller_only() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let id = create(&env, &ann, json!({"type": "group", "name": "g", "memberIds": [bob.id]})).await;
    for i in 0..3 {
        env.post_message(&bob, &id, &format!("old {i}"), &format!("o{i}")).await;
    }
    let (status, _) = env.call("DELETE", &format!("/conversations/{id}/history"), Some(&ann.access), None).await;
    assert_eq!(status, 204);
    let (status, _) = env.call("DELETE", &format!("/conversations/{id}/history"), Some(&eve.access), None).await;
    assert_eq!(status, 404);
    let new = env.post_message(&bob, &id, "new", "n1").await;

    let (_, mine) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&ann.access), None).await;
    assert_eq!(ids(&mine), vec![new["id"].as_str().unwrap().to_string()], "{mine}");
    let (_, theirs) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&bob.access), None).await;
    assert_eq!(ids(&theirs).len(), 4);
    let (_, unread) = env.call("GET", "/unread", Some(&ann.access), None).await;
    assert_eq!(unread["total"], 1, "only the message after the clear is unread: {unread}");
}

#[tokio::test]
async fn the_list_is_newest_first_with_last_message_and_unread_counts() {
    let env = TestEnv::start().await;
    let (ann, bob, cat) = (env.register("ann").await, env.register("bob").await, env.register("cat").await);
    let g1 = create(&env, &ann, json!({"type": "group", "name": "one", "memberIds": [bob.id]})).await;
    let g2 = create(&env, &ann, json!({"type": "group", "name": "two", "memberIds": [bob.id, cat.id]})).await;
    let (_, direct) =
        env.call("POST", "/conversations", Some(&bob.access), Some(json!({"type": "direct", "userId": ann.id}))).await;
    let direct = direct["id"].as_str().unwrap().to_string();

    env.post_message(&bob, &g1, "g1 a", "1").await;
    env.post_message(&bob, &g1, "g1 b", "2").await;
    env.post_message(&cat, &g2, "g2 a", "3").await;
    env.post_message(&ann, &g2, "mine", "4").await;
    let last = env.post_message(&bob, &direct, "dm", "5").await;
    // an activity-free conversation sorts by its creation time
    let g3 = create(&env, &ann, json!({"type": "group", "name": "three"})).await;

    let (status, list) = env.call("GET", "/conversations", Some(&ann.access), None).await;
    assert_eq!(status, 200, "{list}");
    let order: Vec<&str> =
        list["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(order, vec![g3.as_str(), direct.as_str(), g2.as_str(), g1.as_str()]);
    let by_id = |id: &str| list["conversations"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(by_id(&direct)["lastMessage"]["id"], last["id"]);
    assert_eq!(by_id(&g1)["unreadCount"], 2);
    assert_eq!(by_id(&g2)["unreadCount"], 1, "one's own messages are never unread");
    assert_eq!(by_id(&g3)["unreadCount"], 0);
    assert!(by_id(&g3).get("lastMessage").is_none());

    // paging with the cursor covers everything once
    let (_, p1) = env.call("GET", "/conversations?limit=3", Some(&ann.access), None).await;
    let cursor = p1["nextCursor"].as_str().unwrap();
    let (_, p2) = env.call("GET", &format!("/conversations?limit=3&cursor={cursor}"), Some(&ann.access), None).await;
    assert_eq!(p2["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(p2["conversations"][0]["id"], g1.as_str());
    assert!(p2["nextCursor"].is_null());
    let (status, _) = env.call("GET", "/conversations?cursor=garbage!", Some(&ann.access), None).await;
    assert_eq!(status, 400);

    // reading moves the count; GET /unread sums it up
    let (_, unread) = env.call("GET", "/unread", Some(&ann.access), None).await;
    assert_eq!(unread["total"], 4, "{unread}");
    let (_, page) = env.call("GET", &format!("/conversations/{g1}/messages?limit=1"), Some(&ann.access), None).await;
    let newest = page["messages"][0]["id"].as_str().unwrap();
    let (status, _) = env
        .call("POST", &format!("/conversations/{g1}/read"), Some(&ann.access), Some(json!({"messageId": newest})))
        .await;
    assert_eq!(status, 204);
    let (_, unread) = env.call("GET", "/unread", Some(&ann.access), None).await;
    assert_eq!(unread["total"], 2, "{unread}");
    assert!(unread["conversations"].as_array().unwrap().iter().all(|c| c["conversationId"] != g1.as_str()));
}

#[tokio::test]
async fn a_fifty_member_group_reaches_every_member() {
    let env = TestEnv::start().await;
    let owner = env.register("own").await;
    let mut members = Vec::new();
    for i in 0..49 {
        members.push(env.register(&format!("m{i}")).await);
    }
    let id = create(&env, &owner, json!({"type": "group", "name": "big", "memberIds": members.iter().take(40).map(|m| m.id.clone()).collect::<Vec<_>>()})).await;
    for m in members.iter().skip(40) {
        let (status, _) = env
            .call("POST", &format!("/conversations/{id}/members"), Some(&owner.access), Some(json!({"userId": m.id})))
            .await;
        assert_eq!(status, 200);
    }
    let mut sockets = Vec::new();
    for m in &members {
        sockets.push(env.connect(&m.access).await);
    }
    let mut owner_ws = env.connect(&owner.access).await;
    let message = send(&mut owner_ws, &id, "to all fifty", "big1").await;
    for ws in sockets.iter_mut() {
        assert_eq!(ws.recv_type("message.new").await["message"]["id"], message["id"]);
    }
}
