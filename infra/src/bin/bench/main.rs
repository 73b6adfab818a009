//! `make bench`: measures the backend through the local gateway against moto, with a proxy in
//! between that counts every AWS request (by operation) and can add a fixed delay to each.
//!
//! - Sequential AWS round trips per route: (median latency with delay D − median without) / D,
//!   against the minimum the data model allows.
//! - AWS requests per operation, DynamoDB units and the cost per million messages they imply.
//! - End-to-end latency (p50/p99) and throughput of `send` with many clients, against `ping`
//!   (the gateway and function path with no AWS call) in the same run.
//! - The functions as processes (`CHAT_BENCH_ONLY=processes` alone): each one's cold-start init
//!   and resident memory after its invocations (processes.rs).
//!
//! Prints a Markdown report and writes it to bench/results.md.

mod client;
mod fanout;
mod init;
mod load;
mod memory;
mod offpath;
mod processes;
mod report;
mod round_trips;

use std::time::Instant;

use chat::Config;
use chat_local::aws_proxy::AwsProxy;
use chat_local::emulator::{Moto, default_venv};
use chat_local::local;

use client::Bench;
use fanout::room_fanout;
use round_trips::Scene;

#[tokio::main]
async fn main() {
    // The gateway logs every request at info: the bench's own progress lines are what matter here.
    chat::telemetry::init_pretty_logs_at("warn");
    let started = Instant::now();
    match std::env::var("CHAT_BENCH_ONLY").as_deref() {
        Ok("argon2-child") => return memory::child().await,
        Ok("memory") => return println!("{}", memory::render(&memory::measure())),
        Ok("init") => {
            let out = init::render(&init::measure().await);
            println!("{out}");
            return write_report("init-after.md", &out);
        }
        _ => {}
    }
    eprintln!("bench: starting moto, the counting proxy and the gateway");
    let moto = Moto::start_anywhere(&default_venv(), None).expect("moto");
    if std::env::var("CHAT_BENCH_ONLY").as_deref() == Ok("processes") {
        let bench = start(&moto.endpoint, "chat-bench-processes", process_mode(), None).await;
        let out = processes::render(&processes::measure(&bench).await);
        println!("{out}");
        write_report("processes.md", &out);
        return;
    }
    // Webhooks on, to a receiver of the bench's own (the off-path section times them).
    let mut receiver = offpath::Receiver::start().await;
    let bench = start(&moto.endpoint, "chat-bench", local::FunctionMode::InProcess, Some(&receiver.url)).await;

    let mut scene = Scene::set_up(&bench).await;

    // `CHAT_BENCH_ONLY=offpath`: the events, webhook and push section only (bench/events-push.md).
    if std::env::var("CHAT_BENCH_ONLY").as_deref() == Ok("offpath") {
        let section = offpath::render(&offpath::measure(&bench, &mut receiver).await);
        let out = format!("# Events, webhooks and push\n\n{section}");
        println!("{out}");
        write_report("events-push.md", &out);
        return;
    }

    // `CHAT_BENCH_ONLY=fanout`: just the big-room measurement (it takes minutes on its own).
    if std::env::var("CHAT_BENCH_ONLY").as_deref() == Ok("fanout") {
        let size = fanout::room_size();
        let f = room_fanout(&bench, size).await;
        println!(
            "fan-out to {size} members: message.sent {:.0} ms, last member {:.0} ms (median of {}); requests {:?}; one send priced {:.1} WRU + {:.1} RRU = ${:.0} per million",
            f.sent_ms,
            f.all_ms,
            f.samples,
            f.requests,
            f.units.total_wru(),
            f.units.rru,
            f.units.dollars() * 1e6
        );
        return;
    }

    let (rows, priced) = round_trips::measure(&bench, &mut scene).await;
    // `CHAT_BENCH_ONLY=units`: round trips and priced units only (bench/units.md).
    if std::env::var("CHAT_BENCH_ONLY").as_deref() == Ok("units") {
        let mut out = String::from(
            "# Round trips and units\n\n| route | median ms, no delay | median ms, +50 ms/request | round trips by time | waves seen | minimum | AWS requests (one call) |\n|---|---|---|---|---|---|---|\n",
        );
        for row in &rows {
            out.push_str(row);
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&report::render_units(&priced));
        println!("{out}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench");
        std::fs::write(dir.join("units.md"), &out).expect("write bench/units.md");
        return;
    }

    let load = load::measure(&bench).await;
    let offpath = offpath::render(&offpath::measure(&bench, &mut receiver).await);

    // ---- fan-out: one message to a big room, every member online
    let room_size = fanout::room_size();
    eprintln!("bench: fan-out to a {room_size}-member room (set-up: members written straight to the table)");
    let fanout = room_fanout(&bench, room_size).await;
    eprintln!(
        "bench: fan-out medians {:.0} ms to message.sent, {:.0} ms to the last member",
        fanout.sent_ms, fanout.all_ms
    );

    let memory = memory::render(&memory::measure()) + "\n" + &init::render(&init::measure().await);
    drop(bench);
    let process_bench = start(&moto.endpoint, "chat-bench-processes", process_mode(), None).await;
    let process_rows = processes::measure(&process_bench).await;
    let processes = processes::render(&process_rows);
    drop(process_bench);
    // The Lambda share of a message's cost from ws-send's measured warm duration and MemorySize.
    let send = process_rows.iter().find(|r| r.binary == "ws-send").map(|r| (r.warm_median_ms, r.memory_mb));
    let report = report::render(started, &rows, &priced, &load, &fanout, room_size, send)
        + "\n"
        + &offpath
        + "\n"
        + &memory
        + "\n"
        + &processes;
    println!("{report}");
    write_report("results.md", &report);
    eprintln!("bench: wrote bench/results.md");
    drop(moto);
}

/// The functions as the built binaries beside the bench (`make bench` builds them first).
fn process_mode() -> local::FunctionMode {
    local::FunctionMode::Process { dir: None }
}

fn write_report(name: &str, text: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench");
    std::fs::create_dir_all(&dir).ok();
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write bench/{name}: {e}"));
}

/// A backend on `table` behind a counting proxy in front of the emulator, with the stage limits
/// and the local account concurrency lifted: the bench measures the code, not API Gateway's
/// throttles (`make bench-gateway` measures where the defaults start refusing).
async fn start(endpoint: &str, table: &str, functions: local::FunctionMode, webhook: Option<&str>) -> Bench {
    let (proxy, proxy_url) = AwsProxy::start(endpoint).await;
    let config = Config::from_lookup(|k| match k {
        "CHAT_TABLE" => Some(table.into()),
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
    let mut options = local::LocalOptions { account_concurrency: 1000, functions, ..Default::default() };
    // Connecting a 1,000-member room takes minutes here: its first sockets must not reach the
    // 10-minute idle timeout before the message they wait for.
    options.connection_limits.idle_timeout = std::time::Duration::from_secs(7200);
    if let Some(url) = webhook {
        options.parameters.insert("WebhookUrl".to_string(), url.to_string());
        options.parameters.insert("WebhookKey".to_string(), offpath::WEBHOOK_KEY.to_string());
    }
    for name in [
        "WebSocketThrottlingRateLimit",
        "WebSocketThrottlingBurstLimit",
        "HttpThrottlingRateLimit",
        "HttpThrottlingBurstLimit",
        "WebSocketConnectThrottlingRateLimit",
        "WebSocketConnectThrottlingBurstLimit",
    ] {
        options.parameters.insert(name.to_string(), "100000".to_string());
    }
    let backend = local::start_with(&template, &proxy_url, config, ws, http, options).await.expect("backend");
    Bench { backend, proxy, http: reqwest::Client::new() }
}
