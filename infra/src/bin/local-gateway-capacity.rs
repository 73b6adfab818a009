//! What the local gateway holds and where it starts throttling, measured against the real
//! `local-gateway` binary (what `make dev` runs) in a child process, with its defaults:
//! connections held open, the gateway's resident memory per 1,000 connections (its own RSS, read
//! from /proc; moto and the clients are other processes), and the share of WebSocket messages and
//! HTTP requests refused at each offered rate. `make bench-gateway` builds both and runs it;
//! `CHAT_CAPACITY_CONNECTIONS` (default 2000) sets how many connections to open. Never asserted:
//! a report only.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// How many users the connections are spread over.
const USERS: usize = 50;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Gateway {
    child: Child,
    http: String,
    ws: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn raise_fd_limit() {
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn start_gateway() -> Gateway {
    let exe = std::env::current_exe().expect("own path").with_file_name("local-gateway");
    let port = |_| chat_local::emulator::free_port().to_string();
    let (http_port, ws_port, moto_port) = (port(0), port(1), port(2));
    let state = std::env::temp_dir().join(format!("chat-capacity-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let child = Command::new(&exe)
        .env("CHAT_HTTP_PORT", &http_port)
        .env("CHAT_WS_PORT", &ws_port)
        .env("CHAT_MOTO_PORT", &moto_port)
        .env("CHAT_LOCAL_STATE_FILE", &state)
        .env("CHAT_LOCAL_SCHEDULES", "off")
        // many users register from one address here; the gateway's own limits stay the defaults
        .env("CHAT_AUTH_RATE_PER_IP_PER_MIN", "100000")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (build it: make bench-gateway)", exe.display()));
    let gateway =
        Gateway { child, http: format!("http://127.0.0.1:{http_port}"), ws: format!("ws://127.0.0.1:{ws_port}") };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.get(format!("{}/health", gateway.http)).send().await.map(|r| r.status().as_u16()).ok() != Some(200) {
        assert!(Instant::now() < deadline, "the gateway did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gateway
}

async fn register(client: &reqwest::Client, gateway: &Gateway, name: &str) -> String {
    let body = json!({"username": name, "email": format!("{name}@example.com"), "password": "capacity-pass-1"});
    let answer: Value =
        client.post(format!("{}/auth/register", gateway.http)).json(&body).send().await.unwrap().json().await.unwrap();
    answer["accessToken"].as_str().expect("registered").to_string()
}

/// Opens a connection, retrying while the `$connect` stage throttle answers 429.
async fn connect(url: &str) -> Socket {
    loop {
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => return socket,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Offers `rate` requests a second for `window`, spread over `send`; returns (sent, refused).
async fn offer<F, Fut>(rate: u32, window: Duration, send: F) -> (u32, u32)
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let total = (rate as f64 * window.as_secs_f64()) as u32;
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        tokio::time::sleep_until(start + gap * i).await;
        tasks.push(tokio::spawn(send(i)));
    }
    let refused = futures::future::join_all(tasks).await.into_iter().filter(|r| matches!(r, Ok(true))).count();
    (total, refused as u32)
}

#[tokio::main]
async fn main() {
    raise_fd_limit();
    let target: usize = std::env::var("CHAT_CAPACITY_CONNECTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let gateway = start_gateway().await;
    let pid = gateway.child.id();
    let client = reqwest::Client::new();
    // Connections spread over users, as real ones are (each `$connect` reads its user's connections).
    let mut urls = Vec::new();
    for i in 0..USERS {
        let token = register(&client, &gateway, &format!("capacity_{pid}_{i}")).await;
        urls.push(format!("{}/?token={token}", gateway.ws));
    }
    let url = urls[0].clone();

    let mut sockets = vec![connect(&url).await];
    let base = rss_kib(pid);
    let mut rows = vec![(1usize, base)];
    eprintln!("capacity: opening {target} connections (paced by the $connect throttle)");
    while sockets.len() < target {
        let batch = (target - sockets.len()).min(20);
        let first = sockets.len();
        sockets.extend(futures::future::join_all((0..batch).map(|i| connect(&urls[(first + i) % USERS]))).await);
        if sockets.len() % 500 == 0 || sockets.len() == target {
            rows.push((sockets.len(), rss_kib(pid)));
        }
    }
    // every connection still answers (a pong, or the stage's "Too Many Requests"): held, not
    // just accepted. Paced under the route's throttle so that most answers are pongs.
    let mut alive = 0;
    for chunk in sockets.chunks_mut(50) {
        for socket in chunk.iter_mut() {
            let _ = socket.send(Message::Text(r#"{"action":"ping"}"#.into())).await;
        }
        for socket in chunk.iter_mut() {
            if let Ok(Some(Ok(Message::Text(_)))) = tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                alive += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("## Local gateway capacity (local-gateway-capacity, the gateway's defaults)\n");
    println!("| connections open | gateway RSS (MiB) | per 1,000 connections (MiB) |\n|---:|---:|---:|");
    for (count, rss) in &rows {
        let per = if *count > 1 { (*rss as f64 - base as f64) / 1024.0 / (*count as f64 - 1.0) * 1000.0 } else { 0.0 };
        println!("| {count} | {:.1} | {per:.2} |", *rss as f64 / 1024.0);
    }
    println!("\nconnections held (each answered a ping): {alive} of {}\n", sockets.len());
    drop(sockets);

    // WebSocket stage throttling: pings from 20 connections at rising rates.
    let mut senders = Vec::new();
    for url in urls.iter().take(20) {
        let (sink, mut stream) = connect(url).await.split();
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = refused.clone();
        tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = stream.next().await {
                if text.contains("Too Many Requests") {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        senders.push((std::sync::Arc::new(tokio::sync::Mutex::new(sink)), refused));
    }
    println!("| offered rate (/s, 5 s) | WebSocket messages refused | HTTP requests refused |\n|---:|---:|---:|");
    for rate in [50u32, 100, 150, 200, 300, 500] {
        tokio::time::sleep(Duration::from_secs(3)).await; // let the buckets refill
        let before: u32 = senders.iter().map(|(_, r)| r.load(std::sync::atomic::Ordering::Relaxed)).sum();
        let sinks: Vec<_> = senders.iter().map(|(s, _)| s.clone()).collect();
        let (sent, _) = offer(rate, Duration::from_secs(5), |i| {
            let sink = sinks[i as usize % sinks.len()].clone();
            async move {
                let _ = sink.lock().await.send(Message::Text(r#"{"action":"ping"}"#.into())).await;
                false
            }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await; // the last answers
        let ws_refused: u32 =
            senders.iter().map(|(_, r)| r.load(std::sync::atomic::Ordering::Relaxed)).sum::<u32>() - before;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let health = format!("{}/health", gateway.http);
        let (http_sent, http_refused) = offer(rate, Duration::from_secs(5), |_| {
            let (client, health) = (client.clone(), health.clone());
            async move { client.get(health).send().await.map(|r| r.status().as_u16() == 429).unwrap_or(false) }
        })
        .await;
        println!(
            "| {rate} | {ws_refused} of {sent} ({:.0} %) | {http_refused} of {http_sent} ({:.0} %) |",
            100.0 * ws_refused as f64 / sent as f64,
            100.0 * http_refused as f64 / http_sent as f64
        );
    }
}
