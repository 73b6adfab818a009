//! Scheduled and automated messages end to end (CONTRACT.md §4 `/scheduled-messages`, §6, §7):
//! REST, the dispatcher and planner fired through `/_local/schedules/{name}/run` (and once on the
//! wall clock), the SQS mapping polling moto, real WebSocket clients.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chat_local::local::LocalOptions;
use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, Ws};

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
    assert_eq!(got, 400);

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

#[tokio::test]
async fn a_record_failing_once_is_sent_later_once_and_the_rest_of_its_batch_once() {
    let overrides = |key: &str| match key {
        "CHAT_TEST_FAIL_SCHEDULED" => Some("FAILONCE@1".into()),
        _ => fast(key),
    };
    let options = LocalOptions { visibility_timeout_secs: Some(2), ..manual() };
    let env = TestEnv::start_with_options(overrides, options).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let send_at = in_secs(2.5);
    for content in ["one", "two FAILONCE", "three"] {
        schedule(&env, &ann, &conversation, content, &send_at).await;
    }
    assert_eq!(dispatch(&env).await["queued"], 3);

    let mut contents = Vec::new();
    while contents.len() < 3 {
        let m = bob_ws.recv_type("message.new").await;
        contents.push(m["message"]["content"].as_str().unwrap().to_string());
    }
    // the failed record came back after its visibility timeout, after the others of its batch
    assert_eq!(contents.last().map(String::as_str), Some("two FAILONCE"), "{contents:?}");
    let mut sorted = contents.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["one", "three", "two FAILONCE"]);
    assert!(drain_new(&mut bob_ws, Duration::from_millis(2500)).await.is_empty(), "nothing twice");
    assert_eq!(history(&env, &bob, &conversation).await.len(), 3);
    env.eventually("all three are marked sent", || async {
        scheduled_list(&env, &ann).await.iter().all(|m| m["status"] == "sent")
    })
    .await;
}

#[tokio::test]
async fn a_record_that_always_fails_ends_in_the_dlq_and_nothing_is_sent() {
    let overrides = |key: &str| match key {
        "CHAT_TEST_FAIL_SCHEDULED" => Some("ALWAYSFAIL".into()),
        _ => fast(key),
    };
    let options = LocalOptions { visibility_timeout_secs: Some(1), ..manual() };
    let env = TestEnv::start_with_options(overrides, options).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let scheduled = schedule(&env, &ann, &conversation, "ALWAYSFAIL", &in_secs(2.0)).await;
    let id = scheduled["id"].as_str().unwrap().to_string();
    assert_eq!(dispatch(&env).await["queued"], 1);

    let sqs = env.sqs();
    let dlq = env.backend.queues["ScheduledMessagesDLQ"].url.clone();
    let mut dead = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while dead.is_none() && tokio::time::Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        dead = out.messages.unwrap_or_default().into_iter().next();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let dead = dead.expect("the record reaches the DLQ");
    let body: Value = serde_json::from_str(dead.body().unwrap()).unwrap();
    assert_eq!(body["id"], id.as_str());
    let receives = dead
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap();
    assert!(receives >= 5, "moved after maxReceiveCount (5) receives, got {receives}");

    assert!(drain_new(&mut bob_ws, Duration::from_millis(500)).await.is_empty());
    assert!(history(&env, &bob, &conversation).await.is_empty());
    assert_eq!(status_of(&env, &ann, &id).await.as_deref(), Some("queued"), "waits in the DLQ for a redrive");
}

#[tokio::test]
async fn two_dispatcher_runs_at_once_queue_each_message_once() {
    let env = TestEnv::start_with_options(fast, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    const N: usize = 24;
    let send_at = in_secs(4.0);
    for i in 0..N {
        schedule(&env, &ann, &conversation, &format!("burst {i}"), &send_at).await;
    }
    let (a, b) = tokio::join!(dispatch(&env), dispatch(&env));
    assert_eq!(a["queued"].as_u64().unwrap() + b["queued"].as_u64().unwrap(), N as u64, "{a} {b}");

    let mut seen = BTreeSet::new();
    while seen.len() < N {
        let m = bob_ws.recv_type("message.new").await;
        assert!(seen.insert(m["message"]["id"].as_str().unwrap().to_string()), "twice: {m}");
    }
    assert!(drain_new(&mut bob_ws, Duration::from_millis(1500)).await.is_empty());
    let (_, page) =
        env.call("GET", &format!("/conversations/{conversation}/messages?limit=100"), Some(&bob.access), None).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), N);
}

/// The crash the worker must survive: it sent the message and died before marking it sent, so
/// SQS delivers the record again. Running the worker twice on the same record is that redelivery.
#[tokio::test]
async fn redelivery_after_send_before_mark_sends_nothing_twice() {
    let env = TestEnv::start_with_options(fast, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let scheduled = schedule(&env, &ann, &conversation, "only once", &in_secs(2.0)).await;
    let record = json!({
        "messageId": "00000000-0000-0000-0000-000000000001",
        "receiptHandle": "r",
        "body": scheduled.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1",
    });
    let event = json!({"Records": [record]});
    let worker = chat_functions::registry::Function::SchedulerWorker;
    for _ in 0..2 {
        let answer = chat_functions::registry::invoke(&env.backend.app, worker, event.clone()).await.unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]));
    }
    let first = bob_ws.recv_type("message.new").await["message"].clone();
    // at-least-once pushes: the redelivery may push again, always the same message (clients dedupe by id)
    for again in drain_new(&mut bob_ws, Duration::from_millis(800)).await {
        assert_eq!(again["id"], first["id"]);
    }
    let stored = history(&env, &bob, &conversation).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], first["id"]);
    let id = scheduled["id"].as_str().unwrap();
    assert_eq!(status_of(&env, &ann, id).await.as_deref(), Some("sent"));
    // sent messages have left the due index: the dispatcher finds nothing
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(dispatch(&env).await["due"], 0);
}

fn per_message(counts: &BTreeMap<String, u64>, n: usize) -> String {
    counts.iter().map(|(op, c)| format!("{op} {:.2}", *c as f64 / n as f64)).collect::<Vec<_>>().join(", ")
}

/// `cargo test -p chat-local --test e2e scheduled::measure -- --ignored --nocapture`: AWS requests
/// per scheduled message by phase, and the delay between `sendAt` and live delivery.
#[tokio::test]
#[ignore = "a measurement, not a test: run by hand"]
async fn measure_requests_and_delay_per_scheduled_message() {
    const N: usize = 20;
    let (proxy, endpoint) = chat_local::aws_proxy::AwsProxy::start(&crate::support::aws_endpoint()).await;
    let overrides = |key: &str| match key {
        "CHAT_SCHEDULE_LOOKAHEAD_SECS" => Some("0".into()),
        _ => fast(key),
    };
    let env = TestEnv::start_on(&endpoint, overrides, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let _ann_ws = env.connect(&ann.access).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.take_counts();

    let send_at = in_secs(3.0);
    for i in 0..N {
        schedule(&env, &ann, &conversation, &format!("m{i}"), &send_at).await;
    }
    let scheduling = proxy.take_counts();
    let due = chat::domain::schedule::parse_time(&send_at).unwrap();
    tokio::time::sleep((due - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100)).await;
    proxy.take_counts(); // idle polls while waiting
    let fired = chrono::Utc::now();
    let report = dispatch(&env).await;
    assert_eq!(report["queued"], N as u64);
    let dispatching = proxy.take_counts();
    let mut latencies = Vec::new();
    for _ in 0..N {
        bob_ws.recv_type("message.new").await;
        latencies.push((chrono::Utc::now() - fired).num_milliseconds());
    }
    env.eventually("all sent", || async { scheduled_list(&env, &ann).await.iter().all(|m| m["status"] == "sent") })
        .await;
    let mut working = proxy.take_counts();
    let polls = working.remove("ReceiveMessage").unwrap_or(0);
    eprintln!("measure: {N} scheduled messages, 2 open connections (one per member)");
    eprintln!("measure: POST /scheduled-messages per message: {}", per_message(&scheduling, N));
    eprintln!("measure: dispatcher per message: {}", per_message(&dispatching, N));
    eprintln!("measure: worker per message: {} (+ {polls} ReceiveMessage polls in total)", per_message(&working, N));
    latencies.sort();
    eprintln!(
        "measure: fired directly when due -> live delivery: first {} ms, median {} ms, last {} ms",
        latencies[0],
        latencies[N / 2],
        latencies[N - 1]
    );

    // With the look-ahead (the default), the dispatcher queues ahead and SQS holds each message
    // until its sendAt: the delay is from sendAt, whenever the dispatcher ran in the minute before.
    let env = TestEnv::start_on(&endpoint, fast, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let mut delays = Vec::new();
    for i in 0..5 {
        let scheduled =
            schedule(&env, &ann, &conversation, &format!("ahead {i}"), &in_secs(2.0 + i as f64 * 0.37)).await;
        assert_eq!(dispatch(&env).await["queued"], 1);
        bob_ws.recv_type("message.new").await;
        let at = chat::domain::schedule::parse_time(scheduled["sendAt"].as_str().unwrap()).unwrap();
        delays.push((chrono::Utc::now() - at).num_milliseconds());
    }
    eprintln!("measure: queued ahead (look-ahead 60 s), sendAt -> live delivery: {delays:?} ms");
}

/// A dispatcher that dies after claiming a message but before SQS has it: the claim's lease runs
/// out and the next run queues the message, which is sent once.
#[tokio::test]
async fn a_claim_whose_dispatcher_died_is_queued_again_after_its_lease() {
    let overrides = |key: &str| match key {
        "CHAT_SCHEDULE_LEASE_SECS" => Some("1".into()),
        _ => fast(key),
    };
    let env = TestEnv::start_with_options(overrides, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let scheduled = schedule(&env, &ann, &conversation, "survives a crash", &in_secs(2.0)).await;
    let id = scheduled["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // the first half of a dispatcher run: the claim, and then nothing
    let store = env.backend.app.schedules.clone().unwrap();
    let now = chrono::Utc::now();
    let mut claimed = 0;
    for shard in 0..chat::aws::keys::DUE_SHARDS {
        for entry in store.due_scheduled(shard, now, 100).await.unwrap() {
            let lease = now + chrono::Duration::seconds(1);
            claimed += store.claim_scheduled(&entry, now, lease).await.unwrap().map_or(0, |_| 1);
        }
    }
    assert_eq!(claimed, 1);
    assert_eq!(status_of(&env, &ann, id).await.as_deref(), Some("queued"));
    assert!(drain_new(&mut bob_ws, Duration::from_millis(1200)).await.is_empty(), "not in SQS: not sent");

    // the lease has run out: the next run queues it
    let report = dispatch(&env).await;
    assert_eq!(report["queued"], 1, "{report}");
    let got = bob_ws.recv_type("message.new").await;
    assert_eq!(got["message"]["content"], "survives a crash");
    assert!(drain_new(&mut bob_ws, Duration::from_millis(1000)).await.is_empty());
    assert_eq!(history(&env, &bob, &conversation).await.len(), 1);
}
