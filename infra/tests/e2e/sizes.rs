//! Every answer fits API Gateway's 128 KB per message: `sync` pages are cut by size as well as
//! by count (docs/protocol.md, "sync"), so a client that missed many long messages still gets
//! them all, page after page.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::TestEnv;

const API_GATEWAY_MESSAGE_BYTES: usize = 128 * 1024;

#[tokio::test]
async fn a_sync_of_many_long_messages_comes_in_pages_that_fit() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    // 40 messages of 4,000 characters (two bytes each in UTF-8): ~320 KB, far over one message.
    let long = "é".repeat(4000);
    let mut sent = BTreeSet::new();
    for i in 0..40 {
        let m = env.post_message(&ann, &conversation, &long, &format!("long-{i}")).await;
        sent.insert(m["id"].as_str().unwrap().to_string());
    }
    let mut bob_ws = env.connect(&bob.access).await;
    let mut got = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        assert!(page < 40, "sync never finished");
        let rid = format!("sync-{page}");
        let mut frame = json!({"action": "sync", "requestId": rid, "limit": 100});
        if let Some(c) = &cursor {
            frame["cursor"] = json!(c);
        }
        bob_ws.send(frame).await;
        let answer = bob_ws.recv_type("sync").await;
        assert_eq!(answer["requestId"], rid.as_str());
        assert!(answer.to_string().len() <= API_GATEWAY_MESSAGE_BYTES, "page {page} over 128 KB");
        for m in answer["messages"].as_array().unwrap() {
            assert!(got.insert(m["id"].as_str().unwrap().to_string()), "duplicate {m}");
        }
        if answer["hasMore"] != true {
            break;
        }
        cursor = answer["cursor"].as_str().map(str::to_string);
    }
    assert_eq!(got, sent, "every missed message arrives once");
    bob_ws.assert_alive().await;
}
