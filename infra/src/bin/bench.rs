//! `make bench`: measures the backend through the local gateway against moto, with a proxy in
//! between that counts every AWS request (by operation) and can add a fixed delay to each.
//!
//! - Sequential AWS round trips per route: (median latency with delay D − median without) / D,
//!   against the minimum the data model allows.
//! - AWS requests per operation, DynamoDB units and the cost per million messages they imply.
//! - End-to-end latency (p50/p99) and throughput of `send` with many clients, against `ping`
//!   (the gateway and function path with no AWS call) in the same run.
//!
//! Prints a Markdown report and writes it to bench/results.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chat::Config;
use chat_local::aws_proxy::AwsProxy;
use chat_local::emulator::{Moto, default_venv, free_port};
use chat_local::local::{self, LocalBackend};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const DELAY_MS: u64 = 50;
/// Requests of the local SQS event-source pollers, which run whatever the bench does.
const SQS_POLLING: [&str; 2] = ["ReceiveMessage", "DeleteMessageBatch"];
const SAMPLES: usize = 9;

struct Bench {
    backend: LocalBackend,
    proxy: Arc<AwsProxy>,
    http: reqwest::Client,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct User {
    id: String,
    username: String,
    access: String,
    refresh: String,
}

impl Bench {
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request =
            self.http.request(method.parse().unwrap(), format!("{}{path}", self.backend.gateway.http_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn register(&self, name: &str) -> User {
        let username = format!("{name}_{}", &chat::domain::new_id()[18..].to_lowercase());
        let body =
            json!({"username": username, "email": format!("{username}@example.com"), "password": "bench-password"});
        let (status, answer) = self.call("POST", "/auth/register", None, Some(body)).await;
        assert_eq!(status, 201, "{answer}");
        User {
            id: answer["user"]["id"].as_str().unwrap().into(),
            username,
            access: answer["accessToken"].as_str().unwrap().into(),
            refresh: answer["refreshToken"].as_str().unwrap().into(),
        }
    }

    async fn connect_owned(&self, token: String) -> Socket {
        self.connect(&token).await
    }

    async fn connect(&self, token: &str) -> Socket {
        let url = format!("{}/?token={token}", self.backend.gateway.ws_url());
        tokio_tungstenite::connect_async(url).await.expect("handshake").0
    }
}

async fn recv_type(ws: &mut Socket, kind: &str) -> Value {
    recv_type_within(ws, kind, Duration::from_secs(10)).await
}

async fn recv_type_within(ws: &mut Socket, kind: &str, wait: Duration) -> Value {
    loop {
        let frame = tokio::time::timeout(wait, ws.next()).await.expect("event in time");
        if let Some(Ok(Message::Text(text))) = frame {
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == kind {
                return event;
            }
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    // The gateway logs every request at info: the bench's own progress lines are what matter here.
    chat::telemetry::init_pretty_logs_at("warn");
    let started = Instant::now();
    eprintln!("bench: starting moto, the counting proxy and the gateway");
    let moto = Moto::start(&default_venv(), free_port()).expect("moto");
    let (proxy, proxy_url) = AwsProxy::start(&moto.endpoint).await;

    let config = Config::from_lookup(|k| match k {
        "CHAT_TABLE" => Some("chat-bench".into()),
        "CHAT_JWT_SECRET" => Some(local::DEV_JWT_SECRET.into()),
        // Limits stay on (their checks are part of each route's cost) but high enough that the
        // bench's own traffic from one address and one account is never refused.
        "CHAT_WS_RATE_PER_MIN" | "CHAT_AUTH_RATE_PER_IP_PER_MIN" | "CHAT_LOGIN_RATE_PER_ACCOUNT_PER_15MIN" => {
            Some("1000000".into())
        }
        _ => None,
    })
    .unwrap();
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let backend = local::start(&template, &proxy_url, config, ws, http).await.expect("backend");
    let bench = Bench { backend, proxy: proxy.clone(), http: reqwest::Client::new() };

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

    // `CHAT_BENCH_ONLY=fanout`: just the big-room measurement (it takes minutes on its own).
    if std::env::var("CHAT_BENCH_ONLY").as_deref() == Ok("fanout") {
        let size: usize = std::env::var("CHAT_BENCH_ROOM_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        let f = room_fanout(&bench, size).await;
        println!(
            "fan-out to {size} members: message.sent {:.0} ms, last member {:.0} ms (median of {}); requests {:?}",
            f.sent_ms, f.all_ms, f.samples, f.requests
        );
        return;
    }

    // ---- sequential round trips and requests per route
    let mut counter = 0u64;
    let mut refresh = ann.refresh.clone();
    let mut rows = Vec::new();
    let routes: [(&str, u32); 16] = [
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
    ];
    for (name, minimum) in routes {
        let mut by_delay = Vec::new();
        let mut requests = BTreeMap::new();
        for delay in [0, DELAY_MS] {
            proxy.delay_ms.store(delay, Ordering::Relaxed);
            let mut samples = Vec::new();
            for i in 0..SAMPLES {
                counter += 1;
                proxy.take_counts();
                let t = Instant::now();
                match name {
                    n if n.starts_with("ws send") => {
                        let frame = json!({"action":"send","conversationId":conversation,"content":"bench","clientMsgId":format!("b{counter}")});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        if n.ends_with("message.sent") {
                            recv_type(&mut ann_ws, "message.sent").await;
                            samples.push(ms(t.elapsed()));
                            recv_type(&mut bob_ws, "message.new").await;
                        } else {
                            recv_type(&mut bob_ws, "message.new").await;
                            samples.push(ms(t.elapsed()));
                            recv_type(&mut ann_ws, "message.sent").await;
                        }
                    }
                    "ws ping → pong" => {
                        ann_ws.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
                        recv_type(&mut ann_ws, "pong").await;
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
                        let frame = json!({"action":"send","conversationId":group,"content":"bench","clientMsgId":format!("g{counter}")});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(&mut bob_ws, "message.new").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(&mut ann_ws, "message.sent").await;
                    }
                    "ws read (direct) → sender's receipt" => {
                        // a fresh message each time, so the pointer moves and the sender is told
                        let frame = json!({"action":"send","conversationId":conversation,"content":"r","clientMsgId":format!("r{counter}")});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        let id =
                            recv_type(&mut ann_ws, "message.sent").await["message"]["id"].as_str().unwrap().to_string();
                        recv_type(&mut bob_ws, "message.new").await;
                        proxy.take_counts();
                        let t = Instant::now();
                        let frame = json!({"action":"read","conversationId":conversation,"messageId":id});
                        bob_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(&mut ann_ws, "receipt").await;
                        samples.push(ms(t.elapsed()));
                        recv_type(&mut bob_ws, "receipt").await;
                    }
                    "ws typing (group) → member's typing" => {
                        let frame = json!({"action":"typing","conversationId":group,"state":"start"});
                        ann_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                        recv_type(&mut bob_ws, "typing").await;
                        samples.push(ms(t.elapsed()));
                    }
                    "ws sync (2 conversations) → sync" => {
                        bob_ws.send(Message::Text(r#"{"action":"sync","limit":20}"#.into())).await.unwrap();
                        recv_type(&mut bob_ws, "sync").await;
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
                        let body = json!({"content": "bench", "clientMsgId": format!("h{counter}")});
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
                        recv_type(&mut bob_ws, "message.new").await;
                        recv_type(&mut ann_ws, "message.new").await;
                    }
                }
                if delay == 0 && i == SAMPLES - 1 {
                    requests = proxy.take_counts();
                }
            }
            by_delay.push(median(samples));
        }
        let waves = (by_delay[1] - by_delay[0]) / DELAY_MS as f64;
        // The local SQS pollers of the scheduler run in the background: not this route's requests.
        let requests = requests
            .iter()
            .filter(|(op, _)| !SQS_POLLING.contains(&op.as_str()))
            .map(|(op, n)| format!("{op}×{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(format!(
            "| {name} | {:.1} | {:.1} | **{waves:.2}** | {minimum} | {} |",
            by_delay[0],
            by_delay[1],
            if requests.is_empty() { "–".to_string() } else { requests }
        ));
        eprintln!("bench: {name}: {waves:.2} round trips");
    }
    proxy.delay_ms.store(0, Ordering::Relaxed);

    // ---- load: pairs of users, each sender waits for message.sent before its next message
    let pairs = 10;
    let per_sender = 40;
    eprintln!("bench: load, {pairs} senders × {per_sender} messages to {pairs} receivers");
    // Set-up first (users, direct conversations, sockets), so the counts below are per message only.
    let mut peers = Vec::new();
    for p in 0..pairs {
        let a = bench.register(&format!("la{p}")).await;
        let b = bench.register(&format!("lb{p}")).await;
        let (s, _) =
            bench.call("POST", "/conversations", Some(&a.access), Some(json!({"type":"direct","userId":b.id}))).await;
        assert_eq!(s, 201);
        let a_ws = bench.connect(&a.access).await;
        let b_ws = bench.connect(&b.access).await;
        peers.push((b.id, a_ws, b_ws));
    }
    bench.proxy.take_counts();
    let load_start = Instant::now();
    let mut tasks = Vec::new();
    for (to, mut a_ws, mut b_ws) in peers {
        tasks.push(tokio::spawn(async move {
            let reader = tokio::spawn(async move {
                for _ in 0..per_sender {
                    recv_type(&mut b_ws, "message.new").await;
                }
                per_sender
            });
            let mut latencies = Vec::new();
            let mut pings = Vec::new();
            for i in 0..per_sender {
                let t = Instant::now();
                let frame =
                    json!({"action":"send","to":to,"content":format!("load {i}"),"clientMsgId":format!("l{i}")});
                a_ws.send(Message::Text(frame.to_string().into())).await.unwrap();
                recv_type(&mut a_ws, "message.sent").await;
                latencies.push(ms(t.elapsed()));
                if i % 4 == 0 {
                    let t = Instant::now();
                    a_ws.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
                    recv_type(&mut a_ws, "pong").await;
                    pings.push(ms(t.elapsed()));
                }
            }
            // events pushed for the messages: one message.sent per send, plus what the receiver got
            let pushed = per_sender + reader.await.unwrap();
            (latencies, pings, pushed)
        }));
    }
    let mut latencies = Vec::new();
    let mut pings = Vec::new();
    let mut pushed = 0usize;
    for task in tasks {
        let (l, p, n) = task.await.unwrap();
        latencies.extend(l);
        pings.extend(p);
        pushed += n;
    }
    let elapsed = load_start.elapsed().as_secs_f64();
    let counts = bench.proxy.take_counts();
    let messages = (pairs * per_sender) as f64;

    // ---- fan-out: one message to a big room, every member online
    let room_size: usize = std::env::var("CHAT_BENCH_ROOM_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    eprintln!("bench: fan-out to a {room_size}-member room (set-up: members written straight to the table)");
    let fanout = room_fanout(&bench, room_size).await;
    eprintln!(
        "bench: fan-out medians {:.0} ms to message.sent, {:.0} ms to the last member",
        fanout.sent_ms, fanout.all_ms
    );

    // ---- cost per message (direct, 2 members, one connection each), from the counts above
    let mut report = String::new();
    report.push_str(&format!(
        "# Benchmark\n\nMachine: {} cores; moto server on loopback; release build: {}. Run took {:.0} s.\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        !cfg!(debug_assertions),
        started.elapsed().as_secs_f64()
    ));
    report.push_str(&format!(
        "## Sequential AWS round trips per route\n\nA proxy adds {DELAY_MS} ms to every AWS request; round trips = (median with delay − median without) / {DELAY_MS} ms, {SAMPLES} samples each. \"Minimum\" is what the data model allows (docs/data-model.md).\n\n| route | median ms, no delay | median ms, +{DELAY_MS} ms/request | round trips | minimum | AWS requests (one call) |\n|---|---|---|---|---|---|\n"
    ));
    for row in &rows {
        report.push_str(row);
        report.push('\n');
    }
    report.push_str(&format!(
        "\n## Load through the local gateway\n\n{pairs} senders, each sending {per_sender} direct messages one after another (waiting for `message.sent`), {pairs} receivers; a `ping` every 4th message as the no-AWS baseline. moto serialises its requests (a few ms each here), so this measures the emulator ceiling more than the functions; the round-trip table above is the functions' own cost.\n\n| measure | value |\n|---|---|\n| messages | {messages} in {elapsed:.2} s = **{:.0} messages/s** |\n| `send` → `message.sent` p50 / p99 | {:.1} ms / {:.1} ms |\n| `ping` → `pong` p50 / p99 | {:.1} ms / {:.1} ms |\n| send p50 ÷ ping p50 | {:.1}× |\n",
        messages / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&pings, 0.5),
        percentile(&pings, 0.99),
        percentile(&latencies, 0.5) / percentile(&pings, 0.5),
    ));
    let posts = pushed as f64 / messages;
    let mut per_op = String::new();
    for (op, n) in counts.iter().filter(|(op, _)| !SQS_POLLING.contains(&op.as_str())) {
        per_op.push_str(&format!("| {op} | {:.2} |\n", *n as f64 / messages));
    }
    report.push_str(&format!(
        "\n## AWS requests and cost per message (direct, 2 members, 1 connection each)\n\nCounted by the proxy during the load phase only (set-up excluded; the scheduler's SQS polling left out); pushes counted as the events the clients received. TransactWriteItems: member check + message + idempotency record; BatchGetItem: both members' connection sets; UpdateItem: rate-limit window, the conversation's last message, the hourly message counter.\n\n| AWS request | per message |\n|---|---|\n{per_op}| Management API POST @connections | {posts:.2} |\n\n"
    ));
    // us-east-1 list prices: DynamoDB on-demand $0.625/M WRU, $0.125/M RRU; API Gateway WebSocket
    // $1.00/M messages; Lambda arm64 $0.20/M requests + $0.0000133334/GB-s.
    // 3 transactional items of ≤ 1 KB (2 WRU each), the rate-limit window, the conversation's
    // last message (≤ 1 KB for a short message), the hourly message counter.
    let wru = 9.0;
    let rru = 2.0; // two connection sets read strongly consistent
    let dynamo = (wru * 0.625 + rru * 0.125) / 1e6 * 1e6;
    let apigw_messages = 1.0 + posts; // the inbound frame + every push
    let apigw = apigw_messages * 1.0;
    let lambda = 0.20 + 0.25 * 0.030 * 13.3334; // 256 MB, 30 ms billed
    report.push_str(&format!(
        "Cost per million direct messages (list prices, us-east-1): DynamoDB {wru} WRU + {rru} RRU = ${dynamo:.2}; API Gateway {apigw_messages:.1} messages = ${apigw:.2}; Lambda (256 MB, ~30 ms) ${lambda:.2}; **total ≈ ${:.2}**. The AWS sample chat app scans the whole connections table per message instead (cost grows with every connected user).\n",
        dynamo + apigw + lambda
    ));
    report.push_str(&format!(
        "\n## Fan-out: one message to a {room_size}-member room, every member connected\n\nMedian of {} sends; members joined by writing their items (joining {room_size} members through the API would push `member.joined` to everyone already in, n² pushes, which is what the API does but not what is measured here). The members' connections are read as connection sets, 100 users per BatchGetItem, all requests at once; pushes go 64 at a time. Locally every AWS request goes through one moto process that serialises them.\n\n| measure | value |\n|---|---|\n| `send` → `message.sent` | {:.0} ms |\n| `send` → the last member's `message.new` | **{:.0} ms** |\n| AWS requests of one send | {:?} |\n| pushes of one send | {} |\n\nAPI Gateway's integration timeout is 29 s; the whole fan-out stays in the `send` invocation (no SQS hop) because it finishes in {:.1} % of that here, where every DynamoDB call queues behind the previous one in moto.\n",
        fanout.samples, fanout.sent_ms, fanout.all_ms, fanout.requests, room_size, fanout.all_ms / 290.0
    ));
    println!("{report}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench");
    std::fs::create_dir_all(&dir).ok();
    std::fs::write(dir.join("results.md"), &report).expect("write bench/results.md");
    eprintln!("bench: wrote bench/results.md");
    drop(moto);
}

struct Fanout {
    samples: usize,
    sent_ms: f64,
    all_ms: f64,
    requests: BTreeMap<String, u64>,
}

/// A room with `size` members (the owner and `size - 1` others written straight to the table),
/// all connected; the owner sends, and the clock stops when the last member has the message.
async fn room_fanout(bench: &Bench, size: usize) -> Fanout {
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
    for chunk in members.chunks(25) {
        let writes = chunk
            .iter()
            .map(|user| {
                let put = PutRequest::builder()
                    .item("pk", s(&format!("CONV#{room}")))
                    .item("sk", s(&format!("MEMBER#{user}")))
                    .item("gsi1pk", s(&format!("USER#{user}")))
                    .item("gsi1sk", s(&format!("CONV#{room}")))
                    .item("userId", s(user))
                    .item("role", s("member"))
                    .item("joinedAt", s("2026-01-01T00:00:00.000Z"))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
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
    let now = chrono::Utc::now().timestamp();
    let mut sockets = Vec::with_capacity(members.len());
    eprintln!("bench: connecting {} members", members.len());
    for chunk in members.chunks(50) {
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
    for round in 0..rounds {
        bench.proxy.take_counts();
        let t = Instant::now();
        let frame =
            json!({"action":"send","conversationId":room,"content":"to everyone","clientMsgId":format!("fan{round}")});
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
    Fanout { samples: rounds, sent_ms: median(sent), all_ms: median(all), requests }
}
