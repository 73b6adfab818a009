//! Off the send path (docs/events.md): the delay from `send` to the webhook's POST and to the push
//! function's SNS `Publish`, and the AWS requests the events and push functions make per message,
//! for a direct message to a member who is offline with one ios device. The bench's backend runs
//! with `WebhookUrl` set to [`Receiver`], a local HTTP server that records each POST.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use futures::SinkExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Bench, median, ms, percentile, recv_type};

pub const WEBHOOK_KEY: &str = "bench-webhook-key";
const SAMPLES: usize = 11;
const WAIT: Duration = Duration::from_secs(60);

/// A webhook receiver: each POST's arrival time and body; it answers 200 only with the key.
pub struct Receiver {
    pub url: String,
    arrivals: mpsc::UnboundedReceiver<(Instant, String)>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (tx, arrivals) = mpsc::unbounded_channel();
        let router = Router::new().route(
            "/",
            post(move |headers: HeaderMap, body: String| {
                let tx = tx.clone();
                async move {
                    if headers.get("x-chat-webhook-key").and_then(|v| v.to_str().ok()) != Some(WEBHOOK_KEY) {
                        return StatusCode::UNAUTHORIZED;
                    }
                    let _ = tx.send((Instant::now(), body));
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the webhook receiver");
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, arrivals }
    }

    /// The arrival of the first event whose body names `id`.
    async fn arrival_of(&mut self, id: &str) -> Instant {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (at, body) = tokio::time::timeout_at(deadline, self.arrivals.recv())
                .await
                .unwrap_or_else(|_| panic!("no webhook for {id}"))
                .expect("the receiver runs");
            if body.contains(id) && body.contains("message.created") {
                return at;
            }
        }
    }
}

pub struct Offpath {
    pub samples: usize,
    pub webhook_ms: (f64, f64),
    pub push_ms: (f64, f64),
    /// Requests per message, by function then operation.
    pub requests: BTreeMap<&'static str, BTreeMap<String, f64>>,
    /// The push function's DynamoDB units over all the samples.
    pub push_units: chat_local::pricing::Units,
}

/// Waits until the push function has made `n` SNS publishes in all; the time it saw the last.
async fn publishes_reach(bench: &Bench, n: u64) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        if bench.proxy.counts_of("push").get("Publish").copied().unwrap_or_default() >= n {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "the push function published no more than {n} - 1 times");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn measure(bench: &Bench, receiver: &mut Receiver) -> Offpath {
    eprintln!("bench: off the send path: {SAMPLES} messages to an offline member with a device");
    let ann = bench.register("offann").await;
    let off = bench.register("offline").await;
    let device = json!({"deviceId": "phone", "platform": "ios", "pushToken": format!("tok{}", off.id)});
    let (status, body) = bench.call("POST", "/me/devices", Some(&off.access), Some(device)).await;
    assert_eq!(status, 201, "{body}");
    let mut ws = bench.connect(&ann.access).await;
    let send = async |ws: &mut crate::client::Socket| {
        let frame = json!({"action":"send","to":off.id,"content":"are you there?","clientMsgId":crate::client::fresh_client_msg_id()});
        let t = Instant::now();
        ws.send(Message::Text(frame.to_string().into())).await.unwrap();
        let sent = recv_type(ws, "message.sent").await;
        (t, sent["message"]["id"].as_str().unwrap().to_string())
    };
    // A first message makes the device's endpoint (one write, once per token): not measured.
    let (_, first) = send(&mut ws).await;
    receiver.arrival_of(&first).await;
    publishes_reach(bench, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    bench.proxy.take_counts_of("events");
    bench.proxy.take_counts_of("push");
    let (mut webhook, mut push) = (Vec::new(), Vec::new());
    let mut published = bench.proxy.counts_of("push").get("Publish").copied().unwrap_or_default();
    bench.proxy.pricing.take();
    bench.proxy.pricing.set_enabled(true);
    for _ in 1..=SAMPLES {
        let (t, id) = send(&mut ws).await;
        published += 1;
        let (hook, pushed) = tokio::join!(receiver.arrival_of(&id), publishes_reach(bench, published));
        webhook.push(ms(hook.duration_since(t)));
        push.push(ms(pushed.duration_since(t)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    bench.proxy.pricing.set_enabled(false);
    let push_units = bench.proxy.pricing.take_of("push");
    let per_message = |counts: BTreeMap<String, u64>| {
        counts.into_iter().map(|(op, n)| (op, n as f64 / SAMPLES as f64)).collect::<BTreeMap<_, _>>()
    };
    let requests = BTreeMap::from([
        ("events", per_message(bench.proxy.take_counts_of("events"))),
        ("push", per_message(bench.proxy.take_counts_of("push"))),
    ]);
    let result = Offpath {
        samples: SAMPLES,
        webhook_ms: (median(webhook.clone()), percentile(&webhook, 0.9)),
        push_ms: (median(push.clone()), percentile(&push, 0.9)),
        requests,
        push_units,
    };
    eprintln!(
        "bench: send to webhook p50 {:.0} ms, to SNS Publish p50 {:.0} ms",
        result.webhook_ms.0, result.push_ms.0
    );
    result
}

/// The section of the report, with the list prices of docs/events.md.
pub fn render(o: &Offpath) -> String {
    let mut out = format!(
        "## Off the send path: events, webhook, push\n\n{} direct messages to a member offline with one ios device \
         (local: stream read every 250 ms, the mapping's 1 s batching window, the bus tap polled every 250 ms; {} build).\n\n\
         | from `send` to | p50 ms | p90 ms |\n|---|---|---|\n| the webhook's POST (stream, events function, bus, API destination) | {:.0} | {:.0} |\n\
         | SNS `Publish` (stream, events function, bus, push function) | {:.0} | {:.0} |\n\n\
         | function | AWS requests per message |\n|---|---|\n",
        o.samples,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        o.webhook_ms.0,
        o.webhook_ms.1,
        o.push_ms.0,
        o.push_ms.1
    );
    for (function, ops) in &o.requests {
        let list: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n:.2}")).collect();
        out.push_str(&format!("| {function} | {} |\n", list.join(", ")));
    }
    let n = o.samples as f64;
    out.push_str(&format!(
        "\nThe push function's DynamoDB units per message: {:.2} WRU, {:.2} RRU (${:.2} per million messages).\n",
        o.push_units.total_wru() / n,
        o.push_units.rru / n,
        o.push_units.dollars() * 1e6 / n
    ));
    out
}
