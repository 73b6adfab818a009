//! Init time of each function binary: process start → its first poll of the Runtime API
//! (`GET /2018-06-01/runtime/invocation/next`), served here by a stand-in that never answers, so
//! the process is killed there. Interleaved rounds (every binary once per round) against two
//! baselines built with the same profile: an empty `lambda_runtime` function and one that also
//! builds the AWS SDK's config and a DynamoDB client. Binaries are looked up beside the bench's
//! own executable (`make bench` builds them first). With `CHAT_BENCH_INIT_BEFORE=<dir>`, the
//! binaries of that directory (an earlier build, say) run in the same rounds as `<name> (before)`,
//! so a change is measured side by side with what it replaced; `CHAT_BENCH_ONLY=init` writes the
//! table to bench/init-after.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use tokio::sync::Notify;

use crate::client::median;

pub const ROUNDS: usize = 41;

/// The functions of template.yaml (the registry's list, so a new function is never left out),
/// then the two baselines.
fn binaries() -> Vec<&'static str> {
    chat_local::local::ChatFunctions::binaries().chain(["init-empty", "init-sdk"]).collect()
}

pub struct Init {
    pub name: String,
    pub median_ms: f64,
}

/// Every binary to start, by the name it is reported under: those beside the bench, then those
/// of `CHAT_BENCH_INIT_BEFORE`. Binaries that are not built are left out.
fn candidates() -> Vec<(String, PathBuf)> {
    let exe = std::env::current_exe().expect("bench executable");
    let here = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    let before = std::env::var_os("CHAT_BENCH_INIT_BEFORE").map(PathBuf::from);
    let mut out: Vec<(String, PathBuf)> = binaries().into_iter().map(|b| (b.to_string(), here.join(b))).collect();
    if let Some(dir) = before {
        out.extend(binaries().into_iter().map(|b| (format!("{b} (before)"), dir.join(b))));
    }
    out.retain(|(_, path)| path.is_file());
    out
}

/// Median init per binary; binaries that are not built are left out.
pub async fn measure() -> Vec<Init> {
    let polled = Arc::new(Notify::new());
    let notify = polled.clone();
    let router = Router::new().fallback(move || {
        let notify = notify.clone();
        async move {
            notify.notify_one();
            // Never answer: the process is killed once its poll is seen.
            tokio::time::sleep(Duration::from_secs(60)).await;
            ""
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the runtime API");
    let api = listener.local_addr().expect("runtime API address").to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let present = candidates();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); present.len()];
    for _ in 0..ROUNDS {
        for (i, (name, path)) in present.iter().enumerate() {
            let mut command = tokio::process::Command::new(path);
            command
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", &api)
                .env("AWS_LAMBDA_FUNCTION_NAME", name)
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "bench")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env("CHAT_TABLE", "chat-bench")
                .env("CHAT_JWT_SECRET", chat_local::local::DEV_JWT_SECRET)
                .env("CHAT_QUEUE_URL", "http://127.0.0.1:1/queue")
                .env("CHAT_MANAGEMENT_ENDPOINT", "http://127.0.0.1:1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true);
            let started = Instant::now();
            let Ok(mut child) = command.spawn() else { continue };
            let seen = tokio::time::timeout(Duration::from_secs(10), polled.notified()).await;
            let elapsed = started.elapsed();
            let _ = child.kill().await;
            if seen.is_ok() {
                samples[i].push(elapsed.as_secs_f64() * 1000.0);
            }
        }
    }
    present
        .into_iter()
        .zip(samples)
        .filter(|(_, s)| !s.is_empty())
        .map(|((name, _), s)| Init { name, median_ms: median(s) })
        .collect()
}

pub fn render(inits: &[Init]) -> String {
    let base = |name: &str| inits.iter().find(|i| i.name == name).map(|i| i.median_ms).unwrap_or(f64::NAN);
    let (empty, sdk) = (base("init-empty"), base("init-sdk"));
    let mut out = format!(
        "## Init per function\n\nProcess start → first Runtime API poll, median of {ROUNDS} interleaved rounds, {} build, against an empty `lambda_runtime` function and one that builds aws-config + a DynamoDB client (SDK defaults), same profile.\n\n| binary | init ms | × empty | × SDK baseline |\n|---|---|---|---|\n",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    for i in inits {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} |\n",
            i.name,
            i.median_ms,
            i.median_ms / empty,
            i.median_ms / sdk
        ));
    }
    out
}
