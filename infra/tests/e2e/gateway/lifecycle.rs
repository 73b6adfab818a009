//! Connection lifecycle and limits as API Gateway applies them: a client's close frame is answered
//! with its own code; a frame over 32 KB closes with 1009, a message over 128 KB too, a binary
//! frame with 1003; the idle timeout and the maximum duration close with 1001; every one of these
//! runs `$disconnect`.

use std::time::Duration;

use chat_local::gateway::ConnectionLimits;
use chat_local::local::LocalOptions;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::client::{CLOSE_WAIT, RawWs, open};
use crate::support::{TestEnv, TestUser};

async fn connected(env: &TestEnv, user: &TestUser) -> RawWs {
    let ws = open(&env.ws_url_with_token(&user.access), &[]).await.expect("handshake");
    assert_eq!(env.stored_connections(&user.id).await.len(), 1);
    ws
}

async fn disconnected(env: &TestEnv, user: &TestUser) {
    env.eventually("$disconnect removed the connection", || async {
        env.stored_connections(&user.id).await.is_empty()
    })
    .await;
}

fn code(frame: Option<CloseFrame>) -> u16 {
    u16::from(frame.expect("a close frame from the server").code)
}

#[tokio::test]
async fn a_clients_close_frame_is_answered_with_its_code() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let mut ws = connected(&env, &ann).await;
    let frame = CloseFrame { code: CloseCode::from(4000), reason: "bye".into() };
    ws.stream.send(Message::Close(Some(frame))).await.unwrap();
    let answer = ws.close_frame().await.expect("the close frame is answered (not 1006)");
    assert_eq!((u16::from(answer.code), answer.reason.as_str()), (4000, "bye"));
    disconnected(&env, &ann).await;

    // a plain close(1000), as browsers send it
    let mut ws = connected(&env, &ann).await;
    ws.stream.close(None).await.unwrap();
    let answer = tokio::time::timeout(CLOSE_WAIT, ws.stream.next()).await.expect("an answer");
    assert!(matches!(answer, Some(Ok(Message::Close(_)))), "a close without a code is answered too: {answer:?}");
    disconnected(&env, &ann).await;
}

#[tokio::test]
async fn a_frame_over_32_kb_closes_with_1009_and_a_binary_frame_with_1003() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let mut ws = connected(&env, &ann).await;
    let big = json!({"action": "ping", "pad": "x".repeat(32 * 1024)}).to_string();
    ws.send_text(&big).await;
    assert_eq!(code(ws.close_frame().await), 1009);
    disconnected(&env, &ann).await;

    let mut ws = connected(&env, &ann).await;
    ws.stream.send(Message::Binary(br#"{"action":"ping"}"#.to_vec().into())).await.unwrap();
    assert_eq!(code(ws.close_frame().await), 1003);
    disconnected(&env, &ann).await;
}

#[tokio::test]
async fn fragments_up_to_128_kb_reach_the_route_and_a_bigger_message_closes_with_1009() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let mut ws = connected(&env, &ann).await;
    // 33 KB in 16 KB frames: the gateway lets it through, the product's own limit answers
    let message = json!({"action": "ping", "requestId": "frag", "pad": "x".repeat(33 * 1024)}).to_string();
    ws.send_fragmented(&message, 16 * 1024).await;
    let answer: serde_json::Value = serde_json::from_str(&ws.next_text(CLOSE_WAIT).await.expect("an answer")).unwrap();
    assert_eq!(answer["code"], "payload_too_large", "{answer}");
    // a small fragmented message is routed like any other
    ws.send_fragmented(&json!({"action": "ping", "requestId": "small"}).to_string(), 5).await;
    let pong: serde_json::Value = serde_json::from_str(&ws.next_text(CLOSE_WAIT).await.expect("pong")).unwrap();
    assert_eq!((pong["type"].as_str(), pong["requestId"].as_str()), (Some("pong"), Some("small")));

    let huge = json!({"action": "ping", "pad": "x".repeat(129 * 1024)}).to_string();
    ws.send_fragmented(&huge, 30 * 1024).await;
    assert_eq!(code(ws.close_frame().await), 1009);
    disconnected(&env, &ann).await;
}

fn with_limits(idle: u64, max: u64) -> LocalOptions {
    let connection_limits =
        ConnectionLimits { idle_timeout: Duration::from_secs(idle), max_duration: Duration::from_secs(max) };
    LocalOptions { clock: false, connection_limits, ..Default::default() }
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_1001() {
    let env = TestEnv::start_with_options(|_| None, with_limits(1, 3600)).await;
    let ann = env.register("ann").await;
    let mut ws = connected(&env, &ann).await;
    assert_eq!(code(ws.close_frame().await), 1001);
    disconnected(&env, &ann).await;
}

#[tokio::test]
async fn a_busy_connection_is_closed_with_1001_at_its_maximum_duration() {
    let env = TestEnv::start_with_options(|_| None, with_limits(1, 3)).await;
    let ann = env.register("ann").await;
    let mut ws = connected(&env, &ann).await;
    let opened = tokio::time::Instant::now();
    // Traffic every 200 ms keeps it from idling; only the maximum duration can end it.
    let deadline = opened + CLOSE_WAIT;
    let frame = loop {
        assert!(tokio::time::Instant::now() < deadline, "the connection should have been closed");
        match tokio::time::timeout(Duration::from_millis(200), ws.stream.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => break None,
            Err(_) => ws.stream.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap(),
        }
    };
    assert_eq!(code(frame), 1001);
    assert!(opened.elapsed() >= Duration::from_secs(2), "closed by the maximum duration, not idling");
    disconnected(&env, &ann).await;
}
