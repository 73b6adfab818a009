//! Stale presence: when many sockets dropped at once, `$disconnect`s failed, API Gateway never
//! retried them, and users showed online for good. Here a connection counts only while it is
//! recently active, and the sweep (template.yaml's `SweepSchedule`) removes the dead ones,
//! announces `offline` as the lost `$disconnect` would have, and leaves `/stats` right. The idle
//! window is shortened to seconds (idle 3 s + refresh 1 s) so the test runs in seconds.

use std::time::Duration;

use chat_local::aws_proxy::AwsProxy;
use chat_local::local::LocalOptions;
use serde_json::Value;

use crate::support::{TestEnv, Ws, aws_endpoint};

/// Pings every 400 ms for `how_long`: the connection stays active.
async fn keep_active(ws: &mut Ws, how_long: Duration) {
    let until = tokio::time::Instant::now() + how_long;
    while tokio::time::Instant::now() < until {
        ws.assert_alive().await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn sweep(env: &TestEnv) -> Value {
    let (status, body) = env.run_schedule("SweepSchedule").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["function"], "connection-sweeper");
    body["result"].clone()
}

async fn connection_set(env: &TestEnv, user_id: &str) -> Vec<String> {
    let item = env
        .dynamo
        .get_item()
        .table_name(&env.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user_id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("CONNSET".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get the connection set");
    item.item().and_then(|i| i.get("connectionIds")).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default()
}

#[tokio::test]
async fn connections_whose_disconnect_failed_go_offline_and_leave_the_counts() {
    let (proxy, url) = AwsProxy::start(&aws_endpoint()).await;
    // The test fires the sweep itself.
    let options = LocalOptions { clock: false, ..LocalOptions::default() };
    let env = TestEnv::start_on(
        &url,
        |key| match key {
            "CHAT_CONNECTION_IDLE_SECS" => Some("3".into()),
            "CHAT_CONNECTION_REFRESH_SECS" => Some("1".into()),
            _ => None,
        },
        options,
    )
    .await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let (bob_ws, bob_connection) = env.connect_with_id(&bob.access).await;
    proxy.fail_function("ws-disconnect", true);
    let online = ann_ws.recv_type("presence").await;
    assert_eq!((online["userId"].as_str(), online["online"].as_bool()), (Some(bob.id.as_str()), Some(true)));

    // bob's socket closes while every DynamoDB call of ws-disconnect fails (to the end of the
    // test: the SDK's own retries would otherwise succeed): the record stays.
    bob_ws.close().await;
    env.eventually("the gateway let bob's socket go", || async {
        !env.backend.gateway.open_connections().contains(&bob_connection)
    })
    .await;
    env.eventually("ws-disconnect failed", || async { proxy.faults().get("refused").copied().unwrap_or(0) > 0 }).await;
    assert_eq!(env.stored_connections(&bob.id).await, vec![bob_connection.clone()], "the $disconnect failed");

    // Past bob's idle window (ann stays active): every read already counts him gone.
    keep_active(&mut ann_ws, Duration::from_millis(4500)).await;
    let (_, seen) = env.call("GET", &format!("/users/{}", bob.id), Some(&ann.access), None).await;
    assert_eq!(seen["online"], false, "{seen}");
    let stats = env.stats(&ann.access).await;
    assert_eq!((stats["connections"].as_u64(), stats["onlineUsers"].as_u64()), (Some(1), Some(1)), "{stats}");

    // The sweep removes the dead record, and ann hears what the lost $disconnect never said.
    let report = sweep(&env).await;
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(report["offline"], 1, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    let offline = ann_ws.recv_type("presence").await;
    assert_eq!((offline["userId"].as_str(), offline["online"].as_bool()), (Some(bob.id.as_str()), Some(false)));
    assert!(env.stored_connections(&bob.id).await.is_empty());
    assert!(connection_set(&env, &bob.id).await.is_empty(), "the fan-out set forgets it too");
    assert_eq!(env.stored_connections(&ann.id).await.len(), 1, "an active connection is kept");
    let again = sweep(&env).await;
    eprintln!(
        "| presence: lost $disconnect | attempts 1 failed $disconnect ({} DynamoDB calls refused) | failures 0 (offline read and /stats right before the sweep) | lost 0 offline events | duplicated 0 (second sweep removed {}) |",
        proxy.faults().get("refused").copied().unwrap_or(0),
        again["removed"]
    );
    assert_eq!(again["removed"], 0, "nothing is swept twice");

    // A connection that was silent past the window but is open after all (a client that stopped
    // pinging): swept, then recorded again by its next frame.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(sweep(&env).await["removed"], 1);
    assert!(env.stored_connections(&ann.id).await.is_empty());
    ann_ws.assert_alive().await;
    env.eventually("ann's frame recorded her connection again", || async {
        env.stored_connections(&ann.id).await.len() == 1
    })
    .await;
    let stats = env.stats(&ann.access).await;
    assert_eq!((stats["connections"].as_u64(), stats["onlineUsers"].as_u64()), (Some(1), Some(1)), "{stats}");
}
