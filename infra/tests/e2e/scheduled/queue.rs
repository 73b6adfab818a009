//! The queue side of scheduled messages: failing records, the DLQ, concurrent dispatcher runs,
//! redelivery, the dispatcher's lease, and the requests per scheduled message.

use super::*;

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
    working.remove("ReceiveMessage");
    let polls = proxy.take_emulation_counts().remove("ReceiveMessage").unwrap_or(0);
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
