//! Push notifications end to end: a message in a group reaches, through the stream, the bus and
//! the push function, one SNS mobile push per device of each member who is offline and has not
//! muted the conversation; never the sender, an online member or a muted one. Read back through
//! the emulator's own API (`GET /moto-api/data.json`: every platform endpoint with its token and
//! what was published to it). An edit (another detail-type) pushes nothing; an endpoint the
//! platform disabled is re-enabled and gets the next push; one endpoint per token.

use std::time::Duration;

use serde_json::{Value, json};

use chat_local::account::{ACCOUNT_ID, REGION};
use chat_local::emulator::{Moto, default_venv};
use chat_local::local::LocalOptions;

use crate::support::{TestEnv, TestUser};

/// Every platform endpoint of `token` on the emulator at `aws`: (enabled, published messages).
async fn endpoints(aws: &str, token: &str) -> Vec<(bool, Vec<Value>)> {
    let data: Value = reqwest::get(format!("{aws}/moto-api/data.json")).await.unwrap().json().await.unwrap();
    data["sns"]["PlatformEndpoint"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["token"] == token)
        .map(|e| {
            let messages = e["messages"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, m)| serde_json::from_str(m.as_str().unwrap_or_default()).unwrap_or(Value::Null))
                .collect();
            (e["enabled"].as_bool().unwrap_or(true), messages)
        })
        .collect()
}

async fn pushes(aws: &str, token: &str) -> Vec<Value> {
    endpoints(aws, token).await.into_iter().flat_map(|(_, m)| m).collect()
}

/// Waits until `n` pushes reached `token`. data.json dumps the whole emulator, so this test has
/// an emulator of its own (a dump of the suite's shared one holds every test's tables and stalls
/// the others), and reads it at most once a second.
async fn until_pushed(aws: &str, token: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = pushes(aws, token).await;
        if got.len() >= n {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "{token}: {} of {n} pushes: {got:#?}", got.len());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits (cheaply, through the device list) until the push function made `user`'s endpoint,
/// which it does right before its first publish to it.
async fn until_endpoint(env: &TestEnv, user: &TestUser) {
    let key = |k: &str, v: String| (k.to_string(), aws_sdk_dynamodb::types::AttributeValue::S(v));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let item = env
            .dynamo
            .get_item()
            .table_name(&env.table)
            .set_key(Some([key("pk", format!("USER#{}", user.id)), key("sk", "DEVICE#d1".into())].into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_default();
        if item.contains_key("endpointArn") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no endpoint made for {}", user.username);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn device(env: &TestEnv, user: &TestUser, platform: &str) -> String {
    let token = format!("tok{}", chat::domain::new_id());
    let body = json!({"deviceId": "d1", "platform": platform, "pushToken": token});
    let (status, _) = env.call("POST", "/me/devices", Some(&user.access), Some(body)).await;
    assert_eq!(status, 201);
    token
}

#[tokio::test]
async fn offline_unmuted_members_get_one_push_per_device_and_no_one_else_does() {
    let moto = Moto::start_anywhere(&default_venv(), None).expect("an emulator of its own");
    let aws = moto.endpoint.clone();
    let env = TestEnv::start_on(&aws, |_| None, LocalOptions::default()).await;
    let [ann, bob, cat, dan, eve] = [
        env.register("ann").await,
        env.register("bob").await,
        env.register("cat").await,
        env.register("dan").await,
        env.register("eve").await,
    ];
    let ids: Vec<&str> = [&bob, &cat, &dan, &eve].iter().map(|u| u.id.as_str()).collect();
    let (status, group) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "team", "memberIds": ids})),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_str().unwrap().to_string();
    let (ann_token, bob_token, cat_token, dan_token) = (
        device(&env, &ann, "ios").await,
        device(&env, &bob, "ios").await,
        device(&env, &cat, "ios").await,
        device(&env, &dan, "ios").await,
    );
    let eve_token = device(&env, &eve, "android").await;
    let (status, _) =
        env.call("PATCH", &format!("/conversations/{group}/me"), Some(&dan.access), Some(json!({"muted": true}))).await;
    assert_eq!(status, 200);
    let mut cat_ws = env.connect(&cat.access).await;

    let content = "é".repeat(150);
    let message = env.post_message(&ann, &group, &content, "c1").await;
    until_endpoint(&env, &bob).await;
    until_endpoint(&env, &eve).await;
    let bob_push = until_pushed(&aws, &bob_token, 1).await;
    until_pushed(&aws, &eve_token, 1).await;

    let apns: Value = serde_json::from_str(bob_push[0]["APNS"].as_str().unwrap()).unwrap();
    assert_eq!(apns["aps"]["alert"]["title"], "ann (team)");
    assert_eq!(apns["aps"]["alert"]["body"], "é".repeat(100));
    assert_eq!(apns["data"], json!({"conversationId": group, "messageId": message["id"]}));
    let fcm: Value = serde_json::from_str(pushes(&aws, &eve_token).await[0]["GCM"].as_str().unwrap()).unwrap();
    assert_eq!(fcm["notification"]["title"], "ann (team)");
    assert_eq!(fcm["data"]["messageId"], message["id"]);

    // an edit is another detail-type: the push rule's pattern does not match it
    let id = message["id"].as_str().unwrap();
    let (status, _) = env
        .call(
            "PATCH",
            &format!("/conversations/{group}/messages/{id}"),
            Some(&ann.access),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, 200);
    // the platform disables bob's endpoint; the next message re-enables it, same endpoint
    let sns = aws_sdk_sns::Client::new(&env.backend.sdk);
    let data: Value = reqwest::get(format!("{aws}/moto-api/data.json")).await.unwrap().json().await.unwrap();
    let bob_arn =
        data["sns"]["PlatformEndpoint"].as_array().unwrap().iter().find(|e| e["token"] == bob_token.as_str()).unwrap()
            ["arn"]
            .as_str()
            .unwrap()
            .to_string();
    sns.set_endpoint_attributes().endpoint_arn(&bob_arn).attributes("Enabled", "false").send().await.unwrap();
    env.post_message(&ann, &group, "second", "c2").await;
    // the refresh re-enables it right before publishing again (a cheap call to wait on)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let attributes = sns.get_endpoint_attributes().endpoint_arn(&bob_arn).send().await.unwrap();
        if attributes.attributes().and_then(|a| a.get("Enabled")).map(String::as_str) == Some("true") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "bob's endpoint was never re-enabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bob_pushes = until_pushed(&aws, &bob_token, 2).await;
    until_pushed(&aws, &eve_token, 2).await;
    assert_eq!(bob_pushes.len(), 2, "the edit pushed nothing: {bob_pushes:#?}");
    let bob_endpoints = endpoints(&aws, &bob_token).await;
    assert_eq!(bob_endpoints.len(), 1, "one endpoint per token");
    assert!(bob_endpoints[0].0, "re-enabled");

    // never the sender, the online member or the muted one (no endpoint was even made for them)
    for (who, token) in [("sender", &ann_token), ("online", &cat_token), ("muted", &dan_token)] {
        assert!(endpoints(&aws, token).await.is_empty(), "{who} got a push");
    }
    cat_ws.assert_alive().await;
    drop(env);
    drop(moto);
}

/// A conversation bigger than one invocation's budget (`CHAT_PUSH_PER_INVOCATION`, 2 here) is
/// finished by `push.continuation` events the push function puts on the bus: every offline member
/// gets exactly one push, and an integrator's own rule on the bus sees the hand-offs, each with
/// another member cursor.
#[tokio::test]
async fn a_conversation_bigger_than_one_invocation_is_finished_by_hand_offs() {
    let moto = Moto::start_anywhere(&default_venv(), None).expect("an emulator of its own");
    let aws = moto.endpoint.clone();
    let budget = |k: &str| (k == "CHAT_PUSH_PER_INVOCATION").then(|| "2".to_string());
    let env = TestEnv::start_on(&aws, budget, LocalOptions::default()).await;
    // A rule of our own on the project's bus, into a queue of our own: what EventBridge delivers.
    let (events, sqs) =
        (aws_sdk_eventbridge::Client::new(&env.backend.sdk), aws_sdk_sqs::Client::new(&env.backend.sdk));
    let watch = sqs.create_queue().queue_name("push-hand-offs").send().await.unwrap().queue_url.unwrap();
    let bus = format!("{}-ChatEventBus", env.table);
    let pattern = json!({"source": ["chat.push"]}).to_string();
    events.put_rule().name("hand-offs").event_bus_name(&bus).event_pattern(pattern).send().await.unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("q")
        .arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:push-hand-offs"))
        .build()
        .unwrap();
    events.put_targets().rule("hand-offs").event_bus_name(&bus).targets(target).send().await.unwrap();

    let ann = env.register("ann").await;
    let mut members = Vec::new();
    for i in 0..7 {
        members.push(env.register(&format!("m{i}")).await);
    }
    let ids: Vec<&str> = members.iter().map(|u| u.id.as_str()).collect();
    let body = json!({"type": "group", "name": "big", "memberIds": ids});
    let (status, group) = env.call("POST", "/conversations", Some(&ann.access), Some(body)).await;
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_str().unwrap().to_string();
    let mut tokens = Vec::new();
    for m in &members {
        tokens.push(device(&env, m, "ios").await);
    }
    let message = env.post_message(&ann, &group, "to everyone", "c1").await;
    for token in &tokens {
        let got = until_pushed(&aws, token, 1).await;
        let apns: Value = serde_json::from_str(got[0]["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["data"]["messageId"], message["id"]);
    }
    // no member twice (a hand-off goes on after the cursor, it does not start again)
    tokio::time::sleep(Duration::from_secs(2)).await;
    for token in &tokens {
        assert_eq!(pushes(&aws, token).await.len(), 1, "{token} got more than one push");
    }
    let mut cursors = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(&watch).max_number_of_messages(10).send().await.unwrap();
        let batch = got.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            assert_eq!(event["detail-type"], "push.continuation", "{event}");
            assert_eq!(event["detail"]["message"]["id"], message["id"]);
            cursors.push(event["detail"]["cursor"].as_str().unwrap().to_string());
        }
    }
    // 7 pushes at 2 per invocation: at least 3 invocations, so at least 2 hand-offs, all different
    assert!(cursors.len() >= 2, "hand-offs seen: {cursors:?}");
    let distinct: std::collections::BTreeSet<_> = cursors.iter().collect();
    assert_eq!(distinct.len(), cursors.len(), "{cursors:?}");
    drop(env);
    drop(moto);
}
