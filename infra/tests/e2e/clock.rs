//! Tests that wait for the wall clock, as the local EventBridge fires rules on it.

use std::time::Duration;

use chat_local::local::LocalOptions;

use crate::scheduled::{direct, fast, history, in_secs, schedule};
use crate::support::TestEnv;

/// The dispatcher's real `rate(1 minute)` rule on the wall clock. A message scheduled 70 s ahead
/// is picked up by the first firing (60 s after start, within the 60 s look-ahead) and held by
/// SQS until its time. Prints the delay between `sendAt` and delivery (no timing assertion).
#[tokio::test]
async fn the_dispatcher_fires_on_the_wall_clock() {
    let env = TestEnv::start_with_options(fast, LocalOptions::default()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let scheduled = schedule(&env, &ann, &conversation, "on the clock", &in_secs(70.0)).await;
    let send_at = chat::domain::schedule::parse_time(scheduled["sendAt"].as_str().unwrap()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    let message = loop {
        assert!(tokio::time::Instant::now() < deadline, "the clock never delivered it");
        if let Some(event) = bob_ws.try_recv(Duration::from_secs(5)).await
            && event["type"] == "message.new"
        {
            break event["message"].clone();
        }
    };
    let delay = chrono::Utc::now() - send_at;
    eprintln!("measure: sendAt -> live delivery with the rate(1 minute) clock: {} ms", delay.num_milliseconds());
    assert_eq!(message["content"], "on the clock");
    assert_eq!(history(&env, &bob, &conversation).await.len(), 1);
}
