//! Fan-out: one message to a big room, every member connected.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Bench, median, ms, recv_type_within};

/// Members of the fan-out room (`CHAT_BENCH_ROOM_MEMBERS`). 300 by default: against the one
/// serialised emulator, 1,000 members' `$connect`s outrun the 10 s function timeout and the run
/// does not finish (docs/data-model.md gives the 1,000-member cost by the measured per-member
/// units).
pub fn room_size() -> usize {
    std::env::var("CHAT_BENCH_ROOM_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

pub struct Fanout {
    pub samples: usize,
    pub sent_ms: f64,
    pub all_ms: f64,
    pub requests: BTreeMap<String, u64>,
    /// The priced units of one more send (after the timed ones).
    pub units: chat_local::pricing::Units,
}

/// A room with `size` members (the owner and `size - 1` others written straight to the table),
/// all connected; the owner sends, and the clock stops when the last member has the message.
pub async fn room_fanout(bench: &Bench, size: usize) -> Fanout {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let owner = bench.register("owner").await;
    let (status, room) =
        bench.call("POST", "/conversations", Some(&owner.access), Some(json!({"type":"room","name":"big"}))).await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_string();
    let dynamo = aws_sdk_dynamodb::Client::new(&bench.backend.sdk);
    let table = bench.backend.app.config.table.clone();
    let members: Vec<String> = (1..size).map(|_| chat::domain::new_id()).collect();
    let s = |v: &str| AttributeValue::S(v.to_string());
    // A member item and a profile per member ($connect refuses a token whose user has no
    // profile): 12 members, 24 puts, per BatchWriteItem (at most 25).
    for chunk in members.chunks(12) {
        let put = |pairs: Vec<(&str, String)>| {
            let mut put = PutRequest::builder();
            for (k, v) in pairs {
                put = put.item(k, s(&v));
            }
            WriteRequest::builder().put_request(put.build().unwrap()).build()
        };
        let writes = chunk
            .iter()
            .flat_map(|user| {
                let name = format!("m{}", user.to_lowercase());
                [
                    put(vec![
                        ("pk", format!("CONV#{room}")),
                        ("sk", format!("MEMBER#{user}")),
                        ("gsi1pk", format!("USER#{user}")),
                        ("gsi1sk", format!("CONV#{room}")),
                        ("userId", user.clone()),
                        ("role", "member".into()),
                        ("joinedAt", "2026-01-01T00:00:00.000Z".into()),
                    ]),
                    put(vec![
                        ("pk", format!("USER#{user}")),
                        ("sk", "PROFILE".into()),
                        ("id", user.clone()),
                        ("username", name.clone()),
                        ("email", format!("{name}@example.com")),
                        ("displayName", name),
                        ("passwordHash", "not a hash: this member never logs in".into()),
                        ("createdAt", "2026-01-01T00:00:00.000Z".into()),
                    ]),
                ]
            })
            .collect();
        dynamo.batch_write_item().request_items(&table, writes).send().await.expect("write members");
    }
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", s(&format!("CONV#{room}")))
        .key("sk", s("META"))
        .update_expression("SET memberCount = :n")
        .expression_attribute_values(":n", AttributeValue::N(size.to_string()))
        .send()
        .await
        .expect("member count");
    let mut sockets = Vec::with_capacity(members.len());
    eprintln!("bench: connecting {} members", members.len());
    // 25 at a time: each $connect writes several items into one (serialised) emulator, and 50 at
    // once outran the function's 10 s timeout on a loaded machine.
    for chunk in members.chunks(25) {
        // Issued per chunk: connecting a big room can take longer than a token lives.
        let now = chrono::Utc::now().timestamp();
        let connects = chunk.iter().map(|user| {
            let token = bench.backend.app.tokens.issue(user, now).unwrap();
            bench.connect_owned(token)
        });
        sockets.extend(futures::future::join_all(connects).await);
    }
    let mut owner_ws = bench.connect(&owner.access).await;
    eprintln!("bench: all connected; sending");
    let rounds = 3;
    let (mut sent, mut all) = (Vec::new(), Vec::new());
    let mut requests = BTreeMap::new();
    for _ in 0..rounds {
        bench.proxy.take_counts();
        let t = Instant::now();
        let frame = json!({"action":"send","conversationId":room,"content":"to everyone","clientMsgId":crate::client::fresh_client_msg_id()});
        owner_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
        let waiters = sockets.iter_mut().map(|ws| async move {
            recv_type_within(ws, "message.new", Duration::from_secs(120)).await;
            Instant::now()
        });
        let owner_done = async {
            recv_type_within(&mut owner_ws, "message.sent", Duration::from_secs(120)).await;
            Instant::now()
        };
        let (owner_done, done) = tokio::join!(owner_done, futures::future::join_all(waiters));
        sent.push(ms(owner_done.duration_since(t)));
        all.push(ms(done.iter().map(|d| d.duration_since(t)).max().unwrap_or_default()));
        requests = bench.proxy.take_counts();
    }
    // One more send, priced (the pricer's own reads would distort the timed ones).
    bench.proxy.pricing.take();
    bench.proxy.pricing.set_enabled(true);
    let frame = json!({"action":"send","conversationId":room,"content":"to everyone","clientMsgId":crate::client::fresh_client_msg_id()});
    owner_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
    let waiters = sockets.iter_mut().map(|ws| recv_type_within(ws, "message.new", Duration::from_secs(120)));
    futures::future::join_all(waiters).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    bench.proxy.pricing.set_enabled(false);
    let units = bench.proxy.pricing.take();
    Fanout { samples: rounds, sent_ms: median(sent), all_ms: median(all), requests, units }
}
