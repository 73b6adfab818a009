//! Sequential AWS round trips per route: each route's median latency without and with a fixed
//! delay on every AWS request; the difference divided by the delay is the number of waves of AWS
//! calls the route waits for.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Bench, Socket, User, median, ms, recv_type};

pub const DELAY_MS: u64 = 50;
pub const SAMPLES: usize = 21;
/// Requests of the local SQS event-source pollers, which run whatever the bench does.
pub const SQS_POLLING: [&str; 2] = ["ReceiveMessage", "DeleteMessageBatch"];

/// Two users in a direct conversation and a group of three, both connected.
pub struct Scene {
    pub ann: User,
    pub bob: User,
    pub ann_ws: Socket,
    pub bob_ws: Socket,
    /// The direct conversation of ann and bob.
    pub conversation: String,
    /// A group of ann, bob and a third user.
    pub group: String,
    /// A room of ann (its owner) and bob.
    pub room: String,
}

impl Scene {
    pub async fn set_up(bench: &Bench) -> Scene {
        let ann = bench.register("ann").await;
        let bob = bench.register("bob").await;
        let mut ann_ws = bench.connect(&ann.access).await;
        let mut bob_ws = bench.connect(&bob.access).await;
        ann_ws
            .send(Message::Text(
                json!({"action":"send","to":bob.id,"content":"hello","clientMsgId":"warm"}).to_string().into(),
            ))
            .await
            .unwrap();
        let conversation =
            recv_type(&mut ann_ws, "message.sent").await["message"]["conversationId"].as_str().unwrap().to_string();
        recv_type(&mut bob_ws, "message.new").await;
        let cat = bench.register("cat").await;
        let (status, group) = bench
            .call(
                "POST",
                "/conversations",
                Some(&ann.access),
                Some(json!({"type":"group","name":"bench","memberIds":[bob.id, cat.id]})),
            )
            .await;
        assert_eq!(status, 201, "{group}");
        let group = group["id"].as_str().unwrap().to_string();
        let (status, room) =
            bench.call("POST", "/conversations", Some(&ann.access), Some(json!({"type":"room","name":"bench"}))).await;
        assert_eq!(status, 201, "{room}");
        let room = room["id"].as_str().unwrap().to_string();
        let (status, joined) = bench
            .call("POST", &format!("/conversations/{room}/members"), Some(&bob.access), Some(json!({"userId": bob.id})))
            .await;
        assert_eq!(status, 200, "{joined}");
        recv_type(&mut ann_ws, "member.joined").await;
        Scene { ann, bob, ann_ws, bob_ws, conversation, group, room }
    }
}

/// Samples of the priced pass (more than the timed ones: the amortised writes, such as a
/// rate-limit lease every few frames, need them to settle within 0.2 units between runs).
pub const PRICED_SAMPLES: usize = 30;

/// What one route costs, priced by the proxy (mean of [`PRICED_SAMPLES`] calls).
pub struct Priced {
    pub name: &'static str,
    pub wru: f64,
    pub index_wru: f64,
    pub rru: f64,
    pub by_operation: BTreeMap<String, (f64, f64)>,
}

/// Lets the writes a route leaves behind (after its answer) land, then clears the meters.
async fn settle(bench: &Bench) {
    tokio::time::sleep(Duration::from_millis(60)).await;
    bench.proxy.take_counts();
    bench.proxy.pricing.take();
}

/// One Markdown table row per route, and each route's priced units.
pub async fn measure(bench: &Bench, scene: &mut Scene) -> (Vec<String>, Vec<Priced>) {
    let Scene { ann, bob, ann_ws, bob_ws, conversation, group, room } = scene;
    let mut priced_rows = Vec::new();
    let proxy = &bench.proxy;
    let mut counter = 0u64;
    let mut refresh = ann.refresh.clone();
    let mut rows = Vec::new();
    let routes: [(&'static str, u32); 20] = [
        // send: the rate-limit write must refuse before anything is stored (+1).
        ("ws send (direct) → message.sent", 2),
        ("ws send (direct) → recipient's message.new", 2),
        ("ws ping → pong", 0),
        // $connect: presence needs a read after the connection's write (+1).
        ("ws $connect (authorizer + $connect)", 2),
        // auth: register writes the per-IP window before the argon2 work (+1); login runs it
        // alongside the claim read.
        ("POST /auth/register", 3),
        ("POST /auth/login", 3),
        ("POST /auth/refresh", 2),
        ("GET /me", 1),
        ("GET /conversations/{id}/messages", 1),
        // REST send: the pushes leave after one wave; the answer also waits for the conversation's
        // last-message write, which must follow the stored message (+1).
        ("POST /conversations/{id}/messages", 2),
        // groups: the member list must be read before the members' connections (+1), after the
        // rate limit (+1).
        ("ws send (group of 3) → member's message.new", 3),
        // read: pointer update (‖ the direct pair's connections) → senders of the covered range.
        ("ws read (direct) → sender's receipt", 3),
        ("ws typing (group) → member's typing", 3),
        ("ws sync (2 conversations) → sync", 3),
        ("GET /conversations", 3),
        ("GET /unread", 3),
        ("ws send (room of 2) → member's message.new", 2),
        ("ws delivered (direct) → sender's receipt", 2),
        ("ws typing (direct) → member's typing", 1),
        // The same send with a clientMsgId that is not a ULID: the claimed path (2 writes).
        ("ws send (direct, non-ULID clientMsgId) → message.sent", 2),
    ];
    for (name, minimum) in routes {
        let mut by_delay = Vec::new();
        let mut requests = BTreeMap::new();
        let mut units = chat_local::pricing::Units::default();
        // Two timed passes (without and with the delay), then one priced pass without delay.
        let mut waves_seen = Vec::new();
        for (pass, delay) in [(0, 0), (1, DELAY_MS), (2, 0)] {
            let pricing = pass == 2;
            proxy.delay_ms.store(delay, Ordering::Relaxed);
            proxy.timeline_enabled.store(pass == 1, Ordering::Relaxed);
            proxy.pricing.set_enabled(pricing);
            let mut samples = Vec::new();
            for i in 0..if pricing { PRICED_SAMPLES } else { SAMPLES } {
                counter += 1;
                if pricing {
                    settle(bench).await;
                }
                proxy.take_counts();
                proxy.take_timeline();
                let mut t = Instant::now();
                match name {
                    n if n.starts_with("ws send (direct, non-ULID") => {
                        let frame = json!({"action":"send","conversationId":conversation,"content":"bench","clientMsgId":format!("b{counter}")});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(ann_ws, "message.sent").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(bob_ws, "message.new").await;
                    }
                    n if n.starts_with("ws send (direct)") => {
                        let frame = json!({"action":"send","conversationId":conversation,"content":"bench","clientMsgId":crate::client::fresh_client_msg_id()});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        if n.ends_with("message.sent") {
                            recv_type(ann_ws, "message.sent").await;
                            samples.push(ms(t.elapsed()));
                            recv_type(bob_ws, "message.new").await;
                        } else {
                            recv_type(bob_ws, "message.new").await;
                            samples.push(ms(t.elapsed()));
                            recv_type(ann_ws, "message.sent").await;
                        }
                    }
                    "ws ping → pong" => {
                        ann_ws.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
                        recv_type(ann_ws, "pong").await;
                        samples.push(ms(t.elapsed()));
                    }
                    "ws $connect (authorizer + $connect)" => {
                        let mut socket = bench.connect(&ann.access).await;
                        samples.push(ms(t.elapsed()));
                        let _ = socket.close(None).await;
                        tokio::time::sleep(Duration::from_millis(20 + 2 * delay)).await; // let $disconnect finish
                    }
                    "POST /auth/register" => {
                        bench.register(&format!("r{i}")).await;
                        samples.push(ms(t.elapsed()));
                    }
                    "POST /auth/login" => {
                        let (s, _) = bench
                            .call(
                                "POST",
                                "/auth/login",
                                None,
                                Some(json!({"login": ann.username, "password": "bench-password"})),
                            )
                            .await;
                        assert_eq!(s, 200);
                        samples.push(ms(t.elapsed()));
                    }
                    "POST /auth/refresh" => {
                        let (s, answer) =
                            bench.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": refresh}))).await;
                        assert_eq!(s, 200);
                        refresh = answer["refreshToken"].as_str().unwrap().to_string();
                        samples.push(ms(t.elapsed()));
                    }
                    "GET /me" => {
                        bench.call("GET", "/me", Some(&ann.access), None).await;
                        samples.push(ms(t.elapsed()));
                    }
                    "ws send (group of 3) → member's message.new" => {
                        let frame = json!({"action":"send","conversationId":group,"content":"bench","clientMsgId":crate::client::fresh_client_msg_id()});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(bob_ws, "message.new").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(ann_ws, "message.sent").await;
                    }
                    "ws read (direct) → sender's receipt" => {
                        // a fresh message each time, so the pointer moves and the sender is told
                        let frame = json!({"action":"send","conversationId":conversation,"content":"r","clientMsgId":crate::client::fresh_client_msg_id()});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        let id = recv_type(ann_ws, "message.sent").await["message"]["id"].as_str().unwrap().to_string();
                        recv_type(bob_ws, "message.new").await;
                        if pricing {
                            settle(bench).await;
                        }
                        proxy.take_counts();
                        t = Instant::now();
                        let frame = json!({"action":"read","conversationId":conversation,"messageId":id});
                        bob_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(ann_ws, "receipt").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(bob_ws, "receipt").await;
                    }
                    "ws delivered (direct) → sender's receipt" => {
                        let frame = json!({"action":"send","conversationId":conversation,"content":"d","clientMsgId":crate::client::fresh_client_msg_id()});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        let id = recv_type(ann_ws, "message.sent").await["message"]["id"].as_str().unwrap().to_string();
                        recv_type(bob_ws, "message.new").await;
                        if pricing {
                            settle(bench).await;
                        }
                        proxy.take_counts();
                        t = Instant::now();
                        let frame = json!({"action":"delivered","conversationId":conversation,"messageId":id});
                        bob_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(ann_ws, "receipt").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(bob_ws, "receipt").await;
                    }
                    "ws send (room of 2) → member's message.new" => {
                        let frame = json!({"action":"send","conversationId":room,"content":"bench","clientMsgId":crate::client::fresh_client_msg_id()});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(bob_ws, "message.new").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(ann_ws, "message.sent").await;
                    }
                    "ws typing (direct) → member's typing" => {
                        let frame = json!({"action":"typing","conversationId":conversation,"state":"start"});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(bob_ws, "typing").await;
                        samples.push(ms(t.elapsed()));
                    }
                    "ws typing (group) → member's typing" => {
                        let frame = json!({"action":"typing","conversationId":group,"state":"start"});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(bob_ws, "typing").await;
                        samples.push(ms(t.elapsed()));
                    }
                    "ws sync (2 conversations) → sync" => {
                        bob_ws.send(Message::Text(r#"{"action":"sync","limit":20}"#.into())).await.unwrap();
                        recv_type(bob_ws, "sync").await;
                        samples.push(ms(t.elapsed()));
                    }
                    "GET /conversations" => {
                        let (s, _) = bench.call("GET", "/conversations", Some(&bob.access), None).await;
                        assert_eq!(s, 200);
                        samples.push(ms(t.elapsed()));
                    }
                    "GET /unread" => {
                        let (s, _) = bench.call("GET", "/unread", Some(&bob.access), None).await;
                        assert_eq!(s, 200);
                        samples.push(ms(t.elapsed()));
                    }
                    "GET /conversations/{id}/messages" => {
                        bench
                            .call(
                                "GET",
                                &format!("/conversations/{conversation}/messages?limit=50"),
                                Some(&bob.access),
                                None,
                            )
                            .await;
                        samples.push(ms(t.elapsed()));
                    }
                    _ => {
                        let body = json!({"content": "bench", "clientMsgId": crate::client::fresh_client_msg_id()});
                        let (s, _) = bench
                            .call(
                                "POST",
                                &format!("/conversations/{conversation}/messages"),
                                Some(&ann.access),
                                Some(body),
                            )
                            .await;
                        assert_eq!(s, 201);
                        samples.push(ms(t.elapsed()));
                        recv_type(bob_ws, "message.new").await;
                        recv_type(ann_ws, "message.new").await;
                    }
                }
                if pass == 0 && i == SAMPLES - 1 {
                    requests = proxy.take_counts();
                }
                if pass == 1 {
                    // The waves of AWS requests (pushes left out, as in "minimum") the proxy saw
                    // between the call and its answer.
                    let answered = t + Duration::from_secs_f64(samples.last().copied().unwrap_or(0.0) / 1000.0);
                    let spans: Vec<_> = proxy
                        .take_timeline()
                        .into_iter()
                        .filter(|s| s.start >= t && s.start <= answered)
                        .filter(|s| {
                            !SQS_POLLING.contains(&s.operation.as_str()) && !s.operation.contains("/@connections/")
                        })
                        .collect();
                    waves_seen.push(chat_local::aws_proxy::sequential_waves(&spans) as f64);
                }
                if pricing {
                    // Writes after the answer (counters, the pushes' 410 removals) land first.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let seen = proxy.pricing.take();
                    units.wru += seen.wru;
                    units.index_wru += seen.index_wru;
                    units.rru += seen.rru;
                    for (op, (w, r)) in seen.by_operation {
                        let entry = units.by_operation.entry(op).or_default();
                        entry.0 += w;
                        entry.1 += r;
                    }
                }
            }
            if !pricing {
                by_delay.push(median(samples));
            }
        }
        proxy.pricing.set_enabled(false);
        proxy.timeline_enabled.store(false, Ordering::Relaxed);
        let n = PRICED_SAMPLES as f64;
        priced_rows.push(Priced {
            name,
            wru: units.wru / n,
            index_wru: units.index_wru / n,
            rru: units.rru / n,
            by_operation: units.by_operation.into_iter().map(|(op, (w, r))| (op, (w / n, r / n))).collect(),
        });
        let waves = (by_delay[1] - by_delay[0]) / DELAY_MS as f64;
        // The local SQS pollers of the scheduler run in the background: not this route's requests.
        let requests = requests
            .iter()
            .filter(|(op, _)| !SQS_POLLING.contains(&op.as_str()))
            .map(|(op, n)| format!("{op}×{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let seen = median(waves_seen);
        rows.push(format!(
            "| {name} | {:.1} | {:.1} | {waves:.2} | **{seen:.1}** | {minimum} | {} |",
            by_delay[0],
            by_delay[1],
            if requests.is_empty() { "–".to_string() } else { requests }
        ));
        eprintln!("bench: {name}: {waves:.2} round trips by time, {seen:.1} waves seen");
    }
    proxy.delay_ms.store(0, Ordering::Relaxed);
    (rows, priced_rows)
}
