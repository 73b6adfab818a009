//! Load: pairs of users, each sender waiting for `message.sent` before its next message, with a
//! `ping` every 4th message as the baseline without AWS calls.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Bench, ms, recv_type};

pub struct Load {
    pub pairs: usize,
    pub per_sender: usize,
    pub elapsed_secs: f64,
    /// `send` → `message.sent`, in milliseconds.
    pub latencies: Vec<f64>,
    /// `ping` → `pong`, in milliseconds.
    pub pings: Vec<f64>,
    /// Events the clients received for the messages.
    pub pushed: usize,
    /// AWS requests during the load, by operation.
    pub counts: BTreeMap<String, u64>,
}

pub async fn measure(bench: &Bench) -> Load {
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
                    json!({"action":"send","to":to,"content":format!("load {i}"),"clientMsgId":crate::client::fresh_client_msg_id()});
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
    let elapsed_secs = load_start.elapsed().as_secs_f64();
    let counts = bench.proxy.take_counts();
    Load { pairs, per_sender, elapsed_secs, latencies, pings, pushed, counts }
}
