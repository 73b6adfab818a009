//! Domain events end to end: the table's stream through the local event-source mapping and the
//! events function onto the bus, read at the webhook. Every change of the contract's kinds makes
//! exactly one event (repeats carry the same `detail.eventId`), with the public object as
//! detail; changes of no interest (delivered pointers, mute) make none; a record the function
//! cannot read is retried, split off and described to the on-failure queue while the changes
//! after it still come through.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, assert_no_private_fields};
use crate::webhooks::Receiver;

/// The distinct events (by `detail.eventId`) of the calls so far, as (detail-type, detail).
fn distinct(receiver: &Receiver) -> Vec<(String, Value)> {
    let mut by_id: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for (_, event) in receiver.calls() {
        let Some(id) = event["detail"]["eventId"].as_str() else { continue };
        let previous = by_id.insert(
            id.to_string(),
            (event["detail-type"].as_str().unwrap_or_default().into(), event["detail"].clone()),
        );
        if let Some(previous) = previous {
            assert_eq!(previous.1, event["detail"], "a redelivery with the same eventId differs");
        }
    }
    by_id.into_values().collect()
}

fn count(events: &[(String, Value)], kind: &str, check: impl Fn(&Value) -> bool) -> usize {
    events.iter().filter(|(k, d)| k == kind && check(d)).count()
}

async fn create(env: &TestEnv, owner: &TestUser, body: Value) -> String {
    let (status, conv) = env.call("POST", "/conversations", Some(&owner.access), Some(body)).await;
    assert_eq!(status, 201, "{conv}");
    conv["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_change_makes_its_domain_event_once() {
    let receiver = Receiver::start(0).await;
    let env = receiver.backend().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let group = create(&env, &ann, json!({"type": "group", "name": "team", "memberIds": [bob.id]})).await;
    let message = env.post_message(&ann, &group, "first", "c1").await;
    let id = message["id"].as_str().unwrap().to_string();
    let path = format!("/conversations/{group}/messages/{id}");
    let (status, _) = env.call("PATCH", &path, Some(&ann.access), Some(json!({"content": "edited"}))).await;
    assert_eq!(status, 200);
    let (status, _) = env
        .call("POST", &format!("/conversations/{group}/read"), Some(&bob.access), Some(json!({"messageId": id})))
        .await;
    assert_eq!(status, 204);
    let (status, _) = env.call("DELETE", &path, Some(&ann.access), None).await;
    assert_eq!(status, 204);
    // no event: a mute, a delivered pointer
    let (status, _) =
        env.call("PATCH", &format!("/conversations/{group}/me"), Some(&bob.access), Some(json!({"muted": true}))).await;
    assert_eq!(status, 200);
    let mut ws = env.connect(&bob.access).await;
    ws.send(json!({"action": "delivered", "conversationId": group, "messageId": id})).await;
    // a room: joined and left
    let cat = env.register("cat").await;
    let room = create(&env, &ann, json!({"type": "room", "name": "lobby"})).await;
    let (status, _) = env
        .call("POST", &format!("/conversations/{room}/members"), Some(&cat.access), Some(json!({"userId": cat.id})))
        .await;
    assert_eq!(status, 200);
    let (status, _) =
        env.call("DELETE", &format!("/conversations/{room}/members/{}", cat.id), Some(&cat.access), None).await;
    assert_eq!(status, 204);
    // the last change; everything before it is on the stream before it
    let last = env.post_message(&cat, &env.open_direct(&cat, &ann).await, "last", "c9").await;
    let last_id = last["id"].as_str().unwrap().to_string();
    receiver
        .until("the last message's event", |calls| calls.iter().any(|(_, e)| e["detail"]["id"] == last_id.as_str()))
        .await;
    receiver
        .until("the room's member.left", |_| {
            count(&distinct(&receiver), "member.left", |d| d["conversationId"] == room.as_str()) == 1
        })
        .await;

    let events = distinct(&receiver);
    let user = |u: &TestUser| count(&events, "user.registered", |d| d["id"] == u.id.as_str());
    assert_eq!((user(&ann), user(&bob), user(&cat)), (1, 1, 1), "{events:#?}");
    assert_eq!(
        count(&events, "conversation.created", |d| d["id"] == group.as_str()
            && d["type"] == "group"
            && d["name"] == "team"),
        1
    );
    assert_eq!(count(&events, "conversation.created", |d| d["id"] == room.as_str()), 1);
    assert_eq!(count(&events, "member.joined", |d| d["conversationId"] == group.as_str()), 2, "{events:#?}");
    assert_eq!(count(&events, "member.joined", |d| d["conversationId"] == room.as_str()), 2, "owner and cat");
    assert_eq!(
        count(&events, "member.left", |d| d["conversationId"] == room.as_str() && d["userId"] == cat.id.as_str()),
        1
    );
    assert_eq!(count(&events, "message.created", |d| d["id"] == id.as_str() && d["content"] == "first"), 1);
    assert_eq!(count(&events, "message.updated", |d| d["id"] == id.as_str() && d["content"] == "edited"), 1);
    assert_eq!(
        count(&events, "message.deleted", |d| d["id"] == id.as_str() && d["deleted"] == true && d["content"].is_null()),
        1
    );
    assert_eq!(
        count(&events, "receipt.read", |d| d["conversationId"] == group.as_str()
            && d["userId"] == bob.id.as_str()
            && d["messageId"] == id.as_str()
            && d["status"] == "read"),
        1,
        "{events:#?}"
    );
    // exactly the contract's kinds; never an email or a password hash
    let kinds = [
        "message.created",
        "message.updated",
        "message.deleted",
        "member.joined",
        "member.left",
        "conversation.created",
        "user.registered",
        "receipt.read",
    ];
    assert!(events.iter().all(|(k, _)| kinds.contains(&k.as_str())), "{events:#?}");
    for (_, detail) in &events {
        assert_no_private_fields(detail);
    }
    // the delivered pointer and the mute made none: bob's member item changed three times, one was a read
    assert_eq!(count(&events, "receipt.read", |_| true), 1);
    ws.close().await;
}

#[tokio::test]
async fn an_unreadable_record_is_set_aside_and_later_changes_still_come_through() {
    let receiver = Receiver::start(0).await;
    let env = receiver.backend().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let conversation = env.open_direct(&ann, &bob).await;
    // a message item no domain event can be made of (no kind, no sender), written beside the API
    let poison = chat::domain::new_id();
    env.dynamo
        .put_item()
        .table_name(&env.table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONV#{conversation}")))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("MSG#{poison}")))
        .item("id", aws_sdk_dynamodb::types::AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    let after = env.post_message(&ann, &conversation, "after the poison", "c1").await;
    let after_id = after["id"].as_str().unwrap().to_string();
    receiver
        .until("the message after the poison", |calls| {
            calls.iter().any(|(_, e)| e["detail"]["id"] == after_id.as_str())
        })
        .await;

    // the on-failure queue describes where the record is
    let queue = &env.backend.queues["EventsFailureQueue"];
    let sqs = env.sqs();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let body = loop {
        let out = sqs.receive_message().queue_url(&queue.url).wait_time_seconds(0).send().await.unwrap();
        if let Some(m) = out.messages.unwrap_or_default().into_iter().next() {
            break serde_json::from_str::<Value>(m.body().unwrap()).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing in the on-failure queue");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let info = &body["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 1, "bisected down to the one record: {body}");
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    assert_eq!(body["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(body["requestContext"]["approximateInvokeCount"], 6, "MaximumRetryAttempts 5: {body}");
    // nothing of the poison reached the bus
    assert!(receiver.calls().iter().all(|(_, e)| e["detail"]["id"] != poison.as_str()));
}

/// Every event source template.yaml declares, read from the YAML itself: (kind, name) of each
/// function event other than an API's, each `AWS::Events::Rule` and each
/// `AWS::Lambda::EventSourceMapping`, where its `Condition` holds.
fn declared_event_sources(parameters: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let webhook_on = parameters.get("WebhookUrl").is_some_and(|u| !u.is_empty());
    let mut out = Vec::new();
    for (id, resource) in doc["Resources"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        match (resource["Type"].as_str().unwrap(), resource["Condition"].as_str()) {
            (_, Some("WebhookOn")) if !webhook_on => {}
            (_, Some(other)) if other != "WebhookOn" && resource["Type"] == "AWS::Events::Rule" => {
                panic!("{id}: rule under condition {other}, which this test does not evaluate")
            }
            ("AWS::Events::Rule", _) => out.push(("Rule".to_string(), id.to_string())),
            ("AWS::Lambda::EventSourceMapping", _) => out.push(("EventSourceMapping".to_string(), id.to_string())),
            ("AWS::Serverless::Function", _) => {
                for (event, e) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
                    let kind = e["Type"].as_str().unwrap();
                    if !matches!(kind, "HttpApi" | "Api") {
                        out.push((kind.to_string(), format!("{id}.{}", event.as_str().unwrap())));
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out
}

/// What the local gateway runs of a template (schedules, SQS and stream mappings, bus rules),
/// named as in `declared_event_sources`.
fn run_locally(t: &chat_local::template::Template) -> Vec<(String, String)> {
    let function_of = |binary: &str| t.functions.iter().find(|(_, b)| b.as_str() == binary).unwrap().0.clone();
    let mut out = Vec::new();
    for s in &t.events.schedules {
        out.push(("Schedule".to_string(), format!("{}.{}", function_of(&s.function), s.name)));
    }
    for m in &t.events.queue_mappings {
        out.push(("SQS".to_string(), format!("{}.{}", function_of(&m.function), m.name)));
    }
    for m in &t.streams.mappings {
        out.push(("DynamoDB".to_string(), format!("{}.{}", function_of(&m.function), m.name)));
    }
    for r in &t.bus.rules {
        let from_function = t.functions.keys().find(|f| r.name.strip_prefix(f.as_str()).is_some_and(|e| !e.is_empty()));
        match from_function {
            Some(f) => out.push(("EventBridgeRule".to_string(), format!("{f}.{}", &r.name[f.len()..]))),
            None => out.push(("Rule".to_string(), r.name.clone())),
        }
    }
    out.sort();
    out
}

#[test]
fn every_event_source_of_the_template_runs_locally_and_nothing_else_does() {
    for parameters in
        [BTreeMap::new(), BTreeMap::from([("WebhookUrl".to_string(), "https://example.com/hook".to_string())])]
    {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let t = chat_local::template::Template::load_with_parameters(&path, &parameters).expect("template.yaml parses");
        assert_eq!(run_locally(&t), declared_event_sources(&parameters), "with {parameters:?}");
        // and each mapping runs as declared
        let stream = &t.streams.mappings[0];
        assert_eq!(t.streams.tables.get(&stream.table).map(String::as_str), Some("NEW_AND_OLD_IMAGES"));
        assert_eq!((stream.batch_size, stream.batching_window_secs, stream.max_retry_attempts), (100, 1, 5));
        assert!(stream.report_batch_item_failures && stream.bisect_on_error);
        assert_eq!(stream.on_failure_queue.as_deref(), Some("EventsFailureQueue"));
        assert_eq!(stream.filters.len(), 2);
        let push = t.bus.rules.iter().find(|r| r.name == "PushFunctionMessageCreated").expect("the push rule");
        assert_eq!(push.pattern, json!({"source": ["chat"], "detail-type": ["message.created"]}));
        assert_eq!(push.targets[0].dead_letter_queue.as_deref(), Some("PushDLQ"));
        // the push function's hand-off of a big conversation comes back to it, and only to it
        let more =
            t.bus.rules.iter().find(|r| r.name == "PushFunctionPushContinuation").expect("the continuation rule");
        assert_eq!(more.pattern, json!({"source": ["chat.push"], "detail-type": ["push.continuation"]}));
        assert_eq!(more.targets[0].dead_letter_queue.as_deref(), Some("PushDLQ"));
        let continuation = json!({"source": "chat.push", "detail-type": "push.continuation", "detail": {}});
        for r in t.bus.rules.iter().filter(|r| r.name != more.name) {
            assert!(!chat_local::pattern::matches(&r.pattern, &continuation), "{} would see push.continuation", r.name);
        }
        assert_eq!(t.bus.bus_env.get("CHAT_EVENT_BUS").map(String::as_str), Some("ChatEventBus"));
        assert!(t.bus.archives.is_empty(), "the archive is off by default");
        let webhook = t.bus.rules.iter().find(|r| r.name == "WebhookRule");
        assert_eq!(webhook.is_some(), parameters.contains_key("WebhookUrl"));
        if let Some(webhook) = webhook {
            let target = &webhook.targets[0];
            assert_eq!(
                target.kind,
                chat_local::template::bus::TargetKind::ApiDestination {
                    url: "https://example.com/hook".into(),
                    method: "POST".into(),
                    header: Some(("x-chat-webhook-key".into(), "unset".into())),
                }
            );
            assert_eq!((target.max_retry_attempts, target.dead_letter_queue.as_deref()), (8, Some("WebhookDLQ")));
        }
    }
    // the stream filters pass exactly the items domain events come from
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let t = chat_local::template::Template::load(&path).unwrap();
    let passes = |name: &str, pk: &str, sk: &str| {
        let record = json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}});
        t.streams.mappings[0].filters.iter().any(|f| chat_local::pattern::matches(f, &record))
    };
    assert!(passes("INSERT", "USER#u", "PROFILE") && passes("INSERT", "CONV#g-1", "META"));
    assert!(passes("MODIFY", "CONV#g-1", "MSG#1") && passes("REMOVE", "CONV#g-1", "MEMBER#u"));
    for (name, pk, sk) in [
        ("MODIFY", "USER#u", "PROFILE"),
        ("MODIFY", "CONV#g-1", "META"),
        ("INSERT", "USER#u", "CONN#c"),
        ("INSERT", "USER#u", "CONNSET"),
        ("INSERT", "IDEM#u#c", "IDEM"),
        ("INSERT", "STATS#USERS", "COUNT"),
        ("INSERT", "USER#u", "DEVICE#d"),
        ("INSERT", "RTF#f", "FAMILY"),
    ] {
        assert!(!passes(name, pk, sk), "{name} {pk} {sk} should not invoke the events function");
    }
}
