//! Call signaling end to end: offer, answer, ICE and end relayed between two users who share a
//! conversation, to every device of the callee; the first device to answer wins; strangers and
//! unconnected callees get `not_found`; `GET /calls/config` hands out the ICE servers.

use std::time::Duration;

use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn a_call_is_relayed_and_the_first_device_to_answer_wins() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_phone = env.connect(&bob.access).await;
    let mut bob_laptop = env.connect(&bob.access).await;

    let offer = json!({"type": "offer", "sdp": "v=0 offer"});
    ann_ws.send(json!({"action": "call", "to": bob.id, "callId": "c-1", "signal": "offer", "data": offer})).await;
    for device in [&mut bob_phone, &mut bob_laptop] {
        let got = device.recv_type("call").await;
        assert_eq!(got, json!({"type": "call", "from": ann.id, "callId": "c-1", "signal": "offer", "data": offer}));
    }
    // ICE may run ahead of the answer: every device gets it.
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", "sdpMid": "0"});
    ann_ws.send(json!({"action": "call", "to": bob.id, "callId": "c-1", "signal": "ice", "data": candidate})).await;
    for device in [&mut bob_phone, &mut bob_laptop] {
        assert_eq!(device.recv_type("call").await["data"], candidate);
    }

    let answer = json!({"type": "answer", "sdp": "v=0 answer"});
    bob_phone.send(json!({"action": "call", "to": ann.id, "callId": "c-1", "signal": "answer", "data": answer})).await;
    let got = ann_ws.recv_type("call").await;
    assert_eq!(got, json!({"type": "call", "from": bob.id, "callId": "c-1", "signal": "answer", "data": answer}));
    let elsewhere = bob_laptop.recv_type("call").await;
    assert_eq!((elsewhere["signal"].as_str(), elsewhere["callId"].as_str()), (Some("end"), Some("c-1")));
    assert_eq!(elsewhere["reason"], "answered_elsewhere");
    assert_eq!(elsewhere["data"]["reason"], "answered_elsewhere");
    assert_eq!(elsewhere["from"], ann.id.as_str());
    bob_phone.expect_none("call", Duration::from_millis(300)).await;

    // A late answer from the other device loses: it hears answered_elsewhere, ann hears nothing.
    bob_laptop.send(json!({"action": "call", "to": ann.id, "callId": "c-1", "signal": "answer", "data": answer})).await;
    let late = bob_laptop.recv_type("call").await;
    assert_eq!((late["signal"].as_str(), late["reason"].as_str()), (Some("end"), Some("answered_elsewhere")));
    ann_ws.expect_none("call", Duration::from_millis(300)).await;

    bob_phone.send(json!({"action": "call", "to": ann.id, "callId": "c-1", "signal": "ice", "data": candidate})).await;
    assert_eq!(ann_ws.recv_type("call").await["signal"], "ice");
    ann_ws.send(json!({"action": "call", "to": bob.id, "callId": "c-1", "signal": "end", "data": null})).await;
    let end = bob_phone.recv_type("call").await;
    assert_eq!((end["signal"].as_str(), end["data"].is_null()), (Some("end"), true));
    assert!(end.get("reason").is_none(), "a caller's end carries no server reason: {end}");
}

#[tokio::test]
async fn strangers_oneself_and_offline_callees_are_refused() {
    let env = TestEnv::start().await;
    let (ann, bob, eve, gus) =
        (env.register("ann").await, env.register("bob").await, env.register("eve").await, env.register("gus").await);
    env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let mut eve_ws = env.connect(&eve.access).await;
    let mut bob_ws = env.connect(&bob.access).await;

    eve_ws
        .send(json!({"action": "call", "requestId": "x1", "to": bob.id, "callId": "c", "signal": "offer", "data": {}}))
        .await;
    let error = eve_ws.recv_type("error").await;
    assert_eq!((error["code"].as_str(), error["requestId"].as_str()), (Some("not_found"), Some("x1")));
    bob_ws.expect_none("call", Duration::from_millis(300)).await;

    // A group both are in counts as sharing a conversation; a public room does not.
    let (status, group) = env
        .call(
            "POST",
            "/conversations",
            Some(&eve.access),
            Some(json!({"type": "group", "name": "g", "memberIds": [ann.id]})),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    eve_ws
        .send(json!({"action": "call", "to": ann.id, "callId": "g-1", "signal": "offer", "data": {"sdp": "x"}}))
        .await;
    assert_eq!(ann_ws.recv_type("call").await["from"], eve.id.as_str());
    let (_, room) =
        env.call("POST", "/conversations", Some(&eve.access), Some(json!({"type": "room", "name": "lobby"}))).await;
    let room = room["id"].as_str().unwrap().to_string();
    let (status, _) = env
        .call("POST", &format!("/conversations/{room}/members"), Some(&bob.access), Some(json!({"userId": bob.id})))
        .await;
    assert_eq!(status, 200);
    eve_ws
        .send(json!({"action": "call", "requestId": "x2", "to": bob.id, "callId": "r", "signal": "offer", "data": {}}))
        .await;
    assert_eq!(eve_ws.recv_type("error").await["code"], "not_found");

    for (frame, code) in [
        (json!({"action": "call", "to": ann.id, "callId": "c", "signal": "offer", "data": {}}), "invalid_input"),
        (json!({"action": "call", "to": bob.id, "callId": "", "signal": "offer"}), "invalid_input"),
        (json!({"action": "call", "to": bob.id, "callId": "c", "signal": "hangup"}), "invalid_input"),
        (json!({"action": "call", "callId": "c", "signal": "offer"}), "invalid_input"),
        (json!({"action": "call", "to": "nobody", "callId": "c", "signal": "offer"}), "not_found"),
        // gus shares nothing with ann, and is not connected either.
        (json!({"action": "call", "to": gus.id, "callId": "c", "signal": "offer"}), "not_found"),
    ] {
        ann_ws.send(frame.clone()).await;
        assert_eq!(ann_ws.recv_type("error").await["code"], code, "{frame}");
    }
    // Sharing a conversation but offline: not_found, nothing stored to deliver later.
    bob_ws.close().await;
    env.eventually("bob's connection is gone", || async { env.stored_connections(&bob.id).await.is_empty() }).await;
    ann_ws.send(json!({"action": "call", "to": bob.id, "callId": "c-2", "signal": "offer", "data": {}})).await;
    assert_eq!(ann_ws.recv_type("error").await["code"], "not_found");
    ann_ws.assert_alive().await;
}

#[tokio::test]
async fn clients_get_the_ice_servers_of_the_deployment() {
    let servers =
        r#"[{"urls":["stun:stun.example.com:3478"]},{"urls":"turn:turn.example.com","username":"u","credential":"p"}]"#;
    let env = TestEnv::start_with(|k| (k == "CHAT_ICE_SERVERS").then(|| servers.to_string())).await;
    let ann = env.register("ann").await;
    let (status, body) = env.call("GET", "/calls/config", Some(&ann.access), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["iceServers"], serde_json::from_str::<serde_json::Value>(servers).unwrap());
    let (status, _) = env.call("GET", "/calls/config", None, None).await;
    assert_eq!(status, 401);
}
