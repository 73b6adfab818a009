//! Limits end to end (docs/protocol.md, limits): the per-user WebSocket action limit, the auth attempt
//! limits per source IP and per account (429 before any password check), and the frame size limit
//! on every route. The windows are set to an hour here, so no window can roll over mid-test.

use serde_json::{Value, json};

use crate::support::TestEnv;

const HOUR: &str = "3600";

async fn history_len(env: &TestEnv, token: &str, conversation: &str) -> usize {
    let (status, page) = env.call("GET", &format!("/conversations/{conversation}/messages"), Some(token), None).await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().unwrap().len()
}

fn assert_rate_limited(event: &Value, request_id: &str) {
    assert_eq!(event["type"], "error", "{event}");
    assert_eq!(event["code"], "rate_limited", "{event}");
    assert_eq!(event["requestId"], request_id, "{event}");
    let retry = event["retryAfter"].as_u64().expect("retryAfter");
    assert!((1..=3600).contains(&retry), "{event}");
}

#[tokio::test]
async fn websocket_actions_over_the_limit_are_refused_and_store_nothing() {
    let env = TestEnv::start_with(|key| match key {
        "CHAT_WS_RATE_PER_MIN" => Some("3".into()),
        "CHAT_WS_RATE_WINDOW_SECS" => Some(HOUR.into()),
        _ => None,
    })
    .await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;

    for i in 0..3 {
        let frame = json!({"action": "send", "requestId": format!("r{i}"), "conversationId": conversation,
            "content": format!("m{i}"), "clientMsgId": format!("c{i}")});
        ann_ws.send(frame).await;
        assert_eq!(ann_ws.recv_type("message.sent").await["requestId"], format!("r{i}"));
    }
    // pings are exempt: they neither count nor get refused
    for _ in 0..5 {
        ann_ws.assert_alive().await;
    }
    let refused = json!({"action": "send", "requestId": "r3", "conversationId": conversation,
        "content": "one too many", "clientMsgId": "c3"});
    ann_ws.send(refused).await;
    assert_rate_limited(&ann_ws.recv_type("error").await, "r3");
    // every other action is counted too, whichever route serves it
    ann_ws.send(json!({"action": "typing", "requestId": "r4", "conversationId": conversation, "state": "start"})).await;
    assert_rate_limited(&ann_ws.recv_type("error").await, "r4");

    // nothing was stored for the refused send, and the connection still works
    assert_eq!(history_len(&env, &ann.access, &conversation).await, 3);
    ann_ws.assert_alive().await;
    // the limit is per user: bob is unaffected
    bob_ws.send(json!({"action": "send", "conversationId": conversation, "content": "hi", "clientMsgId": "b1"})).await;
    bob_ws.recv_type("message.sent").await;
    assert_eq!(ann_ws.recv_type("message.new").await["message"]["content"], "hi");
    assert_eq!(history_len(&env, &ann.access, &conversation).await, 4);
}

fn assert_429(status: u16, retry_after: Option<&str>, body: &Value) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    let seconds = body["error"]["retryAfter"].as_u64().expect("retryAfter in the body");
    assert!((1..=3600).contains(&seconds), "{body}");
    assert_eq!(retry_after, Some(seconds.to_string().as_str()), "Retry-After header");
}

async fn post_raw(env: &TestEnv, path: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = env.http.post(env.url(path)).json(&body).send().await.expect("HTTP request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

#[tokio::test]
async fn auth_attempts_are_limited_per_source_ip_before_any_password_check() {
    let env = TestEnv::start_with(|key| match key {
        "CHAT_AUTH_RATE_PER_IP_PER_MIN" => Some("3".into()),
        "CHAT_AUTH_RATE_WINDOW_SECS" => Some(HOUR.into()),
        _ => None,
    })
    .await;
    let ann = env.register("ann").await; // 1
    let login = json!({"login": ann.username, "password": ann.password});
    let (status, _, _) = post_raw(&env, "/auth/login", json!({"login": ann.username, "password": "wrong-pass"})).await; // 2
    assert_eq!(status, 401);
    let (status, _, _) = post_raw(&env, "/auth/login", login.clone()).await; // 3
    assert_eq!(status, 200);

    // the right password no longer helps: refused before it is checked
    let (status, retry_after, body) = post_raw(&env, "/auth/login", login).await;
    assert_429(status, retry_after.as_deref(), &body);
    // registration is refused too, and claims nothing
    let fresh = json!({"username": "fresh_name", "email": "fresh@example.com", "password": "long-enough"});
    let (status, retry_after, body) = post_raw(&env, "/auth/register", fresh).await;
    assert_429(status, retry_after.as_deref(), &body);
    let claim = env
        .dynamo
        .get_item()
        .table_name(&env.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("USERNAME#fresh_name".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("UNIQUE".into()))
        .send()
        .await
        .unwrap();
    assert!(claim.item.is_none(), "a refused registration wrote its claim");
    // other endpoints are not auth attempts
    let (status, _) = env.call("GET", "/me", Some(&ann.access), None).await;
    assert_eq!(status, 200);
    let (status, _) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": ann.refresh}))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn login_attempts_are_limited_per_login_whether_or_not_it_names_an_account() {
    let env = TestEnv::start_with(|key| match key {
        "CHAT_LOGIN_RATE_PER_ACCOUNT_PER_15MIN" => Some("2".into()),
        "CHAT_LOGIN_RATE_WINDOW_SECS" => Some(HOUR.into()),
        _ => None,
    })
    .await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    for wrong in ["wrong-1", "wrong-2"] {
        let (status, _, _) = post_raw(&env, "/auth/login", json!({"login": ann.username, "password": wrong})).await;
        assert_eq!(status, 401);
    }
    // the budget is the login's (case-insensitive), and the right password is not checked
    let (status, retry_after, body) =
        post_raw(&env, "/auth/login", json!({"login": ann.username.to_uppercase(), "password": ann.password})).await;
    assert_429(status, retry_after.as_deref(), &body);
    // the email is another login with a budget of its own: whether an account stands behind a
    // login never changes the answer (no account oracle, e2e security)
    let (status, _, body) = post_raw(&env, "/auth/login", json!({"login": ann.email, "password": ann.password})).await;
    assert_eq!(status, 200, "{body}");
    // another account from the same address is unaffected
    let (status, _, body) =
        post_raw(&env, "/auth/login", json!({"login": bob.username, "password": bob.password})).await;
    assert_eq!(status, 200, "{body}");
    // unknown logins are limited exactly alike
    for expected in [401, 401, 429] {
        let (status, _, _) =
            post_raw(&env, "/auth/login", json!({"login": "nobody_here", "password": "whatever1"})).await;
        assert_eq!(status, expected);
    }
}

#[tokio::test]
async fn an_oversized_frame_gets_payload_too_large_on_every_route() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let mut ws = env.connect(&ann.access).await;
    let big = "x".repeat(33 * 1024);
    for action in ["send", "ping", "typing", "delivered", "read", "sync", "join", "call", "match", "no-such-action"] {
        let frame = json!({"action": action, "requestId": "big", "conversationId": conversation, "to": bob.id,
            "content": big, "clientMsgId": "big"});
        // in 16 KB frames: one frame over 32 KB would be closed by API Gateway with 1009
        ws.send_fragmented(&frame, 16 * 1024).await;
        let error = ws.recv_type("error").await;
        assert_eq!(error["code"], "payload_too_large", "{action}: {error}");
        ws.assert_alive().await;
    }
    // content over 4,000 characters inside a frame under 32 KB: refused too, nothing stored
    let long = "é".repeat(4001);
    ws.send(json!({"action": "send", "requestId": "long", "conversationId": conversation, "content": long,
        "clientMsgId": "long"}))
        .await;
    let error = ws.recv_type("error").await;
    assert_eq!((error["code"].as_str(), error["requestId"].as_str()), (Some("payload_too_large"), Some("long")));
    assert_eq!(history_len(&env, &ann.access, &conversation).await, 0);
    ws.assert_alive().await;
}
