//! The authorization matrix: for every conversation endpoint and action, a user who is not a
//! member gets exactly what it would get for an id that does not exist (rooms: read and join
//! allowed), and nothing changes.

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, Ws};

/// Every REST call on a conversation a stranger might try: (method, path, body).
fn rest_calls(id: &str, message_id: &str, member_id: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", format!("/conversations/{id}"), None),
        ("GET", format!("/conversations/{id}/messages"), None),
        ("POST", format!("/conversations/{id}/messages"), Some(json!({"content": "x", "clientMsgId": "evil"}))),
        ("PATCH", format!("/conversations/{id}/messages/{message_id}"), Some(json!({"content": "x"}))),
        ("DELETE", format!("/conversations/{id}/messages/{message_id}"), None),
        ("POST", format!("/conversations/{id}/read"), Some(json!({"messageId": message_id}))),
        ("DELETE", format!("/conversations/{id}/history"), None),
        ("POST", format!("/conversations/{id}/members"), Some(json!({"userId": member_id}))),
        ("DELETE", format!("/conversations/{id}/members/{member_id}"), None),
    ]
}

fn ws_frames(id: &str, message_id: &str) -> Vec<Value> {
    vec![
        json!({"action": "send", "conversationId": id, "content": "x", "clientMsgId": "evil-ws"}),
        json!({"action": "delivered", "conversationId": id, "messageId": message_id}),
        json!({"action": "read", "conversationId": id, "messageId": message_id}),
        json!({"action": "typing", "conversationId": id, "state": "start"}),
        json!({"action": "leave", "conversationId": id}),
    ]
}

/// The answer of a REST call as (status, error code).
async fn answer(env: &TestEnv, user: &TestUser, call: &(&str, String, Option<Value>)) -> (u16, Option<String>) {
    let (status, body) = env.call(call.0, &call.1, Some(&user.access), call.2.clone()).await;
    (status, body["error"]["code"].as_str().map(str::to_string))
}

async fn ws_answer(ws: &mut Ws, frame: &Value) -> String {
    let mut frame = frame.clone();
    frame["requestId"] = json!("authz");
    ws.send(frame).await;
    let err = ws.recv_type("error").await;
    assert_eq!(err["requestId"], "authz");
    err["code"].as_str().unwrap().to_string()
}

async fn history_len(env: &TestEnv, user: &TestUser, id: &str) -> usize {
    let (status, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&user.access), None).await;
    assert_eq!(status, 200);
    page["messages"].as_array().unwrap().len()
}

#[tokio::test]
async fn strangers_learn_nothing_about_groups_and_direct_conversations() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let (_, group) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "g", "memberIds": [bob.id]})),
        )
        .await;
    let (_, direct) =
        env.call("POST", "/conversations", Some(&ann.access), Some(json!({"type": "direct", "userId": bob.id}))).await;
    let mut eve_ws = env.connect(&eve.access).await;
    for conv in [&group, &direct] {
        let id = conv["id"].as_str().unwrap();
        let (_, m) = env
            .call(
                "POST",
                &format!("/conversations/{id}/messages"),
                Some(&ann.access),
                Some(json!({"content": "secret", "clientMsgId": format!("s-{id}")})),
            )
            .await;
        let message_id = m["id"].as_str().unwrap();
        // an id of the same shape that does not exist
        let ghost = if id.starts_with("g-") {
            "g-01ARZ3NDEKTSV4RRFFQ69G5FAV".to_string()
        } else {
            id.replace(&ann.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        };
        let real = rest_calls(id, message_id, &bob.id);
        let fake = rest_calls(&ghost, message_id, &bob.id);
        for (call, ghost_call) in real.iter().zip(&fake) {
            let got = answer(&env, &eve, call).await;
            assert!(matches!(got.0, 403 | 404), "{} {}: {got:?}", call.0, call.1);
            // indistinguishable from a conversation that does not exist
            assert_eq!(got, answer(&env, &eve, ghost_call).await, "{} {}", call.0, call.1);
        }
        for frame in ws_frames(id, message_id) {
            assert_eq!(ws_answer(&mut eve_ws, &frame).await, "not_found", "{frame}");
        }
        eve_ws.send(json!({"action": "join", "conversationId": id, "requestId": "j"})).await;
        assert_eq!(eve_ws.recv_type("error").await["code"], "not_found");
        // nothing changed: one message, the same members, the message untouched
        assert_eq!(history_len(&env, &ann, id).await, 1);
        let (_, after) = env.call("GET", &format!("/conversations/{id}"), Some(&ann.access), None).await;
        assert_eq!(after["memberCount"], 2, "{after}");
        let (_, page) = env.call("GET", &format!("/conversations/{id}/messages"), Some(&bob.access), None).await;
        assert_eq!(page["messages"][0]["content"], "secret");
    }
    // the list shows eve none of them
    let (_, list) = env.call("GET", "/conversations", Some(&eve.access), None).await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), 0);
    eve_ws.assert_alive().await;
}

#[tokio::test]
async fn strangers_may_read_and_join_rooms_but_nothing_more() {
    let env = TestEnv::start().await;
    let (ann, eve) = (env.register("ann").await, env.register("eve").await);
    let (_, room) =
        env.call("POST", "/conversations", Some(&ann.access), Some(json!({"type": "room", "name": "lobby"}))).await;
    let id = room["id"].as_str().unwrap();
    let (_, m) = env
        .call(
            "POST",
            &format!("/conversations/{id}/messages"),
            Some(&ann.access),
            Some(json!({"content": "public", "clientMsgId": "p"})),
        )
        .await;
    let message_id = m["id"].as_str().unwrap();
    let mut eve_ws = env.connect(&eve.access).await;
    for call in rest_calls(id, message_id, &ann.id) {
        let got = answer(&env, &eve, &call).await;
        let expected = match (call.0, call.1.as_str()) {
            ("GET", _) => (200, None),
            // joining is adding oneself; adding someone else is refused
            ("POST", p) if p.ends_with("/members") => (403, Some("forbidden".to_string())),
            _ => (404, Some("not_found".to_string())),
        };
        assert_eq!(got, expected, "{} {}", call.0, call.1);
    }
    for frame in ws_frames(id, message_id) {
        assert_eq!(ws_answer(&mut eve_ws, &frame).await, "not_found", "{frame}");
    }
    assert_eq!(history_len(&env, &ann, id).await, 1);
    eve_ws.send(json!({"action": "join", "conversationId": id, "requestId": "j"})).await;
    assert_eq!(eve_ws.recv_type("member.joined").await["requestId"], "j");
    // a member now, but still not the owner nor the sender
    let (status, _) = env
        .call(
            "PATCH",
            &format!("/conversations/{id}/messages/{message_id}"),
            Some(&eve.access),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) =
        env.call("DELETE", &format!("/conversations/{id}/members/{}", ann.id), Some(&eve.access), None).await;
    assert_eq!(status, 403);
}
