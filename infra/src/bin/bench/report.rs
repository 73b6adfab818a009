//! The Markdown report of a bench run (bench/results.md).

use std::time::Instant;

use crate::client::percentile;
use crate::fanout::Fanout;
use crate::load::Load;
use crate::round_trips::{DELAY_MS, PRICED_SAMPLES, Priced, SAMPLES, SQS_POLLING};

/// The priced units of each route (one table), from the proxy's pricer.
pub fn render_units(priced: &[Priced]) -> String {
    let mut out = format!(
        "## DynamoDB units per operation

Priced by the proxy from the items each request touched (infra/src/pricing.rs: AWS's on-demand rules, sizes read from the emulator before and after every write), mean of {PRICED_SAMPLES} calls each, everything the operation causes (writes after its answer included). $0.625 per million WRU, $0.125 per million RRU.

| operation | WRU table | WRU index | RRU | DynamoDB $ per million | by request (WRU/RRU) |\n|---|---|---|---|---|---|\n"
    );
    for p in priced {
        let dollars = ((p.wru + p.index_wru) * 0.625 + p.rru * 0.125) / 1e6 * 1e6;
        let by = p.by_operation.iter().map(|(op, (w, r))| format!("{op} {w:.2}/{r:.2}")).collect::<Vec<_>>().join(", ");
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {dollars:.2} | {by} |\n",
            p.name, p.wru, p.index_wru, p.rru
        ));
    }
    out
}

pub fn render(
    started: Instant,
    rows: &[String],
    priced: &[Priced],
    load: &Load,
    fanout: &Fanout,
    room_size: usize,
    // ws-send's warm median duration (ms) and MemorySize (MB), measured in process mode.
    send_function: Option<(f64, i64)>,
) -> String {
    let Load { pairs, per_sender, elapsed_secs: elapsed, latencies, pings, pushed, counts } = load;
    let messages = (pairs * per_sender) as f64;
    let mut report = String::new();
    report.push_str(&format!(
        "# Benchmark\n\nMachine: {} cores; moto server on loopback; release build: {}. Run took {:.0} s.\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        !cfg!(debug_assertions),
        started.elapsed().as_secs_f64()
    ));
    report.push_str(&format!(
        "## Sequential AWS round trips per route\n\nA proxy adds {DELAY_MS} ms to every AWS request; round trips by time = (median with delay − median without) / {DELAY_MS} ms, {SAMPLES} samples each (noisy: the emulator serialises requests); waves seen = the median, over the delayed samples, of how many of the function's requests ran one after another between the call and its answer, from the proxy's own timeline (aws_proxy.rs, `sequential_waves`): the figure to compare. \"Minimum\" is what the data model allows (docs/data-model.md).\n\n| route | median ms, no delay | median ms, +{DELAY_MS} ms/request | round trips by time | waves seen | minimum | AWS requests (one call) |\n|---|---|---|---|---|---|---|\n"
    ));
    for row in rows {
        report.push_str(row);
        report.push('\n');
    }
    report.push_str(&format!(
        "\n## Load through the local gateway\n\n{pairs} senders, each sending {per_sender} direct messages one after another (waiting for `message.sent`), {pairs} receivers; a `ping` every 4th message as the no-AWS baseline. moto serialises its requests (a few ms each here), so this measures the emulator ceiling more than the functions; the round-trip table above is the functions' own cost.\n\n| measure | value |\n|---|---|\n| messages | {messages} in {elapsed:.2} s = **{:.0} messages/s** |\n| `send` → `message.sent` p50 / p99 | {:.1} ms / {:.1} ms |\n| `ping` → `pong` p50 / p99 | {:.1} ms / {:.1} ms |\n| send p50 ÷ ping p50 | {:.1}× |\n",
        messages / elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        percentile(pings, 0.5),
        percentile(pings, 0.99),
        percentile(latencies, 0.5) / percentile(pings, 0.5),
    ));
    let posts = *pushed as f64 / messages;
    let mut per_op = String::new();
    for (op, n) in counts.iter().filter(|(op, _)| !SQS_POLLING.contains(&op.as_str())) {
        per_op.push_str(&format!("| {op} | {:.2} |\n", *n as f64 / messages));
    }
    report.push_str(&format!(
        "\n## AWS requests and cost per message (direct, 2 members, 1 connection each)\n\nCounted by the proxy during the load phase only (set-up excluded; the scheduler's SQS polling left out); pushes counted as the events the clients received. PutItem: the message (its id derived from the sender's fresh ULID clientMsgId, so no idempotency claim); BatchGetItem: the sender's member item and connection set (eventual); GetItem: the other member's connection set (consistent); UpdateItem: a rate-limit lease every 10 actions and a `/stats` counter batch now and then.\n\n| AWS request | per message |\n|---|---|\n{per_op}| Management API POST @connections | {posts:.2} |\n\n"
    ));
    report.push('\n');
    report.push_str(&render_units(priced));
    // us-east-1 list prices: DynamoDB on-demand $0.625/M WRU, $0.125/M RRU; API Gateway WebSocket
    // $1.00/M messages; Lambda arm64 $0.20/M requests + $0.0000133334/GB-s. The units are the
    // priced ones of a direct send (everything it writes, the amortised writes included).
    let send = priced.iter().find(|p| p.name.starts_with("ws send (direct) → message.sent"));
    let wru = send.map(|p| p.wru + p.index_wru).unwrap_or(f64::NAN);
    let rru = send.map(|p| p.rru).unwrap_or(f64::NAN);
    let dynamo = (wru * 0.625 + rru * 0.125) / 1e6 * 1e6;
    let apigw_messages = 1.0 + posts; // the inbound frame + every push
    let apigw = apigw_messages * 1.0;
    // Billed duration: the measured warm wall time rounded up to the next millisecond.
    let (send_ms, memory_mb) = send_function.unwrap_or((f64::NAN, 256));
    let billed_ms = send_ms.ceil();
    let lambda = 0.20 + memory_mb as f64 / 1024.0 * billed_ms / 1000.0 * 13.3334;
    report.push_str(&format!(
        "\nCost per million direct messages (list prices, us-east-1): DynamoDB {wru:.2} WRU + {rru:.2} RRU (priced above) = ${dynamo:.2}; API Gateway {apigw_messages:.1} messages = ${apigw:.2}; Lambda ($0.20 per million requests + ws-send at {memory_mb} MB for {billed_ms:.0} ms billed: its measured warm median {send_ms:.1} ms in process mode below, against moto on loopback; on AWS DynamoDB answers in a few ms too) ${lambda:.2}; **total ≈ ${:.2}**. The AWS sample chat app scans the whole connections table per message instead (cost grows with every connected user).\n",
        dynamo + apigw + lambda
    ));
    report.push_str(&format!(
        "\n## Fan-out: one message to a {room_size}-member room, every member connected\n\nMedian of {} sends; members joined by writing their items (joining {room_size} members through the API would push `member.joined` to everyone already in, n² pushes, which is what the API does but not what is measured here). The members' connections are read as connection sets, 100 users per BatchGetItem, all requests at once; pushes go 64 at a time. Locally every AWS request goes through one moto process that serialises them.\n\n| measure | value |\n|---|---|\n| `send` → `message.sent` | {:.0} ms |\n| `send` → the last member's `message.new` | **{:.0} ms** |\n| AWS requests of one send | {:?} |\n| pushes of one send | {} |\n| DynamoDB units of one send (priced) | {:.1} WRU + {:.1} RRU = ${:.5} per message, ${:.0} per million |\n\nAPI Gateway's integration timeout is 29 s; the whole fan-out stays in the `send` invocation (no SQS hop) because it finishes in {:.1} % of that here, where every DynamoDB call queues behind the previous one in moto.\n",
        fanout.samples, fanout.sent_ms, fanout.all_ms, fanout.requests, room_size, fanout.units.total_wru(), fanout.units.rru, fanout.units.dollars(), fanout.units.dollars() * 1e6, fanout.all_ms / 290.0
    ));
    report
}
