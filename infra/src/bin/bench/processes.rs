//! Process mode (`CHAT_BENCH_ONLY=processes`, and part of `make bench`): the built function
//! binaries as processes behind the local gateway (`CHAT_LOCAL_FUNCTIONS=process`). Each round
//! retires every idle process and drives one session through the gateway (connect, send, read,
//! typing, ping, `GET /me`, both schedules, disconnect; the stream and bus consumers follow), so
//! every function it reaches starts cold; then warm traffic, after which each function's
//! processes have their resident memory read from /proc/<pid>/status.

use std::time::Duration;

use futures::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Bench, Socket, median, recv_type};

pub const COLD_ROUNDS: usize = 5;
pub const WARM_ITERATIONS: usize = 50;

async fn frame(ws: &mut Socket, value: Value) {
    ws.send(Message::Text(value.to_string().into())).await.expect("send a frame");
}

/// One session through every route, the schedules and (asynchronously) the event consumers.
async fn session(bench: &Bench, ann: &crate::client::User, bob: &crate::client::User, tag: &str) {
    let mut ann_ws = bench.connect(&ann.access).await;
    let mut bob_ws = bench.connect(&bob.access).await;
    frame(&mut ann_ws, json!({"action": "send", "to": bob.id, "content": tag, "clientMsgId": tag})).await;
    let message = recv_type(&mut ann_ws, "message.sent").await["message"].clone();
    recv_type(&mut bob_ws, "message.new").await;
    let (conversation, id) = (message["conversationId"].clone(), message["id"].clone());
    frame(&mut bob_ws, json!({"action": "read", "conversationId": conversation, "messageId": id})).await;
    recv_type(&mut ann_ws, "receipt").await;
    // Typing answers nothing to its sender and may be deduplicated for the reader: not awaited.
    frame(&mut ann_ws, json!({"action": "typing", "conversationId": conversation, "state": "start"})).await;
    frame(&mut ann_ws, json!({"action": "ping", "requestId": tag})).await;
    recv_type(&mut ann_ws, "pong").await;
    let (status, me) = bench.call("GET", "/me", Some(&ann.access), None).await;
    assert_eq!(status, 200, "{me}");
    for rule in bench.backend.schedules.rules() {
        let (status, answer) = bench.call("POST", &format!("/_local/schedules/{}/run", rule.name), None, None).await;
        if status != 200 {
            eprintln!("bench: schedule {} answered {status}: {answer}", rule.name);
        }
    }
    drop((ann_ws, bob_ws));
    // $disconnect, the stream's consumer and the bus's run after the client has its answers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

pub struct Row {
    pub binary: String,
    pub memory_mb: i64,
    pub cold_starts: usize,
    pub init_median_ms: f64,
    pub init_min_ms: f64,
    pub init_max_ms: f64,
    pub invocations: u64,
    pub processes: usize,
    pub rss_mib: f64,
    pub peak_mib: f64,
    /// CPU per warm invocation over the warm phase (None: too few invocations to say).
    pub cpu_ms_per_invocation: Option<f64>,
    pub warm_invocations: u64,
    /// Median wall time of a warm invocation (what Lambda bills, before rounding up to 1 ms).
    pub warm_median_ms: f64,
}

/// Invocations the warm phase must give a function for its CPU per invocation (the kernel counts
/// CPU in 10 ms ticks).
const MIN_CPU_SAMPLE: u64 = 20;

/// CPU used and invocations served during the warm phase by the processes alive at both reports.
fn warm_cpu(before: &[chat_local::process::FunctionReport], after: &chat_local::process::FunctionReport) -> (f64, u64) {
    let Some(earlier) = before.iter().find(|b| b.binary == after.binary) else { return (0.0, 0) };
    let mut cpu = 0.0;
    let mut invocations = 0;
    for now in &after.instances {
        if let Some(then) = earlier.instances.iter().find(|i| i.pid == now.pid) {
            cpu += now.cpu_ms - then.cpu_ms;
            invocations += now.invocations - then.invocations;
        }
    }
    (cpu, invocations)
}

pub async fn measure(bench: &Bench) -> Vec<Row> {
    let processes = bench.backend.processes.clone().expect("a process-mode backend");
    let ann = bench.register("ann").await;
    let bob = bench.register("bob").await;
    for round in 0..COLD_ROUNDS {
        eprintln!("bench: process mode, cold round {}/{COLD_ROUNDS}", round + 1);
        processes.retire_idle();
        session(bench, &ann, &bob, &format!("cold-{round}")).await;
    }
    eprintln!("bench: process mode, {WARM_ITERATIONS} warm sends and GET /me");
    let before = processes.report();
    let mut ann_ws = bench.connect(&ann.access).await;
    for i in 0..WARM_ITERATIONS {
        let tag = format!("warm-{i}");
        let cmid = crate::client::fresh_client_msg_id();
        frame(&mut ann_ws, json!({"action": "send", "to": bob.id, "content": tag, "clientMsgId": cmid})).await;
        recv_type(&mut ann_ws, "message.sent").await;
        bench.call("GET", "/me", Some(&ann.access), None).await;
    }
    drop(ann_ws);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    processes
        .report()
        .into_iter()
        .filter(|r| r.invocations > 0)
        .map(|r| {
            let (cpu_ms, warm_invocations) = warm_cpu(&before, &r);
            let mib = |kib: u64| kib as f64 / 1024.0;
            let inits = r.init_ms.clone();
            let min = inits.iter().copied().fold(f64::INFINITY, f64::min);
            let max = inits.iter().copied().fold(0.0, f64::max);
            Row {
                binary: r.binary,
                memory_mb: r.memory_mb,
                cold_starts: inits.len(),
                init_median_ms: if inits.is_empty() { f64::NAN } else { median(inits) },
                init_min_ms: min,
                init_max_ms: max,
                invocations: r.invocations,
                processes: r.instances.len(),
                rss_mib: r.instances.iter().map(|i| mib(i.rss_kib)).fold(0.0, f64::max),
                peak_mib: r.instances.iter().map(|i| mib(i.peak_kib)).fold(0.0, f64::max),
                cpu_ms_per_invocation: (warm_invocations >= MIN_CPU_SAMPLE).then(|| cpu_ms / warm_invocations as f64),
                warm_invocations,
                warm_median_ms: if r.warm_ms.is_empty() { f64::NAN } else { median(r.warm_ms.clone()) },
            }
        })
        .collect()
}

pub fn render(rows: &[Row]) -> String {
    let mut out = format!(
        "## Functions as processes (cold starts and memory)\n\nThe {} function binaries behind the local gateway in process mode (`CHAT_LOCAL_FUNCTIONS=process`), each execution environment a process polling its own Lambda Runtime API. {COLD_ROUNDS} rounds, each after retiring every idle process, of one session (connect, send, read, typing, ping, `GET /me`, both schedules, disconnect; the stream and bus consumers follow): init = spawn → first `invocation/next` poll, against moto. Then {WARM_ITERATIONS} warm sends and `GET /me`; RSS (`VmRSS`) and peak (`VmHWM`) of the function's largest live process after all of it.\n\nCPU per invocation: user + system time (`/proc/<pid>/stat`) the function's processes used during the warm phase ÷ the invocations they served then (functions with at least {MIN_CPU_SAMPLE}); warm duration: the median wall time of a warm invocation (event handed over → answer), the duration Lambda bills.\n\n| function | MemorySize | cold starts | init median ms | init min–max ms | invocations | live processes | RSS MiB | peak MiB | peak / MemorySize | CPU ms per warm invocation | warm duration median ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} MB | {} | {:.1} | {:.1}–{:.1} | {} | {} | {:.1} | {:.1} | {:.0} % | {} | {} |\n",
            r.binary,
            r.memory_mb,
            r.cold_starts,
            r.init_median_ms,
            r.init_min_ms,
            r.init_max_ms,
            r.invocations,
            r.processes,
            r.rss_mib,
            r.peak_mib,
            100.0 * r.peak_mib * 1.048576 / r.memory_mb as f64,
            r.cpu_ms_per_invocation
                .map_or_else(|| "–".to_string(), |c| format!("{c:.2} ({} calls)", r.warm_invocations)),
            if r.warm_median_ms.is_nan() { "–".to_string() } else { format!("{:.1}", r.warm_median_ms) },
        ));
    }
    out
}
