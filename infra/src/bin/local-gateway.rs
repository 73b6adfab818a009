//! `make dev`: the whole backend on this machine. Starts moto from the project venv unless
//! `AWS_ENDPOINT_URL` names an endpoint (LocalStack, say), creates the table and the queues from
//! template.yaml, serves the HTTP API and the WebSocket API, fires the schedule rules and polls the
//! SQS mappings until Ctrl-C.

use std::path::PathBuf;

use chat::Config;
use chat_local::emulator::{Moto, default_venv};
use chat_local::local::{self, DEV_JWT_SECRET};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() {
    chat::telemetry::init_pretty_logs();
    if let Err(message) = run().await {
        eprintln!("local-gateway: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let http_port: u16 = env_or("CHAT_HTTP_PORT", "3000").parse().map_err(|_| "CHAT_HTTP_PORT is not a port")?;
    let ws_port: u16 = env_or("CHAT_WS_PORT", "3001").parse().map_err(|_| "CHAT_WS_PORT is not a port")?;
    let template = PathBuf::from(env_or("CHAT_TEMPLATE", concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")));

    // Kept alive until main returns; dropping it stops the emulator.
    let mut moto = None;
    let endpoint = match std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()) {
        Some(endpoint) => {
            eprintln!("using the AWS endpoint {endpoint} (AWS_ENDPOINT_URL); no emulator started");
            endpoint
        }
        None => {
            let port: u16 = env_or("CHAT_MOTO_PORT", "4566").parse().map_err(|_| "CHAT_MOTO_PORT is not a port")?;
            eprintln!("starting moto server on 127.0.0.1:{port} ...");
            // Kept under .local/ of the checkout (`make dev-reset` deletes it to start empty).
            let state = std::env::var_os("CHAT_LOCAL_STATE_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.local/moto-state.jsonl")));
            eprintln!("emulator state {} (make dev-reset starts empty)", state.display());
            let server = Moto::start_with_state(&default_venv(), port, Some(&state))?;
            let endpoint = server.endpoint.clone();
            moto = Some(server);
            endpoint
        }
    };

    let secret_set = std::env::var("CHAT_JWT_SECRET").is_ok_and(|v| !v.is_empty());
    if !secret_set {
        eprintln!("CHAT_JWT_SECRET is not set: using a development secret (never do this on AWS)");
    }
    let config = Config::from_lookup(|key| match key {
        "CHAT_TABLE" => Some(env_or("CHAT_TABLE", "chat")),
        "CHAT_JWT_SECRET" if !secret_set => Some(DEV_JWT_SECRET.to_string()),
        _ => std::env::var(key).ok(),
    })
    .map_err(|e| e.message)?;

    let ws = tokio::net::TcpListener::bind(("127.0.0.1", ws_port))
        .await
        .map_err(|e| format!("WebSocket port {ws_port}: {e}"))?;
    let http = tokio::net::TcpListener::bind(("127.0.0.1", http_port))
        .await
        .map_err(|e| format!("HTTP port {http_port}: {e}"))?;
    let table = config.table.clone();
    let options = local::LocalOptions::from_env()?;
    let clock = options.clock;
    let backend = local::start_with(&template, &endpoint, config, ws, http, options).await?;
    println!("web client     {}/", backend.gateway.http_url());
    println!("HTTP API       {}", backend.gateway.http_url());
    println!("WebSocket API  {}/?token=<access token>", backend.gateway.ws_url());
    let management = backend.gateway.ws_url().replacen("ws://", "http://", 1);
    println!("@connections   {management}/{}/@connections/{{id}}", backend.gateway.stage());
    println!("AWS endpoint   {endpoint} (table {table})");
    for rule in backend.schedules.rules() {
        let state = if !rule.enabled {
            "disabled"
        } else if clock {
            "on the clock"
        } else {
            "clock off (CHAT_LOCAL_SCHEDULES)"
        };
        println!(
            "schedule       {} -> {} ({state}); fire now: POST {}/_local/schedules/{}/run",
            rule.name,
            rule.function,
            backend.gateway.http_url(),
            rule.name
        );
    }
    for queue in backend.queues.values() {
        println!("SQS queue      {} {}", queue.logical_id, queue.url);
    }
    println!("Ctrl-C stops everything this started.");

    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    eprintln!("stopping");
    drop(backend);
    drop(moto);
    Ok(())
}
