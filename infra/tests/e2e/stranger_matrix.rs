//! The stranger matrix, generated from the published contract: every authenticated operation of
//! docs/openapi.json and every client action of docs/asyncapi.yaml, tried by eve (who shares
//! nothing with ann) against ann's ids. An operation on someone else's resource answers 403 or
//! 404; one that acts on the caller's own data may succeed, but no answer ever carries ann's
//! secrets (her conversations, message, scheduled message, attachment, device, email, presence).
//! An operation or action this file does not classify fails the test, so new ones join the
//! matrix. (authz.rs checks in depth that conversation answers equal those for a missing id.)

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser, Ws};

fn docs(file: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(file))
        .expect("docs file")
}

/// `(METHOD, path)` of every operation that needs a token.
fn openapi_operations() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(&docs("openapi.json")).unwrap();
    let global = doc.get("security").cloned().unwrap_or(Value::Null);
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let security = operation.get("security").unwrap_or(&global);
            if security.as_array().is_some_and(|s| !s.is_empty()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Every client action: the `action` of each message, as `const` or `enum`.
fn asyncapi_actions() -> BTreeSet<String> {
    fn walk(value: &serde_yaml_ng::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_yaml_ng::Value::Mapping(map) => {
                for (key, inner) in map {
                    if key.as_str() == Some("action") {
                        if let Some(c) = inner.get("const").and_then(|c| c.as_str()) {
                            out.insert(c.to_string());
                        }
                        for e in inner.get("enum").and_then(|e| e.as_sequence()).into_iter().flatten() {
                            out.extend(e.as_str().map(str::to_string));
                        }
                    }
                    walk(inner, out);
                }
            }
            serde_yaml_ng::Value::Sequence(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&docs("asyncapi.yaml")).unwrap();
    let mut out = BTreeSet::new();
    walk(&doc["components"]["messages"], &mut out);
    walk(&doc["components"]["schemas"], &mut out);
    out
}

/// What ann owns, and the strings none of eve's answers may contain.
struct Anns {
    conversations: Vec<String>,
    message: String,
    scheduled: String,
    attachment: String,
    device: String,
    secrets: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// Someone else's resource: 403 or 404.
    Denied,
    /// The caller's own data, or public data: any answer, without ann's secrets.
    Own,
}

/// How eve calls `(method, path)` with ann's ids: the concrete requests and what they must get;
/// `None` for an operation this file does not know (the test then fails).
fn requests(op: &(String, String), anns: &Anns, users: [&TestUser; 4]) -> Option<Vec<(String, Option<Value>, Expect)>> {
    let [ann, bob, eve, carl] = users;
    let send_at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let per_conversation = |suffix: &str, body: Option<Value>| {
        anns.conversations
            .iter()
            .map(|c| (format!("/conversations/{c}{suffix}"), body.clone(), Expect::Denied))
            .collect::<Vec<_>>()
    };
    let m = &anns.message;
    let own = |path: &str, body: Option<Value>| vec![(path.to_string(), body, Expect::Own)];
    Some(match (op.0.as_str(), op.1.as_str()) {
        ("GET", "/me") | ("GET", "/users/online") | ("GET", "/conversations") | ("GET", "/unread") => own(&op.1, None),
        ("GET", "/scheduled-messages") | ("GET", "/calls/config") | ("GET", "/users/available") => own(&op.1, None),
        ("GET", "/stats") | ("GET", "/me/devices") => own(&op.1, None),
        ("PATCH", "/me") => own("/me", Some(json!({"displayName": "eve"}))),
        ("GET", "/users") => own(&format!("/users?q={}", ann.username), None),
        // the public profile, without presence (eve shares no conversation with ann)
        ("GET", "/users/{id}") => own(&format!("/users/{}", ann.id), None),
        // a direct conversation with anyone may be opened (not with ann: eve would stop being
        // a stranger to her): eve's own, empty
        ("POST", "/conversations") => own("/conversations", Some(json!({"type": "direct", "userId": carl.id}))),
        ("POST", "/uploads") => {
            own("/uploads", Some(json!({"fileName": "e.txt", "contentType": "text/plain", "size": 3, "kind": "file"})))
        }
        // the same device id is eve's own device, never ann's
        ("POST", "/me/devices") => own("/me/devices", Some(json!({"deviceId": anns.device, "platform": "web"}))),
        ("GET", "/conversations/{id}") => per_conversation("", None),
        ("GET", "/conversations/{id}/messages") => per_conversation("/messages", None),
        ("POST", "/conversations/{id}/messages") => {
            per_conversation("/messages", Some(json!({"content": "x", "clientMsgId": "evil"})))
        }
        ("PATCH", "/conversations/{id}/messages/{messageId}") => {
            per_conversation(&format!("/messages/{m}"), Some(json!({"content": "x"})))
        }
        ("DELETE", "/conversations/{id}/messages/{messageId}") => per_conversation(&format!("/messages/{m}"), None),
        ("POST", "/conversations/{id}/read") => per_conversation("/read", Some(json!({"messageId": m}))),
        ("DELETE", "/conversations/{id}/history") => per_conversation("/history", None),
        ("POST", "/conversations/{id}/members") => per_conversation("/members", Some(json!({"userId": eve.id}))),
        ("DELETE", "/conversations/{id}/members/{userId}") => per_conversation(&format!("/members/{}", bob.id), None),
        ("PATCH", "/conversations/{id}/me") => per_conversation("/me", Some(json!({"muted": true}))),
        ("POST", "/scheduled-messages") => anns
            .conversations
            .iter()
            .map(|c| {
                let body = json!({"conversationId": c, "content": "x", "sendAt": send_at});
                ("/scheduled-messages".to_string(), Some(body), Expect::Denied)
            })
            .collect(),
        ("DELETE", "/scheduled-messages/{id}") => {
            vec![(format!("/scheduled-messages/{}", anns.scheduled), None, Expect::Denied)]
        }
        ("GET", "/attachments/{id}") => vec![(format!("/attachments/{}", anns.attachment), None, Expect::Denied)],
        // runs before eve's own POST of that id (operations go in order: DELETE < GET < PATCH < POST)
        ("DELETE", "/me/devices/{deviceId}") => vec![(format!("/me/devices/{}", anns.device), None, Expect::Denied)],
        _ => return None,
    })
}

/// The frames eve sends for `action`, and what they must get; `None` for an unknown action.
fn frames(action: &str, anns: &Anns, ann: &TestUser) -> Option<Vec<(Value, Expect)>> {
    let m = &anns.message;
    let per_conversation = |fields: Value| {
        anns.conversations
            .iter()
            .map(|c| {
                let mut frame = fields.clone();
                frame["action"] = json!(action);
                frame["conversationId"] = json!(c);
                (frame, Expect::Denied)
            })
            .collect::<Vec<_>>()
    };
    Some(match action {
        "send" => per_conversation(json!({"content": "x", "clientMsgId": "evil-ws"})),
        "delivered" | "read" => per_conversation(json!({"messageId": m})),
        "typing" => per_conversation(json!({"state": "start"})),
        "join" | "leave" => per_conversation(json!({})),
        "call" => vec![(
            json!({"action": "call", "to": ann.id, "callId": "c-1", "signal": "offer", "data": {"sdp": "v=0"}}),
            Expect::Denied,
        )],
        "sync" | "ping" | "match" | "match.cancel" => vec![(json!({"action": action}), Expect::Own)],
        _ => return None,
    })
}

fn assert_no_secret(what: &str, body: &Value, anns: &Anns) {
    let text = body.to_string();
    for secret in &anns.secrets {
        assert!(!text.contains(secret.as_str()), "{what} leaked {secret}: {text}");
    }
}

/// Eve's answer to one frame: the next event that echoes its requestId (or, for actions with no
/// answer on success, the pong of a ping sent after it).
/// A refusal always answers; the two frames run concurrently (as on API Gateway), so the pong
/// may come first.
async fn frame_answer(ws: &mut Ws, mut frame: Value, request_id: &str, refused: bool) -> Value {
    frame["requestId"] = json!(request_id);
    ws.send(frame).await;
    ws.send(json!({"action": "ping", "requestId": format!("{request_id}-after")})).await;
    let after = format!("{request_id}-after");
    let (mut answer, mut pong_seen) = (None, false);
    // Both arrive, in either order: the answer, then nothing of this frame is left behind to be
    // taken for the answer of the next one.
    loop {
        let event = ws.recv().await;
        if event["requestId"] == request_id {
            answer = Some(event);
        } else if event["requestId"] == after.as_str() {
            pong_seen = true;
            if !refused && answer.is_none() {
                return event;
            }
        }
        if let (Some(answer), true) = (&answer, pong_seen) {
            return answer.clone();
        }
    }
}

#[tokio::test]
async fn a_stranger_gets_403_or_404_and_never_data_on_every_operation_and_action() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let carl = env.register("carl").await;
    let (_, group) = env
        .call(
            "POST",
            "/conversations",
            Some(&ann.access),
            Some(json!({"type": "group", "name": "g", "memberIds": [bob.id]})),
        )
        .await;
    let group = group["id"].as_str().unwrap().to_string();
    let direct = env.open_direct(&ann, &bob).await;
    let secret = format!("secret-{}", chat::domain::new_id());
    let message = env.post_message(&ann, &group, &secret, "s1").await["id"].as_str().unwrap().to_string();
    env.post_message(&ann, &direct, &format!("{secret}-direct"), "s2").await;
    let send_at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (status, scheduled) = env
        .call(
            "POST",
            "/scheduled-messages",
            Some(&ann.access),
            Some(json!({"conversationId": group, "content": format!("{secret}-later"), "sendAt": send_at})),
        )
        .await;
    assert_eq!(status, 201, "{scheduled}");
    let (status, upload) = env
        .call(
            "POST",
            "/uploads",
            Some(&ann.access),
            Some(json!({"fileName": "ann-secret.txt", "contentType": "text/plain", "size": 3, "kind": "file"})),
        )
        .await;
    assert_eq!(status, 201, "{upload}");
    let device = format!("dev-{}", &chat::domain::new_id()[16..]);
    let (status, _) = env
        .call(
            "POST",
            "/me/devices",
            Some(&ann.access),
            Some(json!({"deviceId": device, "platform": "web", "name": "ann-secret-phone"})),
        )
        .await;
    assert_eq!(status, 201);
    let _ann_ws = env.connect(&ann.access).await; // online: eve must still not see it
    let anns = Anns {
        secrets: vec![
            group.clone(),
            direct.clone(),
            message.clone(),
            secret.clone(),
            scheduled["id"].as_str().unwrap().to_string(),
            upload["attachmentId"].as_str().unwrap().to_string(),
            "ann-secret".into(),
            ann.email.clone(),
        ],
        conversations: vec![group.clone(), direct.clone()],
        message,
        scheduled: scheduled["id"].as_str().unwrap().to_string(),
        attachment: upload["attachmentId"].as_str().unwrap().to_string(),
        device,
    };

    let mut unclassified = Vec::new();
    let mut tried = 0;
    for op in openapi_operations() {
        let Some(requests) = requests(&op, &anns, [&ann, &bob, &eve, &carl]) else {
            unclassified.push(format!("{} {}", op.0, op.1));
            continue;
        };
        for (path, body, expect) in requests {
            let (status, answer) = env.call(&op.0, &path, Some(&eve.access), body).await;
            tried += 1;
            let what = format!("{} {path}", op.0);
            assert_ne!(status, 500, "{what}: {answer}");
            if expect == Expect::Denied {
                assert!(matches!(status, 403 | 404), "{what}: {status} {answer}");
            }
            assert_no_secret(&what, &answer, &anns);
            if op.1 == "/users/{id}" {
                assert!(answer.get("lastSeen").is_none() && answer["online"] == false, "{what}: {answer}");
            }
        }
    }
    let mut eve_ws = env.connect(&eve.access).await;
    for action in asyncapi_actions() {
        let Some(frames) = frames(&action, &anns, &ann) else {
            unclassified.push(format!("action {action}"));
            continue;
        };
        for (i, (frame, expect)) in frames.into_iter().enumerate() {
            let request_id = format!("{action}-{i}");
            let answer = frame_answer(&mut eve_ws, frame.clone(), &request_id, expect == Expect::Denied).await;
            tried += 1;
            if expect == Expect::Denied {
                assert_eq!(answer["type"], "error", "{frame}: {answer}");
                assert!(matches!(answer["code"].as_str(), Some("not_found" | "forbidden")), "{frame}: {answer}");
            } else {
                assert_ne!(answer["code"], "internal", "{frame}: {answer}");
            }
            assert_no_secret(&frame.to_string(), &answer, &anns);
        }
    }
    assert!(unclassified.is_empty(), "operations/actions the stranger matrix does not classify: {unclassified:?}");
    eve_ws.assert_alive().await;

    // nothing of ann's changed
    let (_, page) = env.call("GET", &format!("/conversations/{group}/messages"), Some(&bob.access), None).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["messages"][0]["content"], secret.as_str());
    let (_, conversation) = env.call("GET", &format!("/conversations/{group}"), Some(&ann.access), None).await;
    assert_eq!(conversation["memberCount"], 2, "{conversation}");
    let (_, mine) = env.call("GET", "/scheduled-messages", Some(&ann.access), None).await;
    assert!(mine.to_string().contains(&anns.scheduled), "{mine}");
    let (_, devices) = env.call("GET", "/me/devices", Some(&ann.access), None).await;
    assert!(devices.to_string().contains("ann-secret-phone"), "{devices}");
    eprintln!(
        "| security: stranger matrix | attempts {tried} | failures 0 (every one 403/404 or own data) | leaks 0 | duplicated - |"
    );
}
