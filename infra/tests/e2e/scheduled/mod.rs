//! Scheduled and automated messages end to end (docs/protocol.md `/scheduled-messages`; docs/architecture.md
//! "Scheduled and automated messages"):
//! REST, the dispatcher and planner fired through `/_local/schedules/{name}/run` (and once on the
//! wall clock), the SQS mapping polling moto, real WebSocket clients.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chat_local::local::LocalOptions;
use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, Ws};

mod queue;

/// Tests schedule a second or two ahead instead of a minute.
pub(crate) fn fast(key: &str) -> Option<String> {
    match key {
        "CHAT_SCHEDULE_MIN_LEAD_SECS" => Some("1".into()),
        _ => None,
    }
}

pub(crate) fn manual() -> LocalOptions {
    LocalOptions { clock: false, ..LocalOptions::default() }
}

pub(crate) fn in_secs(secs: f64) -> String {
    chat::domain::time::rfc3339(chrono::Utc::now() + chrono::Duration::milliseconds((secs * 1000.0) as i64))
}

pub(crate) async fn direct(env: &TestEnv, a: &TestUser, b: &TestUser) -> String {
    let (status, conv) =
        env.call("POST", "/conversations", Some(&a.access), Some(json!({"type": "direct", "userId": b.id}))).await;
    assert!(status == 201 || status == 200, "{conv}");
    conv["id"].as_str().unwrap().to_string()
}

pub(crate) async fn schedule(
    env: &TestEnv,
    user: &TestUser,
    conversation: &str,
    content: &str,
    send_at: &str,
) -> Value {
    let body = json!({"conversationId": conversation, "content": content, "sendAt": send_at});
    let (status, scheduled) = env.call("POST", "/scheduled-messages", Some(&user.access), Some(body)).await;
    assert_eq!(status, 201, "{scheduled}");
    scheduled
}

pub(crate) async fn history(env: &TestEnv, user: &TestUser, conversation: &str) -> Vec<Value> {
    let (status, page) =
        env.call("GET", &format!("/conversations/{conversation}/messages"), Some(&user.access), None).await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().unwrap().clone()
}

async fn scheduled_list(env: &TestEnv, user: &TestUser) -> Vec<Value> {
    let (status, page) = env.call("GET", "/scheduled-messages", Some(&user.access), None).await;
    assert_eq!(status, 200, "{page}");
    page["scheduledMessages"].as_array().unwrap().clone()
}

async fn status_of(env: &TestEnv, user: &TestUser, id: &str) -> Option<String> {
    scheduled_list(env, user).await.into_iter().find(|m| m["id"] == id).map(|m| m["status"].as_str().unwrap().into())
}

async fn dispatch(env: &TestEnv) -> Value {
    let (status, body) = env.run_schedule("DispatcherSchedule").await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// `message.new` events until none arrives for `quiet`.
async fn drain_new(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut got = Vec::new();
    while let Some(event) = ws.try_recv(quiet).await {
        if event["type"] == "message.new" {
            got.push(event["message"].clone());
        }
    }
    got
}

#[tokio::test]
async fn a_scheduled_message_is_delivered_live_once_and_appears_in_history_once() {
    let env = TestEnv::start_with_options(fast, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let mut ann_ws = env.connect(&ann.access).await;

    let send_at = in_secs(2.0);
    let scheduled = schedule(&env, &ann, &conversation, "see you at noon", &send_at).await;
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(scheduled["senderId"], ann.id.as_str());
    assert_eq!(scheduled["conversationId"], conversation.as_str());
    assert_eq!(scheduled["kind"], "text");
    let id = scheduled["id"].as_str().unwrap().to_string();
    let listed = scheduled_list(&env, &ann).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], scheduled);
    assert!(scheduled_list(&env, &bob).await.is_empty(), "only the caller's own are listed");

    // The dispatcher takes what is due within its look-ahead and SQS holds it until sendAt.
    let report = dispatch(&env).await;
    assert_eq!((report["queued"].as_i64(), report["lostRaces"].as_i64()), (Some(1), Some(0)), "{report}");
    let (status, body) = env.call("DELETE", &format!("/scheduled-messages/{id}"), Some(&ann.access), None).await;
    assert_eq!(status, 409, "too late to cancel once queued: {body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(dispatch(&env).await["queued"], 0, "a queued message is not queued again");

    let got = bob_ws.recv_type("message.new").await["message"].clone();
    assert_eq!(got["content"], "see you at noon");
    assert_eq!(got["senderId"], ann.id.as_str());
    assert_eq!(got["kind"], "text");
    assert_eq!(got["clientMsgId"], format!("sched-{id}"));
    assert_eq!(ann_ws.recv_type("message.new").await["message"]["id"], got["id"], "the sender's devices too");
    assert!(drain_new(&mut bob_ws, Duration::from_millis(1500)).await.is_empty(), "delivered once");

    let messages = history(&env, &bob, &conversation).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], got["id"]);
    env.eventually("the scheduled message is marked sent", || async {
        status_of(&env, &ann, &id).await.as_deref() == Some("sent")
    })
    .await;
    let listed = scheduled_list(&env, &ann).await;
    assert_eq!(listed[0]["messageId"], got["id"]);
}

#[tokio::test]
async fn a_cancelled_message_is_never_sent() {
    let env = TestEnv::start_with_options(fast, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let scheduled = schedule(&env, &ann, &conversation, "never mind", &in_secs(2.5)).await;
    let id = scheduled["id"].as_str().unwrap();
    let path = format!("/scheduled-messages/{id}");

    let (status, body) = env.call("DELETE", &path, Some(&bob.access), None).await;
    assert_eq!(status, 404, "someone else's scheduled message does not exist for bob: {body}");
    let (status, body) = env.call("DELETE", &path, Some(&ann.access), None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = env.call("DELETE", &path, Some(&ann.access), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(scheduled_list(&env, &ann).await.is_empty());

    tokio::time::sleep(Duration::from_millis(2600)).await; // past its sendAt
    assert_eq!(dispatch(&env).await["queued"], 0);
    assert!(drain_new(&mut bob_ws, Duration::from_millis(1000)).await.is_empty());
    assert!(history(&env, &bob, &conversation).await.is_empty());
}

#[tokio::test]
async fn bad_requests_get_the_contracts_errors() {
    // the default minimum lead: one minute
    let env = TestEnv::start_with_options(|_| None, manual()).await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let conversation = direct(&env, &ann, &bob).await;
    let post = |token: Option<String>, body: Value| {
        let env = &env;
        async move { env.call("POST", "/scheduled-messages", token.as_deref(), Some(body)).await }
    };
    let ok_at = in_secs(120.0);
    let cases = [
        (json!({"conversationId": conversation, "content": "x", "sendAt": in_secs(30.0)}), 400, "invalid_input"),
        (
            json!({"conversationId": conversation, "content": "x", "sendAt": in_secs(31.0 * 86400.0)}),
            400,
            "invalid_input",
        ),
        (json!({"conversationId": conversation, "content": "x", "sendAt": "tomorrow"}), 400, "invalid_input"),
        (json!({"conversationId": conversation, "content": "  ", "sendAt": ok_at}), 400, "invalid_input"),
        (json!({"conversationId": conversation, "content": "x"}), 400, "invalid_input"),
        (
            json!({"conversationId": conversation, "content": "x".repeat(4001), "sendAt": ok_at}),
            413,
            "payload_too_large",
        ),
        (json!({"conversationId": "no#such", "content": "x", "sendAt": ok_at}), 404, "not_found"),
        (json!({"conversationId": chat::domain::new_id(), "content": "x", "sendAt": ok_at}), 404, "not_found"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post(Some(ann.access.clone()), body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body} -> {answer}");
    }
    // a conversation the caller is not in does not exist for it
    let (got, answer) =
        post(Some(eve.access.clone()), json!({"conversationId": conversation, "content": "x", "sendAt": ok_at})).await;
    assert_eq!((got, answer["error"]["code"].as_str()), (404, Some("not_found")), "{answer}");
    let (got, _) = post(None, json!({"conversationId": conversation, "content": "x", "sendAt": ok_at})).await;
    assert_eq!(got, 401);
    let (got, _) = env.call("GET", "/scheduled-messages", None, None).await;
    assert_eq!(got, 401);
    let (got, answer) =
        env.call("DELETE", &format!("/scheduled-messages/{}", chat::domain::new_id()), Some(&ann.access), None).await;
    assert_eq!((got, answer["error"]["code"].as_str()), (404, Some("not_found")));
    let (got, _) = env.call("DELETE", "/scheduled-messages/not-an-id", Some(&ann.access), None).await;
    assert_eq!(got, 404);
    let (got, _) = env.call("PATCH", "/scheduled-messages", Some(&ann.access), Some(json!({}))).await;
    assert_eq!(got, 405, "a wrong method on a known path (strict_inputs)");

    // paging: newest first, `limit` and `cursor`
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            schedule(&env, &ann, &conversation, &format!("m{i}"), &ok_at).await["id"].as_str().unwrap().to_string(),
        );
    }
    let (_, first) = env.call("GET", "/scheduled-messages?limit=2", Some(&ann.access), None).await;
    let page: Vec<&str> =
        first["scheduledMessages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = first["nextCursor"].as_str().expect("a next cursor");
    let (_, second) =
        env.call("GET", &format!("/scheduled-messages?limit=2&cursor={cursor}"), Some(&ann.access), None).await;
    assert_eq!(second["scheduledMessages"].as_array().unwrap().len(), 1);
    assert_eq!(second["scheduledMessages"][0]["id"], ids[0].as_str());
    assert_eq!(second["nextCursor"], Value::Null);
    for bad in ["limit=0", "limit=101", "limit=x", "cursor=zzz"] {
        let (got, answer) = env.call("GET", &format!("/scheduled-messages?{bad}"), Some(&ann.access), None).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad}");
    }
}

#[tokio::test]
async fn the_planner_pairs_five_active_users_and_each_auto_message_is_delivered_once() {
    let overrides = |key: &str| match key {
        "CHAT_AUTO_WINDOW_SECS" => Some("2".into()),
        "CHAT_AUTO_MESSAGES" => Some("auto hello|auto question".into()),
        _ => None,
    };
    let env = TestEnv::start_with_options(overrides, manual()).await;
    let mut users = Vec::new();
    for name in ["ann", "bob", "cat", "dan", "eve"] {
        let user = env.register(name).await;
        // connecting is what makes a user active
        let ws = env.connect(&user.access).await;
        users.push((user, ws));
    }

    let (status, body) = env.run_schedule("PlannerSchedule").await;
    assert_eq!(status, 200, "{body}");
    let report = &body["result"];
    assert_eq!(report["activeUsers"], 5, "{report}");
    assert_eq!((report["pairsPlanned"].as_i64(), report["unpaired"].as_i64()), (Some(2), Some(1)), "{report}");
    // the same day again plans nothing twice
    let (_, again) = env.run_schedule("PlannerSchedule").await;
    let again = &again["result"];
    assert_eq!((again["pairsPlanned"].as_i64(), again["alreadyPlanned"].as_i64()), (Some(0), Some(4)), "{again}");
    // automated messages are not the users' own scheduled messages
    assert!(scheduled_list(&env, &users[0].0).await.is_empty());

    assert_eq!(dispatch(&env).await["queued"], 2);
    let mut messages: BTreeMap<String, Value> = BTreeMap::new();
    let mut receivers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unpaired = Vec::new();
    for (user, ws) in &mut users {
        let got = drain_new(ws, Duration::from_millis(3500)).await;
        match got.len() {
            0 => unpaired.push(user.id.clone()),
            1 => {
                let m = got[0].clone();
                assert_eq!(m["kind"], "auto", "{m}");
                assert!(["auto hello", "auto question"].contains(&m["content"].as_str().unwrap()));
                receivers.entry(m["id"].as_str().unwrap().to_string()).or_default().push(user.id.clone());
                messages.insert(m["id"].as_str().unwrap().to_string(), m);
            }
            n => panic!("{} got {n} automated messages: {got:?}", user.username),
        }
    }
    assert_eq!(unpaired.len(), 1, "one user is left without a partner");
    assert_eq!(messages.len(), 2, "two pairs, one message each");
    for (id, m) in &messages {
        // both users of the pair got it, in their direct conversation, once
        let pair: BTreeSet<&str> = receivers[id].iter().map(String::as_str).collect();
        assert_eq!(pair.len(), 2);
        assert!(pair.contains(m["senderId"].as_str().unwrap()));
        let conversation = m["conversationId"].as_str().unwrap();
        let member = users.iter().find(|(u, _)| pair.contains(u.id.as_str())).unwrap();
        let stored = history(&env, &member.0, conversation).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0]["id"], id.as_str());
    }
}
