//! Data and recovery: `/health` reads the store and answers 503 saying what is down; the gateway
//! re-creates the table, its queues, stream, buses and platform applications when the emulator
//! comes back empty (a push after the restart proves the chain); with a state file the
//! emulator keeps its data across a restart (what `make dev` does under `.local/`). Each test runs
//! its own moto, so stopping it disturbs no other test.

use std::time::Duration;

use chat_local::emulator::{Moto, default_venv, free_port};
use chat_local::local::LocalOptions;
use serde_json::{Value, json};

use crate::support::TestEnv;

const RECOVERY_WAIT: Duration = Duration::from_secs(60);

fn options() -> LocalOptions {
    LocalOptions { clock: false, recovery_interval: Duration::from_millis(200), ..Default::default() }
}

/// Polls `GET /health` until its status is `want`; returns the body.
async fn health_becomes(env: &TestEnv, want: u16) -> Value {
    let deadline = tokio::time::Instant::now() + RECOVERY_WAIT;
    loop {
        let (status, body) = env.call("GET", "/health", None, None).await;
        if status == want {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "/health stayed {status} {body}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn health_says_the_store_is_down_and_the_gateway_recovers_when_the_emulator_returns() {
    let port = free_port();
    let moto = Moto::start(&default_venv(), port).expect("moto");
    let env = TestEnv::start_on(&moto.endpoint, |_| None, options()).await;
    env.register("ann").await;
    let body = health_becomes(&env, 200).await;
    assert_eq!(body["checks"]["store"]["status"], "ok", "{body}");

    drop(moto); // killed: every call to the endpoint fails now
    let body = health_becomes(&env, 503).await;
    assert_eq!((body["status"].as_str(), body["checks"]["store"]["status"].as_str()), (Some("down"), Some("down")));

    // back, empty, on the same port: the gateway re-creates the table and the queues by itself
    // (the table last but for its stream: wait for the stream too, which is enabled just after)
    let moto = Moto::start(&default_venv(), port).expect("moto again");
    health_becomes(&env, 200).await;
    env.eventually("the table's stream is back", || async {
        let table = env.dynamo.describe_table().table_name(&env.table).send().await.ok().and_then(|t| t.table);
        table.is_some_and(|t| t.stream_specification.is_some_and(|s| s.stream_enabled) && t.latest_stream_arn.is_some())
    })
    .await;
    env.register("bob").await;
    let sqs = env.sqs();
    for queue in env.backend.queues.values() {
        let url = sqs.get_queue_url().queue_name(&queue.name).send().await.expect("the queue is back").queue_url;
        assert_eq!(url.as_deref(), Some(queue.url.as_str()), "same name, same URL");
    }
    // and what hangs off the table works again: its stream, the bus, the push function and SNS
    // (an offline member's device gets the push of a message sent after the restart)
    let (cat, dan) = (env.register("cat").await, env.register("dan").await);
    let token = format!("tok{}", chat::domain::new_id());
    let device = json!({"deviceId": "d1", "platform": "ios", "pushToken": token});
    let (status, body) = env.call("POST", "/me/devices", Some(&dan.access), Some(device)).await;
    assert_eq!(status, 201, "{body}");
    let conversation = env.open_direct(&cat, &dan).await;
    env.post_message(&cat, &conversation, "after the restart", "r-1").await;
    let deadline = tokio::time::Instant::now() + RECOVERY_WAIT;
    loop {
        let data: Value =
            reqwest::get(format!("{}/moto-api/data.json", moto.endpoint)).await.unwrap().json().await.unwrap();
        let pushed = data["sns"]["PlatformEndpoint"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["token"] == token.as_str() && e["messages"].as_object().is_some_and(|m| !m.is_empty()));
        if pushed {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no push after the restart (stream, bus or platform apps)");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(env);
    drop(moto);
}

#[tokio::test]
async fn with_a_state_file_the_data_survives_an_emulator_restart() {
    let state = std::env::temp_dir().join(format!("chat-e2e-state-{}.jsonl", chat::domain::new_id()));
    let table = format!("chat-e2e-{}", chat::domain::new_id().to_lowercase());
    let with_table = |key: &str| (key == "CHAT_TABLE").then(|| table.clone());

    let moto = Moto::start_anywhere(&default_venv(), Some(&state)).expect("moto");
    let env = TestEnv::start_on(&moto.endpoint, with_table, options()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let message = env.post_message(&ann, &conversation, "kept", "kept-1").await;
    drop(env);
    drop(moto);

    let moto = Moto::start_anywhere(&default_venv(), Some(&state)).expect("moto from its state");
    let env = TestEnv::start_on(&moto.endpoint, with_table, options()).await;
    let (status, body) =
        env.call("POST", "/auth/login", None, Some(json!({"login": ann.username, "password": ann.password}))).await;
    assert_eq!(status, 200, "the user survived: {body}");
    let (status, page) =
        env.call("GET", &format!("/conversations/{conversation}/messages"), Some(&bob.access), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["messages"][0]["id"], message["id"], "the message survived: {page}");
    drop(env);
    drop(moto);
    let _ = std::fs::remove_file(&state);
}
