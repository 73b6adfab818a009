//! Attachments end to end: `POST /uploads`, real bytes PUT to the presigned URL (S3 on the
//! emulator), a message with `attachmentId` over WebSocket and REST, downloads as another member,
//! `GET /attachments/{id}`, every refusal, and deletion with the message.

use serde_json::{Value, json};

use crate::support::{TestEnv, TestUser};

/// `POST /uploads`: status and body.
async fn declare(env: &TestEnv, user: &TestUser, body: Value) -> (u16, Value) {
    env.call("POST", "/uploads", Some(&user.access), Some(body)).await
}

/// PUTs `bytes` to the ticket's URL with its headers, as a client does; the status.
async fn put(env: &TestEnv, ticket: &Value, bytes: Vec<u8>) -> u16 {
    let mut request = env.http.put(ticket["uploadUrl"].as_str().unwrap()).body(bytes);
    for (name, value) in ticket["uploadHeaders"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.send().await.expect("PUT to S3").status().as_u16()
}

/// Declares and uploads `bytes` as a file; the ticket.
async fn upload(env: &TestEnv, user: &TestUser, name: &str, content_type: &str, bytes: &[u8]) -> Value {
    let body = json!({"fileName": name, "contentType": content_type, "size": bytes.len(), "kind": "file"});
    let (status, ticket) = declare(env, user, body).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(put(env, &ticket, bytes.to_vec()).await, 200);
    ticket
}

async fn download(env: &TestEnv, url: &str) -> (u16, Vec<u8>) {
    let response = env.http.get(url).send().await.expect("GET from S3");
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

async fn history(env: &TestEnv, user: &TestUser, conversation: &str) -> Vec<Value> {
    let (status, page) =
        env.call("GET", &format!("/conversations/{conversation}/messages"), Some(&user.access), None).await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().unwrap().clone()
}

async fn post(env: &TestEnv, user: &TestUser, conversation: &str, body: Value) -> (u16, Value) {
    env.call("POST", &format!("/conversations/{conversation}/messages"), Some(&user.access), Some(body)).await
}

#[tokio::test]
async fn a_file_goes_up_once_and_comes_down_for_the_other_member() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let bytes = format!("attachment bytes {}", chat::domain::new_id()).into_bytes();
    let ticket = upload(&env, &ann, "notes.txt", "text/plain", &bytes).await;
    // Reachable by the client as it is: path-style, on the AWS endpoint in use.
    let url = ticket["uploadUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/chat-e2e-", crate::support::aws_endpoint())), "{url}");
    assert!(url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type"), "length and type signed: {url}");
    assert_eq!(ticket["expiresIn"], 300);
    let id = ticket["attachmentId"].as_str().unwrap().to_string();

    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    ann_ws
        .send(json!({"action": "send", "requestId": "r1", "conversationId": conversation, "attachmentId": id,
            "content": "Here are the notes", "clientMsgId": "f1"}))
        .await;
    let sent = ann_ws.recv_type("message.sent").await;
    let message = &sent["message"];
    assert_eq!(message["kind"], "file");
    assert_eq!(message["content"], "Here are the notes");
    let attachment = &message["attachment"];
    assert_eq!(attachment["id"], id.as_str());
    assert_eq!(attachment["fileName"], "notes.txt");
    assert_eq!(attachment["contentType"], "text/plain");
    assert_eq!(attachment["size"], bytes.len());
    assert!(attachment["urlExpiresAt"].as_str().unwrap().ends_with('Z'));

    let new = bob_ws.recv_type("message.new").await;
    assert_eq!(new["message"]["id"], message["id"]);
    let (status, got) = download(&env, new["message"]["attachment"]["url"].as_str().unwrap()).await;
    assert_eq!((status, got), (200, bytes.clone()), "the other member downloads the same bytes");

    // History signs a fresh URL for its reader.
    let page = history(&env, &bob, &conversation).await;
    let url = page[0]["attachment"]["url"].as_str().unwrap();
    assert_eq!(download(&env, url).await, (200, bytes.clone()));
    // The list's last message too.
    let (_, list) = env.call("GET", "/conversations", Some(&bob.access), None).await;
    let last = &list["conversations"][0]["lastMessage"];
    assert_eq!(last["attachment"]["id"], id.as_str());
    assert_eq!(download(&env, last["attachment"]["url"].as_str().unwrap()).await.0, 200);

    // Renewal: members and the uploader; a stranger learns nothing.
    for user in [&bob, &ann] {
        let (status, body) = env.call("GET", &format!("/attachments/{id}"), Some(&user.access), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(download(&env, body["attachment"]["url"].as_str().unwrap()).await, (200, bytes.clone()));
    }
    let (status, body) = env.call("GET", &format!("/attachments/{id}"), Some(&eve.access), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = env.call("GET", "/attachments/not-an-id", Some(&bob.access), None).await;
    assert_eq!(status, 404);
    let (status, _) = env.call("GET", &format!("/attachments/{id}"), None, None).await;
    assert_eq!(status, 401);

    // Only once: another message with it is refused; a resend of the same clientMsgId is the first message.
    let (status, body) = post(&env, &ann, &conversation, json!({"attachmentId": id, "clientMsgId": "f2"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    ann_ws
        .send(json!({"action": "send", "conversationId": conversation, "attachmentId": id,
            "content": "Here are the notes", "clientMsgId": "f1"}))
        .await;
    let again = ann_ws.recv_type("message.sent").await;
    assert_eq!(again["message"]["id"], message["id"]);
    assert_eq!(history(&env, &ann, &conversation).await.len(), 1);
}

#[tokio::test]
async fn bad_uploads_and_sends_are_refused_and_store_nothing() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let file =
        |name: &str, ty: &str, size: u64| json!({"fileName": name, "contentType": ty, "size": size, "kind": "file"});

    // Declarations.
    for (body, status, code) in [
        (file("big.bin", "application/octet-stream", 10 * 1024 * 1024 + 1), 413, "payload_too_large"),
        (file("page.html", "text/html", 10), 400, "invalid_input"),
        (file("x.svg", "image/svg+xml", 10), 400, "invalid_input"),
        (file("../etc/passwd", "text/plain", 10), 400, "invalid_input"),
        (file("empty.txt", "text/plain", 0), 400, "invalid_input"),
        (
            json!({"fileName": "v.ogg", "contentType": "audio/ogg", "size": 10, "kind": "voice", "durationSec": 301}),
            400,
            "invalid_input",
        ),
        (json!({"fileName": "v.ogg", "contentType": "audio/ogg", "size": 10, "kind": "voice"}), 400, "invalid_input"),
        (
            json!({"fileName": "v.png", "contentType": "image/png", "size": 10, "kind": "voice", "durationSec": 3}),
            400,
            "invalid_input",
        ),
        (json!({"fileName": "a", "contentType": "text/plain", "size": 1, "kind": "video"}), 400, "invalid_input"),
    ] {
        let (got, answer) = declare(&env, &ann, body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body} -> {answer}");
    }
    let (status, _) = env.call("POST", "/uploads", None, Some(file("a.txt", "text/plain", 1))).await;
    assert_eq!(status, 401);

    // Declared 10 bytes, uploaded 20 (the emulator does not check signatures; S3 would refuse the PUT).
    let (_, ticket) = declare(&env, &ann, file("short.txt", "text/plain", 10)).await;
    assert_eq!(put(&env, &ticket, vec![b'x'; 20]).await, 200);
    let (status, body) =
        post(&env, &ann, &conversation, json!({"attachmentId": ticket["attachmentId"], "clientMsgId": "s1"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("20 bytes"), "{body}");

    // Declared, never uploaded.
    let (_, pending) = declare(&env, &ann, file("later.txt", "text/plain", 5)).await;
    let (status, body) =
        post(&env, &ann, &conversation, json!({"attachmentId": pending["attachmentId"], "clientMsgId": "s2"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{body}");

    // Someone else's upload: not found for bob, over REST and WebSocket.
    let mine = upload(&env, &ann, "mine.txt", "text/plain", b"ann's").await;
    let (status, body) =
        post(&env, &bob, &conversation, json!({"attachmentId": mine["attachmentId"], "clientMsgId": "s3"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
    let mut bob_ws = env.connect(&bob.access).await;
    bob_ws
        .send(json!({"action": "send", "requestId": "w1", "conversationId": conversation,
            "attachmentId": mine["attachmentId"], "clientMsgId": "s4"}))
        .await;
    let error = bob_ws.recv_type("error").await;
    assert_eq!((error["code"].as_str(), error["requestId"].as_str()), (Some("not_found"), Some("w1")));
    // An unknown id, and neither content nor attachment.
    let (status, _) =
        post(&env, &ann, &conversation, json!({"attachmentId": chat::domain::new_id(), "clientMsgId": "s5"})).await;
    assert_eq!(status, 400, "not uploaded (nothing tells an unknown id from a pending one)");
    let (status, _) = post(&env, &ann, &conversation, json!({"clientMsgId": "s6"})).await;
    assert_eq!(status, 400);

    assert!(history(&env, &ann, &conversation).await.is_empty(), "nothing was stored");
    // ann's own attachment is still hers to send.
    let (status, sent) =
        post(&env, &ann, &conversation, json!({"attachmentId": mine["attachmentId"], "clientMsgId": "s7"})).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["kind"], "file");
    assert!(sent["content"].is_null(), "no caption: {sent}");
}

#[tokio::test]
async fn a_voice_note_sent_over_rest_plays_on_the_other_side() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let audio = vec![7u8; 2048];
    let (status, ticket) = declare(
        &env,
        &ann,
        json!({"fileName": "voice-note.webm", "contentType": "audio/webm;codecs=opus", "size": audio.len(),
            "kind": "voice", "durationSec": 2.5}),
    )
    .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["uploadHeaders"]["content-type"], "audio/webm;codecs=opus");
    assert_eq!(put(&env, &ticket, audio.clone()).await, 200);
    let (status, message) =
        post(&env, &ann, &conversation, json!({"attachmentId": ticket["attachmentId"], "clientMsgId": "v1"})).await;
    assert_eq!(status, 201, "{message}");
    assert_eq!(message["kind"], "voice");
    assert_eq!(message["attachment"]["kind"], "voice");
    assert_eq!(message["attachment"]["durationSec"], 2.5);
    let new = bob_ws.recv_type("message.new").await;
    let url = new["message"]["attachment"]["url"].as_str().unwrap();
    let response = env.http.get(url).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "audio/webm;codecs=opus");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("voice-note.webm"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), audio);
}

#[tokio::test]
async fn deleting_the_message_deletes_its_object() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let ticket = upload(&env, &ann, "gone.txt", "text/plain", b"soon gone").await;
    let id = ticket["attachmentId"].as_str().unwrap().to_string();
    let (_, message) = post(&env, &ann, &conversation, json!({"attachmentId": id, "clientMsgId": "d1"})).await;
    let url = message["attachment"]["url"].as_str().unwrap().to_string();
    assert_eq!(download(&env, &url).await.0, 200);

    let mut bob_ws = env.connect(&bob.access).await;
    let path = format!("/conversations/{conversation}/messages/{}", message["id"].as_str().unwrap());
    let (status, _) = env.call("DELETE", &path, Some(&bob.access), None).await;
    assert_eq!(status, 403, "only the sender");
    let (status, _) = env.call("DELETE", &path, Some(&ann.access), None).await;
    assert_eq!(status, 204);
    let deleted = bob_ws.recv_type("message.deleted").await;
    assert!(deleted["message"].get("attachment").is_none(), "{deleted}");

    // S3 answers 403 for a missing key to a caller who may not list the bucket; moto does too.
    assert_ne!(download(&env, &url).await.0, 200, "the URL no longer works");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&env.backend.sdk).force_path_style(true).build(),
    );
    let bucket = env.backend.app.config.attachments_bucket.clone().unwrap();
    let head = s3.head_object().bucket(bucket).key(format!("a/{id}")).send().await;
    assert!(head.is_err_and(|e| e.raw_response().is_some_and(|r| r.status().as_u16() == 404)), "the object is gone");
    let (status, _) = env.call("GET", &format!("/attachments/{id}"), Some(&ann.access), None).await;
    assert_eq!(status, 404, "and its URL is never renewed");
    let page = history(&env, &bob, &conversation).await;
    assert_eq!(page[0]["deleted"], true);
    assert!(page[0].get("attachment").is_none(), "the tombstone keeps no file name: {}", page[0]);
}

/// S3 requests by kind (the proxy names them by method and path; DELETE in a send is the tag's).
fn summarise(counts: std::collections::BTreeMap<String, u64>) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    // The local SQS mapping polls on its own clock, and the pricer describes the table once: not
    // part of any request.
    for (operation, n) in counts.into_iter().filter(|(op, _)| op != "ReceiveMessage" && op != "DescribeTable") {
        let name = match operation.split_once(' ') {
            Some(("HEAD", _)) => "S3 HeadObject".to_string(),
            Some(("PUT", _)) => "S3 PutObject (client)".to_string(),
            Some(("GET", _)) => "S3 GetObject (client)".to_string(),
            Some(("DELETE", _)) => "S3 DeleteObject(Tagging)".to_string(),
            _ => operation,
        };
        *out.entry(name).or_default() += n;
    }
    out
}

/// The AWS requests of an upload and of a message with an attachment, counted by the proxy in
/// front of the emulator (docs/data-model.md, "Attachments", turns them into units).
#[tokio::test]
async fn aws_requests_per_upload_and_per_attachment_message() {
    let (env, proxy) = TestEnv::start_behind_proxy().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let _bob_ws = env.connect(&bob.access).await;
    proxy.pricing.set_enabled(true);
    proxy.take_counts();
    proxy.pricing.take();

    let body = json!({"fileName": "n.txt", "contentType": "text/plain", "size": 4, "kind": "file"});
    let (status, ticket) = declare(&env, &ann, body).await;
    assert_eq!(status, 201);
    // Only the HTTP API's own requests: the stream's consumers (events, push) run meanwhile.
    let upload = summarise(proxy.take_counts_of("http-api"));
    eprintln!("AWS requests per POST /uploads: {upload:?}; {:?}", proxy.pricing.take_of("http-api"));
    assert_eq!(upload.get("PutItem"), Some(&1), "one record, no S3 request (presigning is local): {upload:?}");
    assert_eq!(upload.values().sum::<u64>(), 1, "{upload:?}");

    assert_eq!(put(&env, &ticket, b"four".to_vec()).await, 200);
    proxy.take_counts();
    proxy.pricing.take();
    let (status, _) =
        post(&env, &ann, &conversation, json!({"attachmentId": ticket["attachmentId"], "clientMsgId": "k1"})).await;
    assert_eq!(status, 201);
    let with_attachment = summarise(proxy.take_counts_of("http-api"));
    let attachment_units = proxy.pricing.take_of("http-api");
    let (status, _) = post(&env, &ann, &conversation, json!({"content": "plain", "clientMsgId": "k2"})).await;
    assert_eq!(status, 201);
    let plain = summarise(proxy.take_counts_of("http-api"));
    let plain_units = proxy.pricing.take_of("http-api");
    eprintln!("AWS requests per message with an attachment: {with_attachment:?}; {attachment_units:?}");
    eprintln!("AWS requests per text message: {plain:?}; {plain_units:?}");
    eprintln!("and of the local stand-ins meanwhile (pollers, not counted): {:?}", proxy.take_emulation_counts());
    // What the attachment adds to a message: HeadObject, the claim, the tag's removal.
    assert_eq!(with_attachment.get("S3 HeadObject"), Some(&1));
    assert_eq!(with_attachment.get("S3 DeleteObject(Tagging)"), Some(&1));
    assert_eq!(
        with_attachment.get("UpdateItem").copied().unwrap_or(0),
        plain.get("UpdateItem").copied().unwrap_or(0) + 1
    );
    assert_eq!(with_attachment.values().sum::<u64>(), plain.values().sum::<u64>() + 3);
    assert_eq!(attachment_units.total_wru(), plain_units.total_wru() + 1.0, "the claim: {attachment_units:?}");
    assert_eq!(attachment_units.rru, plain_units.rru);
}
